import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProvisioningActivities } from '../../../activities/provisioning/provisioning-activities';
import { databaseLocalActivity } from '../../activity-presets';
import { FleetRunIdKey, RunStatusKey, TenantIdKey } from '../../search-attributes';
import {
  cancelSignal,
  fleetProgressQuery,
  machineRunSettledSignal,
  pauseSignal,
  resumeSignal,
  type FleetRunCarried,
  type FleetRunInput,
  type FleetRunProgress,
  type FleetRunResult,
  type MachineRunSettled,
} from '../contracts';

const db = proxyLocalActivities<ProvisioningActivities>(databaseLocalActivity);

/**
 * The first version of fleetRun, kept so that runs started before v2 (and the histories recorded
 * then) replay unchanged; new runs take v2 (fleet-run.ts, ADR 0016). Remove it with
 * `deprecatePatch('fleet-run-v2')` once no v1 run can be open (the longest a fleet run lasts).
 *
 * A fleet-wide run: the selection's machines × one profile, a provisionMachine run per machine in
 * a sliding window of `concurrency`. The runs are started by a local activity (not as child
 * workflows: ADR 0012) and report back by signal when they settle (a failed machine waits for
 * retry without holding its slot), so the window keeps moving. Continue-as-new every `batchSize`
 * machines keeps 10,000 machines out of one history. Every `reconcileSeconds` it checks the runs
 * it waits for against their rows and Temporal (ADR 0014): a settle that never arrived, or a run
 * closed outside Drydock, cannot hold the fleet run open.
 */
