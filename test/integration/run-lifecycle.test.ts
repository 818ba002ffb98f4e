import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { Harness } from '../../agent/harness/harness';
import { noFaults } from '../../agent/harness/faults';
import { claimTask, dispatchTask, taskForProgress } from '../../infra/db/agent-tasks';
import { repoRoot } from '../../infra/config/env';
import { withTenant } from '../../infra/db/orm';
import { recordMachineRun, startSingleRun } from '../../infra/provisioning/machine-runs';
import { MachineSchema } from '../../infra/db/entities';
import { Client } from '@temporalio/client';
import { MachineIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { AgentTaskKind, collectInventoryWorkflowId } from '../../workflows/machines/contracts';
import { fleetProgressQuery, type ProvisionMachineResult } from '../../workflows/provisioning/contracts';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import { adminQuery } from '../helpers/shared';
import {
  enrolledFleet,
  fleetMachineRuns,
  fleetRun,
  saveProfile,
  startFleetRun,
  waitForFleet,
} from '../helpers/provisioning';

/**
 * A run's life when Temporal, an engineer or the infrastructure acts on it instead of Drydock
 * (issue 11), on the real stack: agent tasks end with their runs, the offline limit and a step's
 * running time are separate budgets, task keys belong to one Temporal run, a fleet cancelled in the
 * Temporal UI and a run terminated there leave every row true, a reset run is not taken for a closed
 * one, and a three-minute database outage delays a fleet run without failing anything.
 */
jest.setTimeout(600_000);

let stack: AgentStack;
let profileId: string;
let lightProfileId: string;
const harnesses: Harness[] = [];
beforeAll(async () => {
  stack = await startAgentStack({
    PROVISION_RETRY_BACKOFF_SECONDS: '1',
    PROVISION_OFFLINE_LIMIT_SECONDS: '600',
    PROVISION_FAILED_HOLD_SECONDS: '600',
    PROVISION_FLEET_RECONCILE_SECONDS: '2',
  });
  profileId = await saveProfile(stack, 'Standard', {});
  lightProfileId = await saveProfile(stack, 'Light', {
    phases: {
      apps: { winget: [{ id: '7zip.7zip' }] },
      tweaks: { enabled: false },
      locale: { enabled: false },
    },
  });
});
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.stop()));
  await stack.close();
});

