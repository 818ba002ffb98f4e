import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { fleetRunProgress, getFleetRun, watchFleetRun } from '../../api/services/provisioning';
import type { ServiceContext } from '../../api/services/service-context';
import { loadEnv } from '../../infra/config/env';
import { Role } from '../../infra/db/entities';
import type { Harness } from '../../agent/harness/harness';
import { withTenant } from '../../infra/db/orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createProvisioningActivities } from '../../activities/provisioning/provisioning-activities';
import {
  fleetProgressQuery,
  type MachineRunSettled,
  type ProvisionMachineResult,
} from '../../workflows/provisioning/contracts';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql, tokenFor } from '../helpers/api';
import { createTenant } from '../helpers/fixtures';
import {
  enrolledFleet,
  fleetMachineRuns,
  fleetRun,
  saveProfile,
  startFleetRun,
  waitForFleet,
  type MachineRunView,
} from '../helpers/provisioning';

/** Pause, resume and cancel; the offline limit; roles; tenant isolation; the live progress stream. */
jest.setTimeout(240_000);

let stack: AgentStack;
let profileId: string;
const harnesses: Harness[] = [];
beforeAll(async () => {
  stack = await startAgentStack({
    PROVISION_RETRY_BACKOFF_SECONDS: '1',
    PROVISION_OFFLINE_LIMIT_SECONDS: '120',
    PROVISION_FAILED_HOLD_SECONDS: '600',
    // The fleet runs check on their machines' runs every 2 seconds (a lost settle, a terminated run).
    PROVISION_FLEET_RECONCILE_SECONDS: '2',
  });
  profileId = await saveProfile(stack, 'Standard', {});
});
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.stop()));
  await stack.close();
});

const q = <T>(
  query: string,
  variables: Record<string, unknown> = {},
  role?: 'viewer' | 'operator' | 'engineer',
) => gql<T>(stack.app, stack.tenant.tenantId, query, variables, role);

interface RunView {
  id: string;
  status: string;
  workflowId: string;
  progressJson: string | null;
}
const machineRun = async (id: string) =>
  (
    await q<{ machineRun: RunView }>(
      'query($id: ID!) { machineRun(id: $id) { id status workflowId progressJson } }',
      { id },
    )
  ).data!.machineRun;

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    v = await read();
  }
  return v;
}

async function provision(machineId: string, role?: 'operator' | 'viewer') {
  return q<{ provisionMachine: RunView }>(
    'mutation($m: ID!, $p: ID!) { provisionMachine(machineId: $m, profileId: $p) { id status workflowId progressJson } }',
    { m: machineId, p: profileId },
    role,
  );
}

const control = (id: string, action: string) =>
  q<{ controlMachineRun: { id: string } }>(
    'mutation($id: ID!, $a: RunControl!) { controlMachineRun(id: $id, action: $a) { id } }',
    { id, a: action },
    'operator',
  );

it('a machine run pauses between steps, resumes, and cancel stops it after the current step', async () => {
  const fleet = await enrolledFleet(stack, 'controls', 1, {
    faults: { crash: 0, network: 0, slowMs: 300, reboot: 0, midstep: 0, winget: 0 },
  });
  harnesses.push(fleet);
  const machineId = fleet.machines[0]!.agent.machineId!;

  const started = (await provision(machineId, 'operator')).data!.provisionMachine;
  expect((await control(started.id, 'PAUSE')).errors).toBeUndefined();
  const paused = await until(
    () => machineRun(started.id),
    (r) => r.status === 'paused',
  );
  expect(paused.status).toBe('paused');
  const at = JSON.parse(paused.progressJson!);
  expect(at.state).toBe('paused');
  // Nothing moves while paused.
  await new Promise((r) => setTimeout(r, 1500));
  expect(JSON.parse((await machineRun(started.id)).progressJson!).step).toBe(at.step);

  await control(started.id, 'RESUME');
  const passed = await until(
    () => machineRun(started.id),
    (r) => r.status === 'passed',
  );
  expect(passed.status).toBe('passed');

  const second = (await provision(machineId)).data!.provisionMachine;
  await until(
    () => machineRun(second.id),
    (r) => r.status === 'running',
  );
  // One run per machine at a time.
  const third = await provision(machineId);
  expect(third.errors?.[0]?.extensions?.code).toBe('RUN_IN_PROGRESS');
  await control(second.id, 'CANCEL');
  const result: ProvisionMachineResult = await stack.temporal.workflow.getHandle(second.workflowId).result();
  expect(result).toMatchObject({ outcome: 'cancelled', reason: 'cancelled by an operator' });
  expect((await machineRun(second.id)).status).toBe('cancelled');
});

