import { CancellationScope, continueAsNew, isCancellation, patched } from '@temporalio/workflow';
import type { FleetRunInput, FleetRunResult } from './contracts';
import { FleetRunState } from './fleet-run-state';
import { fleetRunV1 } from './v1/fleet-run-v1';

/**
 * A fleet-wide run: the selection's machines × one profile, a provisionMachine run per machine in
 * a sliding window of `concurrency`, started by a local activity and settling by signal (ADR 0013).
 * Continue-as-new every `batchSize` starts carries only the window. Every `reconcileSeconds` it
 * checks the runs it waits for (ADR 0014). A cancel — from Drydock or from Temporal — reaches every
 * started machine run through an activity and ends the run cancelled. The pieces are in
 * fleet-run-state.ts; runs started before this version replay the v1 code (ADR 0016).
 */
export async function fleetRun(input: FleetRunInput): Promise<FleetRunResult> {
  if (!patched('fleet-run-v2')) return fleetRunV1(input);
  const fleet = new FleetRunState(input);
  try {
    await fleet.begin();
    for (;;) {
      fleet.applySettles();
      await fleet.checkIfDue();
      await fleet.cancelIfAsked();
      await fleet.refillIfDue();
      await fleet.recordIfChanged();
      if (fleet.done()) return await fleet.finish();
      if (fleet.shouldContinueAsNew()) await continueAsNew<typeof fleetRun>(fleet.carry());
      await fleet.waitForWork();
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled in Temporal: the machines are cancelled and the row ends true before it closes.
    await CancellationScope.nonCancellable(async () => {
      fleet.requestCancel();
      await fleet.cancelIfAsked();
      await fleet.finish();
    });
    throw err;
  }
}