export async function fleetRunV1(input: FleetRunInput): Promise<FleetRunResult> {
  const batchSize = input.batchSize ?? 500;
  const carried: FleetRunCarried = input.carried ?? {
    total: -1,
    nextSeq: 1,
    running: [],
    passed: 0,
    failed: 0,
    cancelled: 0,
    paused: false,
    cancelRequested: false,
    batches: 1,
    failedWaiting: [],
  };
  const running = new Set(carried.running);
  // Machines that failed and wait for "retry from step": a cancel reaches them too.
  const failedWaiting = new Set(carried.failedWaiting ?? []);
  // Settles of runs this workflow does not know as started: a start activity whose workflow task
  // did not complete (worker crash) started them, the next attempt finds them started — applied then.
  const early = new Map((carried.early ?? []).map((s) => [s.workflowId, s]));
  let finished = false;
  const state = { ...carried };
  let startedThisBatch = 0;
  const settledQueue: MachineRunSettled[] = [];
  // The periodic check (histories recorded before it replay without it).
  const checks = patched('fleet-run-reconcile');
  let checkDue = false;
  // Settled by their rows at the last check, and no signal yet: lost if the next check says so too
  // (a signal can be on its way, or wait on the server while this workflow's task runs).
  let suspects = new Set<string>();
  const armCheck = () =>
    void sleep(`${input.reconcileSeconds ?? 60} seconds`).then(
      () => void (checkDue = true),
      () => undefined, // cancelled with the workflow: no error
    );
  if (checks) armCheck();

  const progress = (): FleetRunProgress => ({
    total: Math.max(0, state.total),
    queued: Math.max(0, state.total - (state.nextSeq - 1)),
    running: running.size,
    passed: state.passed,
    failed: state.failed,
    cancelled: state.cancelled,
    paused: state.paused,
    cancelRequested: state.cancelRequested,
    state:
      finished ||
      (state.total >= 0 && running.size === 0 && (state.nextSeq > state.total || state.cancelRequested))
        ? 'done'
        : state.total < 0
          ? 'selecting'
          : state.cancelRequested
            ? 'cancelling'
            : state.paused
              ? 'paused'
              : 'running',
    batches: state.batches,
    recovered: state.recovered ?? 0,
    closedInTemporal: 0,
    lateSignals: state.recovered ?? 0,
  });
  setHandler(fleetProgressQuery, progress);
  setHandler(machineRunSettledSignal, (s) => void settledQueue.push(s));
  setHandler(pauseSignal, () => void (state.paused = true));
  setHandler(resumeSignal, () => void (state.paused = false));
  setHandler(cancelSignal, () => void (state.cancelRequested = true));

  upsertSearchAttributes([
    { key: TenantIdKey, value: input.tenantId },
    { key: FleetRunIdKey, value: input.fleetRunId },
    { key: RunStatusKey, value: 'running' },
  ]);

  if (state.total < 0) state.total = (await db.snapshotFleetSelection(input)).total;

  // Settles arrive at least once (a record activity may run again): each run's first outcome
  // counts, and a failed run's next one moves it from failed; a repeat changes nothing.
  const apply = (s: MachineRunSettled) => {
    if (running.delete(s.workflowId)) state[s.outcome] += 1;
    else if (failedWaiting.has(s.workflowId)) {
      if (s.outcome === 'failed') return;
      state.failed -= 1;
      state[s.outcome] += 1;
    } else return void early.set(s.workflowId, s);
    if (s.outcome === 'failed') failedWaiting.add(s.workflowId);
    else failedWaiting.delete(s.workflowId);
  };
  const record = (
    status: 'running' | 'paused' | 'cancelling' | 'cancelled' | 'completed',
    finished = false,
  ) =>
    // v1 sent its own counts; the activity now takes them from the rows (and ignores these).
    db.recordFleetRun({
      tenantId: input.tenantId,
      fleetRunId: input.fleetRunId,
      status,
      finished,
      ...({ passed: state.passed, failed: state.failed, cancelled: state.cancelled } as object),
    });
  // Starts go out in groups of a tenth of the window: one local activity and one marker per group
  // instead of per machine (the window stays ≥ 90% full).
  const refillAt = Math.max(1, Math.floor(input.concurrency / 10));
  const refillDue = () => {
    const toStart = state.total - state.nextSeq + 1;
    const batchLeft = batchSize - startedThisBatch;
    const room = Math.min(input.concurrency - running.size, batchLeft);
    return room > 0 && toStart > 0 && (room >= refillAt || room >= toStart || room === batchLeft);
  };
  let cancelSent = false;
  let lastRecorded = '';
  let lastCounts = '';
  let countsRecordedAt = 0;

  for (;;) {
    while (settledQueue.length > 0) apply(settledQueue.shift()!);

    if (checkDue) {
      checkDue = false;
      const waitingFor = [...running, ...failedWaiting];
      if (waitingFor.length > 0) {
        const found = await db.reconcileFleetMachines({
          tenantId: input.tenantId,
          fleetRunId: input.fleetRunId,
          workflowIds: waitingFor,
        });
        // Signals that came while the check ran are applied first: what is left is missed or late.
        while (settledQueue.length > 0) apply(settledQueue.shift()!);
        const unapplied = found.filter(
          (s) => running.has(s.workflowId) || (failedWaiting.has(s.workflowId) && s.outcome !== 'failed'),
        );
        // A run closed in Temporal sends no signal; any other is given until the next check.
        const missed = unapplied.filter((s) => s.closedInTemporal || suspects.has(s.workflowId));
        suspects = new Set(unapplied.map((s) => s.workflowId));
        for (const s of missed) suspects.delete(s.workflowId);
        if (missed.length > 0) {
          log.warn('machine runs settled without their signal reaching the fleet run', {
            workflowIds: missed.map((s) => s.workflowId),
          });
          missed.forEach(apply);
          state.recovered = (state.recovered ?? 0) + missed.length;
        }
      }
      armCheck();
    }

    if (state.cancelRequested && !cancelSent) {
      cancelSent = true;
      // Running machines stop after their current step; nothing new starts.
      for (const workflowId of [...running, ...failedWaiting]) {
        await getExternalWorkflowHandle(workflowId)
          .signal(cancelSignal)
          .catch(() => undefined);
      }
    }

    // Fill the window: one local activity starts the next machines' runs (one marker, no workflow
    // task per start) and returns which it started.
    const room = Math.min(input.concurrency - running.size, batchSize - startedThisBatch);
    if (!state.paused && !state.cancelRequested && refillDue()) {
      const started = await db.startFleetMachines({
        tenantId: input.tenantId,
        fleetRunId: input.fleetRunId,
        fleetWorkflowId: workflowInfo().workflowId,
        profileId: input.profileId,
        fromSeq: state.nextSeq,
        limit: room,
        runOptions: {
          ...(input.offlineLimitSeconds !== undefined
            ? { offlineLimitSeconds: input.offlineLimitSeconds }
            : {}),
          ...(input.failedHoldSeconds !== undefined ? { failedHoldSeconds: input.failedHoldSeconds } : {}),
          ...(input.retryBackoffSeconds !== undefined
            ? { retryBackoffSeconds: input.retryBackoffSeconds }
            : {}),
        },
      });
      // The rows are gone: nothing left to start.
      if (started.length === 0) state.nextSeq = state.total + 1;
      for (const machine of started) {
        running.add(machine.workflowId);
        state.nextSeq = machine.seq + 1;
        startedThisBatch++;
        const settled = early.get(machine.workflowId);
        if (settled) {
          early.delete(machine.workflowId);
          settledQueue.push(settled);
        }
      }
    }

    // The portal's row: on every status change, and the counts at most every 5 seconds.
    const status = state.cancelRequested ? 'cancelling' : state.paused ? 'paused' : 'running';
    const counts = `${state.passed}:${state.failed}:${state.cancelled}`;
    const clock = new Date().getTime();
    if (status !== lastRecorded || (counts !== lastCounts && clock - countsRecordedAt >= 5000)) {
      if (status !== lastRecorded) upsertSearchAttributes([{ key: RunStatusKey, value: status }]);
      lastRecorded = status;
      lastCounts = counts;
      countsRecordedAt = clock;
      await record(status);
    }

    const exhausted = state.nextSeq > state.total || state.cancelRequested;
    if (exhausted && running.size === 0) break;

    if (startedThisBatch >= batchSize || workflowInfo().continueAsNewSuggested) {
      // Hand the window over to a fresh history; the machines' runs keep signalling the same workflow id.
      while (settledQueue.length > 0) apply(settledQueue.shift()!);
      await continueAsNew<typeof fleetRunV1>({
        ...input,
        carried: {
          ...state,
          running: [...running],
          failedWaiting: [...failedWaiting],
          early: [...early.values()],
          batches: state.batches + 1,
        },
      });
    }

    const seenState = `${state.paused}:${state.cancelRequested}`;
    await condition(
      () =>
        settledQueue.length > 0 ||
        checkDue ||
        `${state.paused}:${state.cancelRequested}` !== seenState ||
        (!state.paused && !state.cancelRequested && refillDue()),
    );
  }

  const finalStatus = state.cancelRequested ? 'cancelled' : 'completed';
  finished = true;
  upsertSearchAttributes([{ key: RunStatusKey, value: finalStatus }]);
  // Final counts come from the machine_runs rows (never-started machines of a cancelled run included).
  const final = await record(finalStatus, true);
  Object.assign(state, final);
  const outcome = state.cancelRequested ? 'CANCELLED' : state.failed > 0 ? 'FAIL' : 'PASS';
  return {
    total: state.total,
    passed: state.passed,
    failed: state.failed,
    cancelled: state.cancelled,
    outcome,
  };
}
