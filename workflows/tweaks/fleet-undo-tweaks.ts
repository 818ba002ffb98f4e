import {
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { TweakUndoActivities } from '../../activities/tweaks/tweak-undo-activities';
import { databaseLocalActivity } from '../activity-presets';
import {
  fleetUndoProgressQuery,
  type FleetUndoCounts,
  type FleetUndoTweaksInput,
  type FleetUndoTweaksProgress,
  type FleetUndoTweaksResult,
} from './contracts';

const db = proxyLocalActivities<TweakUndoActivities>(databaseLocalActivity);
/** The wait for the machines: as long as they may take, alive while it heartbeats. */
const watch = proxyActivities<TweakUndoActivities>({
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * A fleet-wide undo: an undoTweaks run per machine fixed when it was started. The runs are started
 * by a local activity a page at a time, a few calls at once inside it (not one command per workflow
 * task, not child workflows: each run outlives nothing and reports to its own row), then one
 * activity waits for their rows to end — and ends those of runs closed outside Drydock. Cancelled
 * the Temporal way, it cancels every machine's run (again from an activity) and waits for their
 * rows before it records itself cancelled.
 */
export async function fleetUndoTweaks(input: FleetUndoTweaksInput): Promise<FleetUndoTweaksResult> {
  const page = input.startPage ?? 100;
  const checkSeconds = input.checkSeconds ?? 5;
  const progress: FleetUndoTweaksProgress = { state: 'starting', started: 0, total: input.total };
  setHandler(fleetUndoProgressQuery, () => progress);
  const { runId } = workflowInfo();
  const record = (
    status: 'running' | 'cancelling' | 'cancelled' | 'completed' | 'failed',
    finished = false,
  ) =>
    db.recordTweakUndo({ tenantId: input.tenantId, fleetUndoId: input.fleetUndoId, runId, status, finished });
  const waitForMachines = () =>
    watch.awaitMachineUndos.executeWithOptions(
      {
        startToCloseTimeout: '30 days',
        heartbeatTimeout: '1 minute',
        retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
        summary: `wait for ${input.total} machine(s) to put their tweaks back`,
      },
      [{ tenantId: input.tenantId, fleetUndoId: input.fleetUndoId, checkSeconds }],
    );
  const result = (counts: FleetUndoCounts, outcome: FleetUndoTweaksResult['outcome']) => ({
    ...counts,
    outcome,
  });

  try {
    await record('running');
    for (let from = 1; from <= input.total;) {
      const { started, lastSeq } = await db.startMachineUndos({
        tenantId: input.tenantId,
        fleetUndoId: input.fleetUndoId,
        fromSeq: from,
        limit: page,
        runOptions: input.runOptions,
      });
      progress.started += started;
      if (lastSeq < from) break; // no rows left
      from = lastSeq + 1;
    }
    progress.state = 'waiting';
    const counts = await waitForMachines();
    progress.state = 'done';
    await record('completed', true);
    return result(counts, counts.failed > 0 ? 'FAIL' : counts.cancelled > 0 ? 'CANCELLED' : 'PASS');
  } catch (err) {
    if (!isCancellation(err)) {
      await record('failed', true);
      throw err;
    }
    // Cancelled: every machine's run is cancelled too, and the rows are waited for, whatever else
    // is cancelled meanwhile.
    await CancellationScope.nonCancellable(async () => {
      progress.state = 'cancelling';
      await record('cancelling');
      for (let after = 0; ;) {
        const { lastSeq } = await db.cancelMachineUndos({
          tenantId: input.tenantId,
          fleetUndoId: input.fleetUndoId,
          afterSeq: after,
          limit: page,
        });
        if (lastSeq === 0) break;
        after = lastSeq;
      }
      await waitForMachines();
      progress.state = 'done';
      await record('cancelled', true);
    });
    throw err;
  }
}