it('a machine that stays offline past its limit fails the run with a clear reason', async () => {
  const fleet = await enrolledFleet(stack, 'offline', 1);
  await fleet.stop(); // enrolled, then gone
  const machineId = fleet.machines[0]!.agent.machineId!;
  const run = (await provision(machineId)).data!.provisionMachine;
  // This run's own limits, short enough for a test (the API's defaults come from PROVISION_*).
  const startedAt = Date.now();
  const handle = await stack.temporal.workflow.start('provisionMachine', {
    taskQueue: stack.taskQueue,
    workflowId: `${run.workflowId}-short`,
    args: [
      {
        tenantId: stack.tenant.tenantId,
        machineId,
        siteId: stack.tenant.siteId,
        runId: run.id,
        profileId,
        offlineLimitSeconds: 5,
        failedHoldSeconds: 1,
      },
    ],
  });
  await stack.temporal.workflow.getHandle(run.workflowId).terminate('replaced by the short-limit run');
  const result: ProvisionMachineResult = await handle.result();
  expect(result.outcome).toBe('failed');
  expect(result.reason).toBe('the machine did not pick up the step within 5 s (offline, or switched off)');
  // Soon after the limit: the API's delivery sweep hands the step to its retry. Without it the
  // dispatch waited out its 2-minute heartbeat timeout first.
  expect(Date.now() - startedAt).toBeLessThan(60_000);
  const row = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ last_error: { type: string } }[]>('select last_error from machine_runs where id = ?', [
      run.id,
    ]),
  );
  expect(row[0]).toMatchObject({ last_error: { type: 'MachineUnreachable', step: 'preflight' } });
});

