import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Harness } from '../../agent/harness/harness';
import { failureTexts } from '../../api/services/failures';
import { repoRoot } from '../../infra/config/env';
import { simulatedDownloadSha256 } from '../../agent/platform/simulated/simulated-host';
import { MachineSchema } from '../../infra/db/entities';
import { withTenant } from '../../infra/db/orm';
import { StepKind } from '../../infra/wire/agent-steps';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import {
  enrolledFleet,
  fleetMachineRuns,
  repeatedEffects,
  saveProfile,
  startFleetRun,
  waitForFleet,
} from '../helpers/provisioning';

jest.setTimeout(300_000);

let stack: AgentStack;
const harnesses: Harness[] = [];
beforeAll(async () => {
  stack = await startAgentStack({
    PROVISION_RETRY_BACKOFF_SECONDS: '1',
    PROVISION_OFFLINE_LIMIT_SECONDS: '120',
    PROVISION_FAILED_HOLD_SECONDS: '600',
    // Small batches: the 50-machine fleet continues as new twice.
    PROVISION_FLEET_BATCH_SIZE: '20',
    // …and checks on its machines' runs every 2 seconds (recorded in the fleet history below).
    PROVISION_FLEET_RECONCILE_SECONDS: '2',
  });
});
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.stop()));
  await stack.close();
});

const TOOL_URL = 'https://downloads.example.com/drydock-tool-1.2.3.msi';
const withInstaller = (sha256: string) => ({
  phases: {
    apps: { installers: [{ name: 'DrydockTool', url: TOOL_URL, sha256, arguments: ['/quiet'] }] },
  },
});

describe('fleet provisioning through the Standard profile', () => {
  it('provisions every machine once: unique names, apps, tweaks, inventory, validation PASS', async () => {
    const fleet = await enrolledFleet(stack, 'smoke', 5);
    harnesses.push(fleet);
    const profileId = await saveProfile(stack, 'Standard', withInstaller(simulatedDownloadSha256(TOOL_URL)));
    const started = await startFleetRun(stack, { profileId, concurrency: 3, siteIds: [stack.tenant.siteId] });
    const done = await waitForFleet(stack, started.id, (f) => f.status === 'completed');
    const runs = await fleetMachineRuns(stack, started.id);
    if (process.env.DEBUG_AGENTS) {
      for (const r of runs.filter((x) => x.status !== 'passed')) {
        const rows = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
          em.execute(
            'select kind, status, attempt, deliveries, created_at, delivered_at, finished_at, activity_id, result, error from agent_tasks where machine_id = ? order by created_at',
            [r.machineId],
          ),
        );
        console.log(r.machineId, JSON.stringify(rows, null, 1));
      }
    }
    expect(runs.filter((r) => r.status !== 'passed').map((r) => r.lastError)).toEqual([]);
    expect(done).toMatchObject({ status: 'completed', total: 5, passed: 5, failed: 0 });
    // Every rename's reboot was heard through the boot-id signal of the next check-in: no run had to
    // ask its machine for its boot id.
    const bootTasks = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      em.execute<{ kind: string; n: number }[]>(
        `select kind, count(*)::int as n from agent_tasks
          where machine_id in (${runs.map(() => '?').join(', ')}) and kind in (?, ?) group by kind order by kind`,
        [...runs.map((r) => r.machineId), StepKind.Reboot, StepKind.BootId],
      ),
    );
    expect(bootTasks.find((t) => t.kind === StepKind.BootId)).toBeUndefined();
    expect(bootTasks.find((t) => t.kind === StepKind.Reboot)?.n).toBeGreaterThanOrEqual(5);
    for (const run of runs) {
      expect(run.validation.length).toBeGreaterThan(10);
      expect(run.validation.filter((v) => v.result !== 'PASS')).toEqual([]);
    }
    // The hosts' own state: renamed (after a reboot), apps and the pinned installer present.
    const names = fleet.machines.map((m) => m.platform.snapshot.hostname).sort();
    const code = stack.tenant.siteCode.replace(/[^A-Z0-9]/g, '').slice(0, 6);
    expect(names).toEqual([1, 2, 3, 4, 5].map((n) => `${code}-00${n}`));
    for (const m of fleet.machines) {
      expect(m.platform.snapshot.apps.map((a) => a.id).sort()).toEqual(
        ['7zip.7zip', 'Adobe.Acrobat.Reader.64-bit', 'Google.Chrome'].sort(),
      );
      expect(Object.keys(m.platform.snapshot.effects)).toContain(
        `installer:${Object.keys(m.platform.snapshot.effects)
          .find((e) => e.startsWith('installer:'))!
          .slice(10)}`,
      );
    }
    expect(repeatedEffects(fleet)).toEqual([]);
    const stored = await withTenant(stack.orm, stack.tenant.tenantId, (em) => em.find(MachineSchema, {}));
    const csv = await gql<{ machines: { autopilotHashCsv: string | null }[] }>(
      stack.app,
      stack.tenant.tenantId,
      '{ machines { autopilotHashCsv } }',
    );
    for (const m of csv.data!.machines)
      expect(m.autopilotHashCsv).toMatch(
        /^Device Serial Number,Windows Product ID,Hardware Hash\r\n"SIM[0-9A-F]+","","[A-Za-z0-9+/=]+"\r\n$/,
      );
    // Engineers find the runs in the Temporal UI by search attributes.
    expect(
      await listedRuns(
        `WorkflowType = 'provisionMachine' AND FleetRunId = '${started.id}' AND RunStatus = 'passed'`,
        5,
      ),
    ).toBe(5);
    for (const machine of stored) {
      expect(machine.autopilot?.hardwareHash).toBeTruthy();
      expect(machine.hostname).toMatch(new RegExp(`^${code}-00[1-5]$`));
    }
  });
});

