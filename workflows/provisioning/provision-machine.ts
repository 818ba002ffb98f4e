import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  patched,
} from '@temporalio/workflow';
import { type ProvisionMachineInput, type ProvisionMachineResult } from './contracts';
import { MachineRun } from './machine-run';
import { provisionMachineV1 } from './v1/provision-machine-v1';
import { pinnedWhenVersioned } from '../versioning';

// A machine run finishes on the build it started on (ADR 0049): hours long, through reboots.
pinnedWhenVersioned(provisionMachine);

/**
 * Provisions one machine: the resolved profile's phases in order, each step an agent task with its
 * own limits and retries, reboots waited for through the boot id. Paused, resumed and cancelled
 * between steps; after a failure it waits for "retry from step" (or gives up after
 * `failedHoldSeconds`). Cancelled in the Temporal UI, it still settles its row, abandons its agent
 * tasks and tells its fleet. The pieces are in machine-run.ts; runs started before this version
 * replay the v1 code (ADR 0016).
 */
export async function provisionMachine(input: ProvisionMachineInput): Promise<ProvisionMachineResult> {
  if (!patched('machine-run-v2')) return provisionMachineV1(input);
  const run = new MachineRun(input);
  try {
    let from: string | null = null;
    let refresh = false;
    for (;;) {
      const stopped = await run.attempt(from, refresh);
      if (stopped === 'passed') return await run.finish('passed');
      if (stopped === 'cancelled') return await run.finish('cancelled', 'cancelled by an operator');
      const decision = await run.hold(stopped);
      if (decision.kind === 'cancel')
        return await run.finish('cancelled', 'cancelled by an operator after a failure');
      if (decision.kind === 'gave-up') return await run.giveUp(stopped);
      ({ fromStep: from, refresh } = decision);
    }
  } catch (err) {
    if (isCancellation(err))
      await CancellationScope.nonCancellable(() => run.finish('cancelled', 'cancelled in Temporal'));
    throw err;
  } finally {
    run.answerWaitingUpdate('the run has ended');
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}
