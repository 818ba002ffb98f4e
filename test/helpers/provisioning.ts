import path from 'node:path';
import { Harness, type HarnessOptions } from '../../agent/harness/harness';
import type { AgentStack } from './agent-stack';
import { gql } from './api';

/** Saves a profile version through GraphQL (engineer) and returns its id. */
export async function saveProfile(stack: AgentStack, name: string, document: unknown): Promise<string> {
  const res = await gql<{ saveProfile: { id: string } }>(
    stack.app,
    stack.tenant.tenantId,
    'mutation($n: String!, $d: String!) { saveProfile(name: $n, documentJson: $d) { id } }',
    { n: name, d: JSON.stringify(document) },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.saveProfile.id;
}

export interface FleetRunView {
  id: string;
  status: string;
  total: number;
  passed: number;
  failed: number;
  cancelled: number;
  progress: {
    state: string;
    queued: number;
    running: number;
    passed: number;
    failed: number;
    batches: number;
    recovered: number;
  } | null;
}

const FLEET_FIELDS =
  'id status total passed failed cancelled progress { state queued running passed failed batches recovered }';

export async function startFleetRun(
  stack: AgentStack,
  input: {
    profileId: string;
    concurrency?: number;
    siteIds?: string[];
    machineIds?: string[];
    tags?: string[];
  },
): Promise<FleetRunView> {
  const res = await gql<{ startFleetRun: FleetRunView }>(
    stack.app,
    stack.tenant.tenantId,
    `mutation($i: FleetRunStartInput!) { startFleetRun(input: $i) { ${FLEET_FIELDS} } }`,
    { i: input },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.startFleetRun;
}

export async function fleetRun(stack: AgentStack, id: string): Promise<FleetRunView> {
  const res = await gql<{ fleetRun: FleetRunView }>(
    stack.app,
    stack.tenant.tenantId,
    `query($id: ID!) { fleetRun(id: $id) { ${FLEET_FIELDS} } }`,
    { id },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.fleetRun;
}

/** Polls until `done(view)` or the timeout; returns the last view. */
export async function waitForFleet(
  stack: AgentStack,
  id: string,
  done: (f: FleetRunView) => boolean,
  timeoutMs = 240_000,
): Promise<FleetRunView> {
  const deadline = Date.now() + timeoutMs;
  let view = await fleetRun(stack, id);
  while (!done(view) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    view = await fleetRun(stack, id);
  }
  return view;
}

export interface MachineRunView {
  id: string;
  machineId: string;
  workflowId: string;
  seq: number | null;
  status: string;
  step: string | null;
  lastError: { type: string; message: string; step: string | null } | null;
  validation: { item: string; result: string; detail: string }[];
  profileVersion: number | null;
}

export async function fleetMachineRuns(stack: AgentStack, id: string): Promise<MachineRunView[]> {
  const res = await gql<{ fleetRun: { machineRuns: MachineRunView[] } }>(
    stack.app,
    stack.tenant.tenantId,
    `query($id: ID!) { fleetRun(id: $id) { machineRuns(first: 1000) {
       id machineId workflowId seq status step profileVersion lastError { type message step } validation { item result detail } } } }`,
    { id },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.fleetRun.machineRuns;
}

/** Simulated machines on the stack's API, enrolled. */
export async function enrolledFleet(
  stack: AgentStack,
  name: string,
  machines: number,
  extra: Partial<HarnessOptions> = {},
): Promise<Harness> {
  const key = await stack.issueEnrollmentKey();
  const harness = new Harness({
    apiUrl: stack.apiUrl,
    siteCode: stack.tenant.siteCode,
    enrollmentKey: key.key,
    fingerprint: key.fingerprint,
    machines,
    stateDir: path.join(stack.stateDir, name),
    pollSeconds: 5,
    bootDelayMs: 200,
    log: process.env.DEBUG_AGENTS ? (line) => console.log(line) : undefined,
    ...extra,
  });
  harness.start();
  const report = await harness.waitForEnrollment();
  if (report.failed > 0) throw new Error(`enrollment failed: ${JSON.stringify(report.failures)}`);
  return harness;
}

/** Every side effect on every machine happened exactly once (the hosts' own record, not logs). */
export function repeatedEffects(harness: Harness): string[] {
  const repeats: string[] = [];
  for (const m of harness.machines) {
    for (const [effect, count] of Object.entries(m.platform.snapshot.effects)) {
      if (count !== 1) repeats.push(`${m.name}: ${effect} ×${count}`);
    }
  }
  return repeats;
}