/** How many runs a visibility query lists, asked again for a while until `expected` (it is eventually consistent). */
async function listedRuns(query: string, expected: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < 20; i++) {
    n = 0;
    for await (const _ of stack.temporal.workflow.list({ query })) n++;
    if (n === expected) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return n;
}

/** Writes a finished run's history to test/histories (DRYDOCK_RECORD_HISTORIES=1), for the replay test. */
async function recordHistory(workflowId: string, file: string): Promise<void> {
  const handle = stack.temporal.workflow.getHandle(workflowId);
  await handle.result();
  const history = await handle.fetchHistory();
  writeFileSync(path.join(repoRoot, 'test', 'histories', file), `${historyToJSON(history)}\n`);
}

describe('acceptance', () => {
  it('50 machines with faults (restart mid-step, crashes, network loss, flaky winget) all PASS, no effect twice', async () => {
    const fleet = await enrolledFleet(stack, 'faulty', 50, {
      faults: { crash: 0.05, network: 0.03, slowMs: 0, reboot: 0.03, midstep: 0.03, winget: 0.4 },
    });
    harnesses.push(fleet);
    const profileId = await saveProfile(stack, 'Standard', withInstaller(simulatedDownloadSha256(TOOL_URL)));
    const machineIds = fleet.machines.map((m) => m.agent.machineId!);
    const started = await startFleetRun(stack, { profileId, concurrency: 25, machineIds });
    // Its row completes a moment before its workflow closes: a query in between can miss; ask again.
    const done = await waitForFleet(
      stack,
      started.id,
      (f) => f.status === 'completed' && f.progress !== null,
      280_000,
    );
    const runs = await fleetMachineRuns(stack, started.id);
    const notPassed = runs.filter((r) => r.status !== 'passed').map((r) => r.lastError);
    expect(notPassed).toEqual([]);
    expect(done).toMatchObject({ total: 50, passed: 50, failed: 0 });
    // 50 machines in batches of 20: the fleet run continued as new twice, nothing lost in between.
    expect(done.progress).toMatchObject({ state: 'done', batches: 3, passed: 50 });
    const handle = stack.temporal.workflow.getHandle(`fleet-run:${started.id}`);
    expect(await handle.result()).toMatchObject({ total: 50, passed: 50, outcome: 'PASS' });
    // The faults really happened…
    expect(fleet.machines.reduce((n, m) => n + m.crashes, 0)).toBeGreaterThan(0);
    expect(fleet.machines.reduce((n, m) => n + m.platform.injectedWingetFailures, 0)).toBeGreaterThan(0);
    // …and still no side effect happened twice, by the machines' own record.
    expect(repeatedEffects(fleet)).toEqual([]);
    const names = new Set(fleet.machines.map((m) => m.platform.snapshot.hostname));
    expect(names.size).toBe(50);
  });

  it('a bad SHA-256 fails that machine with a clear reason, the fleet carries on, retry-from-step completes it', async () => {
    const fleet = await enrolledFleet(stack, 'badsha', 3);
    harnesses.push(fleet);
    const profileId = await saveProfile(stack, 'Standard', withInstaller(simulatedDownloadSha256(TOOL_URL)));
    const [bad, ...good] = fleet.machines;
    // Only this machine's effective config pins a wrong digest (a per-machine layer).
    const setLayer = (doc: unknown) =>
      gql(
        stack.app,
        stack.tenant.tenantId,
        'mutation($id: ID!, $d: String!) { setProfileLayer(scope: MACHINE, id: $id, documentJson: $d) }',
        { id: bad!.agent.machineId, d: JSON.stringify(doc) },
      );
    expect((await setLayer(withInstaller('ab'.repeat(32)))).errors).toBeUndefined();
    const machineIds = fleet.machines.map((m) => m.agent.machineId!);
    const started = await startFleetRun(stack, { profileId, concurrency: 3, machineIds });
    const done = await waitForFleet(stack, started.id, (f) => f.status === 'completed');
    expect(done).toMatchObject({ total: 3, passed: 2, failed: 1 });

    const runs = await fleetMachineRuns(stack, started.id);
    const failed = runs.find((r) => r.machineId === bad!.agent.machineId)!;
    expect(failed.status).toBe('failed');
    expect(failed.lastError).toMatchObject({
      type: 'InstallerHashMismatch',
      step: 'apps.installer:DrydockTool',
      // The portal's code and sentence for the type (api/services/failures.ts).
      code: 'INSTALLER_HASH_MISMATCH',
      sentence: failureTexts.InstallerHashMismatch.sentence,
    });
    expect(failed.lastError!.message).toContain('not run');
    // The run waiting for a retry is found by where it stopped.
    expect(
      await listedRuns(
        `WorkflowId = '${failed.workflowId}' AND RunStatus = 'failed' AND Phase = 'apps' AND ExecutionStatus = 'Running'`,
        1,
      ),
    ).toBe(1);
    expect(Object.keys(bad!.platform.snapshot.effects).some((e) => e.startsWith('installer:'))).toBe(false);
    for (const m of good)
      expect(Object.keys(m.platform.snapshot.effects).some((e) => e.startsWith('installer:'))).toBe(true);

    // Retrying without fixing anything fails the same way; fixing the config and retrying completes it.
    expect((await setLayer({})).errors).toBeUndefined();
    const retried = await gql<{ retryMachineRun: string }>(
      stack.app,
      stack.tenant.tenantId,
      'mutation($id: ID!) { retryMachineRun(id: $id, refreshConfig: true) }',
      { id: failed.id },
    );
    expect(retried.data?.retryMachineRun).toBe('apps.installer:DrydockTool');
    const after = await waitForFleet(stack, started.id, (f) => f.passed === 3, 120_000);
    expect(after).toMatchObject({ passed: 3, failed: 0 });
    const progress = await gql<{ machineRun: { status: string; progressJson: string } }>(
      stack.app,
      stack.tenant.tenantId,
      'query($id: ID!) { machineRun(id: $id) { status progressJson } }',
      { id: failed.id },
    );
    expect(progress.data!.machineRun.status).toBe('passed');
    // The run records the config it used last: the fixed one, from the newest profile version.
    const config = await gql<{ machineRun: { resolvedConfigJson: string } }>(
      stack.app,
      stack.tenant.tenantId,
      'query($id: ID!) { machineRun(id: $id) { resolvedConfigJson } }',
      { id: failed.id },
    );
    expect(JSON.parse(config.data!.machineRun.resolvedConfigJson).phases.apps.installers[0].sha256).toBe(
      simulatedDownloadSha256(TOOL_URL),
    );
    const steps = JSON.parse(progress.data!.machineRun.progressJson).steps as {
      key: string;
      attempts: number;
    }[];
    // From the failed step on: the steps before it ran once.
    expect(steps.find((s) => s.key === 'preflight')!.attempts).toBe(1);
    expect(repeatedEffects(fleet)).toEqual([]);

    if (process.env.DRYDOCK_RECORD_HISTORIES === '1') {
      await recordHistory(`fleet-run:${started.id}`, 'fleet-run-v2-one-failed.json');
      await recordHistory(
        runs.find((r) => r.id === failed.id)!.workflowId,
        'provision-machine-v2-retried.json',
      );
      await recordHistory(
        runs.find((r) => r.id !== failed.id)!.workflowId,
        'provision-machine-v2-passed.json',
      );
    }

    // A run that is not waiting after a failure refuses a retry with a stable code.
    const refused = await gql(
      stack.app,
      stack.tenant.tenantId,
      'mutation($id: ID!) { retryMachineRun(id: $id) }',
      {
        id: runs.find((r) => r.machineId === good[0]!.agent.machineId)!.id,
      },
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('RUN_NOT_RETRYABLE');
  });
});