const q = <T>(query: string, variables: Record<string, unknown> = {}) =>
  gql<T>(stack.app, stack.tenant.tenantId, query, variables);

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`not reached: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
    v = await read();
  }
  return v;
}

const tasksOf = (workflowId: string) =>
  withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ status: string; kind: string; run_id: string; idempotency_key: string }[]>(
      `select status, kind, run_id, idempotency_key from agent_tasks where workflow_id = ? order by created_at`,
      [workflowId],
    ),
  );

async function provision(machineId: string, profile = profileId) {
  const res = await q<{ provisionMachine: { id: string; workflowId: string } }>(
    'mutation($m: ID!, $p: ID!) { provisionMachine(machineId: $m, profileId: $p) { id workflowId } }',
    { m: machineId, p: profile },
  );
  return res;
}

it('ends a cancelled run’s queued step with it: the returning machine never runs the stale step', async () => {
  const fleet = await enrolledFleet(stack, 'stale', 1);
  await fleet.stop(); // the laptop goes away
  const machine = fleet.machines[0]!;
  const started = await provision(machine.agent.machineId!);
  const run = started.data!.provisionMachine;
  await until(
    () => tasksOf(run.workflowId),
    (t) => t.some((x) => x.status === 'queued'),
  );
  await q('mutation($id: ID!) { controlMachineRun(id: $id, action: CANCEL) { id } }', { id: run.id });
  const result: ProvisionMachineResult = await stack.temporal.workflow.getHandle(run.workflowId).result();
  expect(result.outcome).toBe('cancelled');
  expect((await tasksOf(run.workflowId)).map((t) => t.status)).toEqual(['abandoned']);
  // Days later the laptop returns: it is offered nothing of that run.
  const back = await enrolledFleet(stack, 'stale', 1);
  harnesses.push(back);
  const key = (await back.machines[0]!.platform.loadProtected('agent-key'))!;
  const res = await fetch(`${stack.apiUrl}/v1/agent/tasks?wait=1`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(204);
  expect(Object.keys(back.machines[0]!.platform.snapshot.effects)).toEqual([]);
});

it('gives a step its whole running time after a long wait offline (two budgets, not one)', async () => {
  const fleet = await enrolledFleet(stack, 'budgets', 1);
  await fleet.stop();
  const machineId = fleet.machines[0]!.agent.machineId!;
  // Offline limit 4 s: the machine picks the step up after ~2 s, then the step takes 6 s.
  const handle = await stack.temporal.workflow.start('collectInventory', {
    taskQueue: stack.taskQueue,
    workflowId: collectInventoryWorkflowId(machineId, randomUUID()),
    args: [{ tenantId: stack.tenant.tenantId, machineId, offlineLimitSeconds: 4 }],
    typedSearchAttributes: [
      { key: TenantIdKey, value: stack.tenant.tenantId },
      { key: MachineIdKey, value: machineId },
    ],
  });
  await new Promise((r) => setTimeout(r, 2000));
  const slow = await enrolledFleet(stack, 'budgets', 1, { faults: { ...noFaults, slowMs: 6000 } });
  harnesses.push(slow);
  expect(await handle.result()).toMatchObject({ hostname: fleet.machines[0]!.platform.snapshot.hostname });
});

it('never hands out an expired task, and refuses a key already used by another kind of task', async () => {
  const fleet = await enrolledFleet(stack, 'expiry', 1);
  await fleet.stop();
  const machineId = fleet.machines[0]!.agent.machineId!;
  const dispatch = (key: string, kind: string, expiresAt: Date) =>
    dispatchTask(stack.orm, {
      tenantId: stack.tenant.tenantId,
      machineId,
      id: randomUUID(),
      kind,
      payload: {},
      idempotencyKey: key,
      workflowId: `wf-${key}`,
      runId: 'run-1',
      activityId: '1',
      taskToken: Buffer.from('t'),
      attempt: 1,
      deliverBy: expiresAt,
      expiresAt,
    });
  await dispatch('expired', AgentTaskKind.CollectInventory, new Date(Date.now() - 1000));
  expect(await claimTask(stack.orm, stack.tenant.tenantId, machineId)).toBeNull();
  const live = await dispatch('live', AgentTaskKind.CollectInventory, new Date(Date.now() + 60_000));
  expect(live).toMatchObject({ task: { status: 'queued' } });
  expect(await dispatch('live', 'system.reboot', new Date(Date.now() + 60_000))).toMatchObject({
    task: { status: 'conflict' },
  });
  expect(await claimTask(stack.orm, stack.tenant.tenantId, machineId)).toMatchObject({
    kind: 'inventory.collect',
  });
});

it('keeps progress flowing to the current attempt after a retry re-arms a delivered step', async () => {
  const fleet = await enrolledFleet(stack, 'rearm', 1);
  await fleet.stop();
  const machineId = fleet.machines[0]!.agent.machineId!;
  const arm = (attempt: number) =>
    dispatchTask(stack.orm, {
      tenantId: stack.tenant.tenantId,
      machineId,
      id: randomUUID(),
      kind: AgentTaskKind.CollectInventory,
      payload: {},
      idempotencyKey: 'wf:run:1',
      workflowId: 'wf',
      runId: 'run',
      activityId: '1',
      taskToken: Buffer.from(`token-${attempt}`),
      attempt,
      deliverBy: new Date(Date.now() + 60_000),
      expiresAt: new Date(Date.now() + 60_000),
    });
  await arm(1);
  const task = (await claimTask(stack.orm, stack.tenant.tenantId, machineId))!;
  await arm(2); // the activity timed out and retried while the machine works on the step
  // The machine's progress still reaches the activity: the current attempt's token, the task delivered.
  expect(await taskForProgress(stack.orm, stack.tenant.tenantId, machineId, task.id)).toEqual({
    status: 'delivered',
    taskToken: Buffer.from('token-2'),
  });
});

it('answers a reset run with its own results, not the old run’s (task keys name the Temporal run)', async () => {
  const fleet = await enrolledFleet(stack, 'reset-inventory', 1);
  harnesses.push(fleet);
  const machineId = fleet.machines[0]!.agent.machineId!;
  const workflowId = collectInventoryWorkflowId(machineId, randomUUID());
  const handle = await stack.temporal.workflow.start('collectInventory', {
    taskQueue: stack.taskQueue,
    workflowId,
    args: [{ tenantId: stack.tenant.tenantId, machineId }],
    typedSearchAttributes: [
      { key: TenantIdKey, value: stack.tenant.tenantId },
      { key: MachineIdKey, value: machineId },
    ],
  });
  await handle.result();
  const history = await handle.fetchHistory();
  if (process.env.DRYDOCK_RECORD_HISTORIES === '1')
    writeFileSync(
      path.join(repoRoot, 'test', 'histories', 'collect-inventory-completed.json'),
      `${historyToJSON(history)}\n`,
    );
  const firstTask = history.events!.find((e) => e.workflowTaskCompletedEventAttributes)!;
  const { runId } = await handle.describe();
  const reset = await stack.temporal.workflowService.resetWorkflowExecution({
    namespace: stack.temporal.options.namespace,
    workflowExecution: { workflowId, runId },
    reason: 'test: reset',
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: randomUUID(),
    resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
  });
  await stack.temporal.workflow.getHandle(workflowId, reset.runId!).result();
  const tasks = await tasksOf(workflowId);
  expect(tasks).toHaveLength(2);
  expect(new Set(tasks.map((t) => t.run_id))).toEqual(new Set([runId, reset.runId]));
  expect(tasks.every((t) => t.status === 'completed' && t.idempotency_key.includes(t.run_id))).toBe(true);
});

it('a run Temporal refuses to start leaves no row behind: the machine is free, its caller told in that transaction', async () => {
  const fleet = await enrolledFleet(stack, 'start-refused', 1);
  await fleet.stop();
  const machineId = fleet.machines[0]!.agent.machineId!;
  const machine = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.findOneOrFail(MachineSchema, { id: machineId }),
  );
  // A Temporal that refuses the start (a namespace it does not have), on the real server.
  const refusing = new Client({
    connection: stack.temporal.connection,
    namespace: `missing-${randomUUID()}`,
  });
  const failed: string[] = [];
  await expect(
    startSingleRun(stack.orm, refusing, {
      tenantId: stack.tenant.tenantId,
      machineId,
      siteId: machine.siteId,
      hostname: machine.hostname,
      profileId,
      createdBy: 'test',
      taskQueue: stack.taskQueue,
      options: {},
      onStartFailed: async (_em, run) => void failed.push(run.id),
    }),
  ).rejects.toThrow();
  expect(failed).toHaveLength(1);
  const rows = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ id: string }[]>(`select id from machine_runs where machine_id = ?`, [machineId]),
  );
  expect(rows).toEqual([]);
  // Nothing holds the machine: the next start goes through.
  const next = await provision(machineId);
  expect(next.errors).toBeUndefined();
  await stack.temporal.workflow.getHandle(next.data!.provisionMachine.workflowId).terminate('test done');
});

it('a run terminated in Temporal does not lock its machine: cancel heals it, a new run starts', async () => {
  const fleet = await enrolledFleet(stack, 'terminated', 1);
  await fleet.stop();
  const machineId = fleet.machines[0]!.agent.machineId!;
  const first = (await provision(machineId)).data!.provisionMachine;
  await until(
    () => tasksOf(first.workflowId),
    (t) => t.length > 0,
  );
  await stack.temporal.workflow.getHandle(first.workflowId).terminate('ended by an engineer');
  const cancel = await q('mutation($id: ID!) { controlMachineRun(id: $id, action: CANCEL) { id } }', {
    id: first.id,
  });
  expect(cancel.errors?.[0]?.extensions?.code).toBe('RUN_NOT_RUNNING');
  const row = await q<{ machineRun: { status: string; lastError: { type: string } } }>(
    'query($id: ID!) { machineRun(id: $id) { status lastError { type } } }',
    { id: first.id },
  );
  expect(row.data!.machineRun).toEqual({ status: 'failed', lastError: { type: 'RunClosed' } });
  expect((await tasksOf(first.workflowId)).map((t) => t.status)).toEqual(['abandoned']);
  // The terminated execution's activity may still be running: its late write leaves the row settled.
  const late = { tenantId: stack.tenant.tenantId, runId: first.id, status: 'running' as const, step: 'late' };
  const stale = await withTenant(stack.orm, stack.tenant.tenantId, (em) => recordMachineRun(em, late));
  expect(stale).toEqual({ repeat: false, settled: true });
  const after = await q<{ machineRun: { status: string } }>(
    'query($id: ID!) { machineRun(id: $id) { status } }',
    {
      id: first.id,
    },
  );
  expect(after.data!.machineRun.status).toBe('failed');
  // And terminated again: the next start heals it by itself.
  const second = (await provision(machineId)).data!.provisionMachine;
  await stack.temporal.workflow.getHandle(second.workflowId).terminate('ended again');
  const third = await provision(machineId);
  expect(third.errors).toBeUndefined();
  await stack.temporal.workflow.getHandle(third.data!.provisionMachine.workflowId).terminate('test done');
});

it('a machine run reset by an engineer keeps running: the fleet does not take it for closed, nor the machine for free', async () => {
  const fleet = await enrolledFleet(stack, 'reset-run', 1);
  await fleet.stop();
  const machineId = fleet.machines[0]!.agent.machineId!;
  const started = await startFleetRun(stack, { profileId, machineIds: [machineId] });
  const fleetHandle = stack.temporal.workflow.getHandle(`fleet-run:${started.id}`);
  const [run] = await until(
    () => fleetMachineRuns(stack, started.id),
    (rows) => rows[0]?.status === 'running',
  );
  const runHandle = stack.temporal.workflow.getHandle(run!.workflowId);
  // The row says running from a local activity inside the first workflow task, which may not have
  // completed yet (seen on a loaded machine): wait for its completion event.
  const firstTask = await until(
    async () => (await runHandle.fetchHistory()).events!.find((e) => e.workflowTaskCompletedEventAttributes),
    (event) => event !== undefined,
  ).then((event) => event!);
  await stack.temporal.workflowService.resetWorkflowExecution({
    namespace: stack.temporal.options.namespace,
    workflowExecution: { workflowId: run!.workflowId, runId: (await runHandle.describe()).runId },
    reason: 'test: reset a machine run',
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: randomUUID(),
    resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
  });
  // Several checks pass (every 2 s): the old run is closed, the current one runs — nothing is healed.
  await until(
    () => fleetHandle.query(fleetProgressQuery),
    (p) => p.running === 1,
  );
  await new Promise((r) => setTimeout(r, 5000));
  expect((await fleetMachineRuns(stack, started.id))[0]!.status).toBe('running');
  expect(await fleetHandle.query(fleetProgressQuery)).toMatchObject({
    running: 1,
    closedInTemporal: 0,
    failed: 0,
  });
  // And the machine takes no second run while it runs (the database refuses it, whatever the race).
  const second = await provision(machineId);
  expect(second.errors?.[0]?.extensions?.code).toBe('RUN_IN_PROGRESS');
  await q('mutation($id: ID!) { controlFleetRun(id: $id, action: CANCEL) { id } }', { id: started.id });
  expect(await fleetHandle.result()).toMatchObject({ outcome: 'CANCELLED' });
});

it('cancelled in the Temporal UI, a fleet run cancels its machines and ends its row cancelled', async () => {
  const fleet = await enrolledFleet(stack, 'ui-cancel', 2);
  await fleet.stop();
  const started = await startFleetRun(stack, {
    profileId,
    concurrency: 1,
    machineIds: fleet.machines.map((m) => m.agent.machineId!),
  });
  const fleetHandle = stack.temporal.workflow.getHandle(`fleet-run:${started.id}`);
  const [first] = await until(
    () => fleetMachineRuns(stack, started.id),
    (rows) => rows.some((r) => r.status === 'running'),
  ).then((rows) => rows.filter((r) => r.status === 'running'));
  await fleetHandle.cancel();
  await expect(fleetHandle.result()).rejects.toThrow();
  // The fleet closes at once; its running machine settles a moment later and its row follows.
  const view = await until(
    () => fleetRun(stack, started.id),
    (f) => f.status === 'cancelled' && f.cancelled === 2,
  );
  expect(view).toMatchObject({ status: 'cancelled', cancelled: 2, total: 2 });
  const runs = await fleetMachineRuns(stack, started.id);
  expect(runs.map((r) => r.status)).toEqual(['cancelled', 'cancelled']);
  expect((await tasksOf(first!.workflowId)).every((t) => t.status === 'abandoned')).toBe(true);
});

it('a three-minute database outage in the middle of a fleet run delays it and fails nothing', async () => {
  const fleet = await enrolledFleet(stack, 'outage', 3);
  harnesses.push(fleet);
  const started = await startFleetRun(stack, {
    profileId: lightProfileId,
    concurrency: 3,
    machineIds: fleet.machines.map((m) => m.agent.machineId!),
  });
  // Some work done, some to do: then the database goes away for the app (worker and API alike).
  await until(
    () => fleetMachineRuns(stack, started.id),
    (rows) => rows.some((r) => r.step !== null && r.step !== 'preflight'),
  );
  const admin = process.env.DRYDOCK_TEST_ADMIN_URL!;
  await adminQuery(admin, `revoke connect on database "${stack.db.name}" from drydock_app`);
  await adminQuery(
    admin,
    `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and usename = 'drydock_app'`,
    [stack.db.name],
  );
  await new Promise((r) => setTimeout(r, 180_000));
  await adminQuery(admin, `grant connect on database "${stack.db.name}" to drydock_app`);
  const done = await waitForFleet(stack, started.id, (f) => f.status === 'completed', 300_000);
  expect(done).toMatchObject({ status: 'completed', total: 3, passed: 3, failed: 0 });
  // No machine of this fleet run failed at any time (not even for a moment): no such audit event.
  const failures = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ n: number }[]>(
      `select count(*)::int as n from audit_events a
        where a.action = 'machine_run.failed'
          and a.data->>'runId' in (select id::text from machine_runs where fleet_run_id = ?)`,
      [started.id],
    ),
  );
  expect(failures[0]!.n).toBe(0);
});