it('a fleet run pauses (nothing new starts), resumes to the end, and streams its progress', async () => {
  const fleet = await enrolledFleet(stack, 'window', 4, {
    faults: { crash: 0, network: 0, slowMs: 200, reboot: 0, midstep: 0, winget: 0 },
  });
  harnesses.push(fleet);
  const machineIds = fleet.machines.map((m) => m.agent.machineId!);
  const started = await startFleetRun(stack, { profileId, concurrency: 1, machineIds });

  // The live stream (GraphQL over SSE), read to its end while the run goes on.
  const stream = stack.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${await tokenFor(stack.app, stack.tenant.tenantId)}`,
    },
    payload: {
      query: 'subscription($id: ID!) { fleetRunProgress(id: $id) { state running passed queued } }',
      variables: { id: started.id },
    },
  });

  const controlFleet = (action: string) =>
    q(
      'mutation($id: ID!, $a: RunControl!) { controlFleetRun(id: $id, action: $a) { id } }',
      { id: started.id, a: action },
      'operator',
    );
  await controlFleet('PAUSE');
  const paused = await waitForFleet(
    stack,
    started.id,
    (f) => f.status === 'paused' && f.progress?.state === 'paused' && f.progress.running === 0,
    120_000,
  );
  expect(paused.status).toBe('paused');
  const queuedWhilePaused = paused.progress!.queued;
  expect(queuedWhilePaused).toBeGreaterThan(0);
  await new Promise((r) => setTimeout(r, 1500));
  expect((await fleetRun(stack, started.id)).progress!.queued).toBe(queuedWhilePaused);

  // Through a Temporal outage the live stream waits and goes on; it used to end at once, as if the
  // run were gone. A page's figures are null meanwhile, its rows still there.
  const dead = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const ctx: ServiceContext = {
    caller: {
      tenantId: stack.tenant.tenantId,
      actor: 'test:viewer',
      role: Role.Viewer,
      canRevealSecrets: false,
      clientScope: null,
      userId: null,
      via: 'token',
    },
    env: loadEnv(stack.env),
    orm: stack.orm,
    temporal: dead,
    taskQueue: stack.taskQueue,
  };
  try {
    const row = (await getFleetRun(ctx, { id: started.id }))!;
    expect(await fleetRunProgress(ctx, row)).toBeNull();
    const watch = watchFleetRun(ctx, { id: started.id });
    let settled = false;
    const first = watch.next().finally(() => void (settled = true));
    await new Promise((r) => setTimeout(r, 2500));
    expect(settled).toBe(false);
    ctx.temporal = stack.temporal; // Temporal is back
    expect(await first).toMatchObject({ done: false, value: { state: 'paused', queued: queuedWhilePaused } });
    await watch.return(undefined);
  } finally {
    await dead.connection.close();
  }

  await controlFleet('RESUME');
  const done = await waitForFleet(stack, started.id, (f) => f.status === 'completed');
  expect(done).toMatchObject({ passed: 4, failed: 0 });

  const events = (await stream).body
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as { data?: { fleetRunProgress: { state: string; passed: number } } })
    .filter((e) => e.data)
    .map((e) => e.data!.fleetRunProgress);
  expect(events.map((e) => e.state)).toContain('paused');
  expect(events[events.length - 1]).toMatchObject({ state: 'done', passed: 4 });
});

it('a cancelled fleet run starts nothing more and ends cancelled', async () => {
  const fleet = await enrolledFleet(stack, 'cancel', 3, {
    faults: { crash: 0, network: 0, slowMs: 200, reboot: 0, midstep: 0, winget: 0 },
  });
  harnesses.push(fleet);
  const started = await startFleetRun(stack, {
    profileId,
    concurrency: 1,
    machineIds: fleet.machines.map((m) => m.agent.machineId!),
  });
  await q('mutation($id: ID!) { controlFleetRun(id: $id, action: CANCEL) { id } }', { id: started.id });
  const done = await waitForFleet(stack, started.id, (f) => f.status === 'cancelled');
  expect(done.status).toBe('cancelled');
  // Machines never started are cancelled too: every machine is accounted for.
  expect(done.passed + done.failed + done.cancelled).toBe(3);
  expect(done.cancelled).toBeGreaterThanOrEqual(2);
  const runs = await fleetMachineRuns(stack, started.id);
  expect(runs.filter((r) => r.status === 'queued')).toEqual([]);
  const result = await stack.temporal.workflow.getHandle(`fleet-run:${started.id}`).result();
  expect(result).toMatchObject({ outcome: 'CANCELLED', total: 3 });
});

it('a fleet run counts each machine once: repeated settles change nothing, a settle ahead of its start waits for it, and no run starts twice', async () => {
  // The agents are offline: the runs wait at their first step while the test plays their settles.
  const fleet = await enrolledFleet(stack, 'settles', 3);
  await fleet.stop();
  const started = await startFleetRun(stack, {
    profileId,
    concurrency: 1,
    machineIds: fleet.machines.map((m) => m.agent.machineId!),
  });
  const fleetHandle = stack.temporal.workflow.getHandle(`fleet-run:${started.id}`);
  const progress = () => fleetHandle.query(fleetProgressQuery);
  await until(progress, (p) => p.running === 1);
  // The started run's row says so once it has prepared.
  const runs = await until(
    () => fleetMachineRuns(stack, started.id),
    (rows) => rows.some((r) => r.status !== 'queued'),
  );
  const first = runs.find((r) => r.status !== 'queued')!;
  const [second, third] = runs.filter((r) => r !== first);
  // A settle as a run's record makes it: its row first, then the signal (the counts come from rows).
  const env = new MockActivityEnvironment({ taskQueue: stack.taskQueue }, { client: stack.temporal });
  const settle = (r: MachineRunView, outcome: MachineRunSettled['outcome']) =>
    env.run(createProvisioningActivities({ orm: stack.orm }).recordMachineRun, {
      tenantId: stack.tenant.tenantId,
      runId: r.id,
      status: outcome,
      finished: outcome !== 'failed',
      settle: {
        fleetWorkflowId: `fleet-run:${started.id}`,
        signal: { runId: r.id, workflowId: r.workflowId, outcome, seq: r.seq ?? undefined },
      },
    });

  // As from a start whose workflow task failed after the run had finished: kept until it starts.
  await settle(second!, 'passed');
  await settle(first, 'failed');
  await settle(first, 'failed'); // a record activity that ran again
  let p = await until(progress, (v) => v.failed === 1 && v.passed === 1 && v.running === 1);
  expect(p).toMatchObject({ running: 1, passed: 1, failed: 1, queued: 0 });
  // The failed one passes after a retry (twice over): failed → passed, once.
  await settle(first, 'passed');
  await settle(first, 'passed');
  p = await until(progress, (v) => v.passed === 2);
  expect(p).toMatchObject({ running: 1, passed: 2, failed: 0 });
  await settle(third!, 'cancelled');
  const result = await fleetHandle.result();
  expect(result.total).toBe(3);

  // Starting the same machines again starts nothing: running or finished, each run is the one there
  // was; a run whose row had settled before its start (here: by a played settle) never starts.
  const describe = (workflowId: string) =>
    stack.temporal.workflow
      .getHandle(workflowId)
      .describe()
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      });
  const before = await Promise.all(runs.map((r) => describe(r.workflowId)));
  expect(before[runs.indexOf(second!)]).toBeNull();
  for (const d of before)
    if (d?.status.name === 'RUNNING')
      await stack.temporal.workflow.getHandle(d.workflowId).terminate('test done');
  const again: { workflowId: string }[] = await env.run(
    createProvisioningActivities({ orm: stack.orm }).startFleetMachines,
    {
      tenantId: stack.tenant.tenantId,
      fleetRunId: started.id,
      fleetWorkflowId: `fleet-run:${started.id}`,
      profileId,
      fromSeq: 1,
      limit: 10,
      runOptions: {},
    },
  );
  expect(again.map((r) => r.workflowId).sort()).toEqual(runs.map((r) => r.workflowId).sort());
  for (const [i, d] of before.entries()) {
    const now = await describe(runs[i]!.workflowId);
    if (d === null) expect(now).toBeNull();
    else {
      expect(now!.runId).toBe(d.runId);
      expect(now!.status.name).not.toBe('RUNNING');
    }
  }

  // A record that runs again (its signal failed the first time) audits the outcome once.
  const record = () =>
    env.run(createProvisioningActivities({ orm: stack.orm }).recordMachineRun, {
      tenantId: stack.tenant.tenantId,
      runId: first.id,
      status: 'cancelled' as const,
      finished: true,
    });
  await record();
  await record();
  const audited = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ n: number }[]>(
      `select count(*)::int as n from audit_events where action = 'machine_run.cancelled' and data->>'runId' = ?`,
      [first.id],
    ),
  );
  expect(audited[0]!.n).toBe(1);
});

it('a fleet run ends though no settle reaches it: a run terminated in Temporal fails, a reset that drops the signals still counts every machine', async () => {
  const online = await enrolledFleet(stack, 'check-online', 1);
  harnesses.push(online);
  const offline = await enrolledFleet(stack, 'check-offline', 1);
  await offline.stop(); // its run waits at its first step
  const [up, down] = [online, offline].map((h) => h.machines[0]!.agent.machineId!);
  const started = await startFleetRun(stack, { profileId, concurrency: 2, machineIds: [up!, down!] });
  const fleetHandle = stack.temporal.workflow.getHandle(`fleet-run:${started.id}`);
  const runs = await until(
    () => fleetMachineRuns(stack, started.id),
    (rows) =>
      rows.find((r) => r.machineId === up)?.status === 'passed' && rows.every((r) => r.status !== 'queued'),
  );
  const stuck = runs.find((r) => r.machineId === down)!;

  // An engineer terminates the waiting run in the Temporal UI: it never settles, the fleet's check fails it.
  await stack.temporal.workflow.getHandle(stuck.workflowId).terminate('stuck, ended by an engineer');
  const first = await fleetHandle.result();
  expect(first).toMatchObject({ total: 2, passed: 1, failed: 1, outcome: 'FAIL' });
  const closed = (await fleetMachineRuns(stack, started.id)).find((r) => r.machineId === down)!;
  expect(closed.status).toBe('failed');
  expect(closed.lastError).toMatchObject({ type: 'RunClosed', step: 'preflight' });
  expect(closed.lastError!.message).toBe(
    "the run's workflow terminated outside Drydock; start a new run for this machine",
  );
  const audited = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ n: number }[]>(
      `select count(*)::int as n from audit_events where action = 'machine_run.failed' and data->>'runId' = ?`,
      [stuck.id],
    ),
  );
  expect(audited[0]!.n).toBe(1);

  // Reset to its first workflow task without its signals: it starts over, finds both runs' rows
  // settled (so starts neither again, and waits for no signal), and ends with the same counts.
  const history = await fleetHandle.fetchHistory();
  const firstTask = history.events!.find((e) => e.workflowTaskCompletedEventAttributes)!;
  const { runId } = await fleetHandle.describe();
  const reset = await stack.temporal.workflowService.resetWorkflowExecution({
    namespace: stack.temporal.options.namespace,
    workflowExecution: { workflowId: fleetHandle.workflowId, runId },
    reason: 'test: a reset that drops the signals',
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: randomUUID(),
    resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
  });
  const again = await stack.temporal.workflow.getHandle(fleetHandle.workflowId, reset.runId!).result();
  expect(again).toMatchObject({ total: 2, passed: 1, failed: 1, outcome: 'FAIL' });
  const afterReset = await stack.temporal.workflow
    .getHandle(fleetHandle.workflowId, reset.runId!)
    .fetchHistory();
  const signals = afterReset.events!.filter((e) => e.workflowExecutionSignaledEventAttributes);
  expect(signals).toEqual([]);
  const view = await fleetRun(stack, started.id);
  expect(view).toMatchObject({ status: 'completed', total: 2, passed: 1, failed: 1 });
  // The first run healed the terminated one (closed in Temporal); the reset needed no recovery.
  const progress = await stack.temporal.workflow
    .getHandle(fleetHandle.workflowId, reset.runId!)
    .query(fleetProgressQuery);
  expect(progress).toMatchObject({ state: 'done', recovered: 0, passed: 1, failed: 1 });
  const firstProgress = await stack.temporal.workflow
    .getHandle(fleetHandle.workflowId, runId)
    .query(fleetProgressQuery);
  expect(firstProgress).toMatchObject({ closedInTemporal: 1, lateSignals: 0 });
});

it('a fleet run leaves out a machine that already has a run of its own, and counts it as skipped', async () => {
  // Offline agents: the single machine's run waits at its first step.
  const fleet = await enrolledFleet(stack, 'skipped', 2);
  await fleet.stop();
  const [busy, free] = fleet.machines.map((m) => m.agent.machineId!);
  const own = (await provision(busy!)).data!.provisionMachine;
  const started = await startFleetRun(stack, { profileId, concurrency: 2, machineIds: [busy!, free!] });
  const view = await until(
    () =>
      q<{ fleetRun: { total: number; skipped: number } }>(
        'query($id: ID!) { fleetRun(id: $id) { total skipped } }',
        { id: started.id },
      ),
    (r) => r.data!.fleetRun.total > 0,
  );
  expect(view.data!.fleetRun).toEqual({ total: 1, skipped: 1 });
  const runs = await fleetMachineRuns(stack, started.id);
  expect(runs.map((r) => r.machineId)).toEqual([free]);
  // And the other way round: the machine queued or running in the fleet run takes no run of its own.
  const refused = await provision(free!);
  expect(refused.errors?.[0]?.extensions?.code).toBe('RUN_IN_PROGRESS');
  // Their steps wait for offline agents: end the runs here rather than after the offline limit.
  for (const workflowId of [own.workflowId, runs[0]!.workflowId, `fleet-run:${started.id}`])
    await stack.temporal.workflow.getHandle(workflowId).terminate('test done');
});

it('roles: operators run, only engineers edit profiles, viewers do neither', async () => {
  const save = (role: 'operator' | 'engineer') =>
    q('mutation { saveProfile(name: "Lean", documentJson: "{}") { id } }', {}, role);
  expect((await save('operator')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect((await save('engineer')).errors).toBeUndefined();
  const start = await q(
    'mutation($p: ID!) { startFleetRun(input: { profileId: $p, machineIds: [] , tags: ["never=matches"] }) { id } }',
    { p: profileId },
    'viewer',
  );
  expect(start.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
});

it('another tenant sees none of these runs and cannot control them', async () => {
  const other = await createTenant(stack.orm);
  const mine = (await q<{ fleetRuns: { id: string }[] }>('{ fleetRuns { id } }')).data!.fleetRuns;
  expect(mine.length).toBeGreaterThan(0);
  const as = <T>(query: string, variables: Record<string, unknown> = {}) =>
    gql<T>(stack.app, other.tenantId, query, variables);
  expect((await as<{ fleetRuns: unknown[] }>('{ fleetRuns { id } }')).data!.fleetRuns).toEqual([]);
  expect(
    (await as<{ fleetRun: unknown }>('query($id: ID!) { fleetRun(id: $id) { id } }', { id: mine[0]!.id }))
      .data!.fleetRun,
  ).toBeNull();
  const ctl = await as('mutation($id: ID!) { controlFleetRun(id: $id, action: CANCEL) { id } }', {
    id: mine[0]!.id,
  });
  expect(ctl.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  const start = await as('mutation($p: ID!) { startFleetRun(input: { profileId: $p }) { id } }', {
    p: profileId,
  });
  expect(start.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});
