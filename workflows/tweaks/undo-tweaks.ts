import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { AgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import type { MachineUndoUpdate, TweakUndoActivities } from '../../activities/tweaks/tweak-undo-activities';
import { StepKind, type StepPayloads, type TaskResult } from '../../infra/wire/agent-steps';
import { agentStepActivity, databaseLocalActivity } from '../activity-presets';
import { bootIdChangedSignal, type StepFailureDetails } from '../machines/contracts';
import { restartMachine } from '../machines/restart-machine';
import {
  UndoFailure,
  undoProgressQuery,
  type UndoTweaksInput,
  type UndoTweaksProgress,
  type UndoTweaksResult,
} from './contracts';
import { pinnedWhenVersioned } from '../versioning';

const db = proxyLocalActivities<TweakUndoActivities>(databaseLocalActivity);

/** Attempts of the undo step when the machine says another go may help (as provisioning's changes). */
const MAX_ATTEMPTS = 4;

// One machine's undo finishes on the build it started on (ADR 0049).
pinnedWhenVersioned(undoTweaks);

/**
 * Puts one machine's tweaked values back as the machine had them before Drydock changed them: the
 * agent's `tweaks.undo` step restores what it recorded (absent values deleted, hibernation as it
 * was) and drops each record; then, when something was put back, the machine restarts so every
 * value is read again. Cancelled the Temporal way (from the API or the Temporal UI): its agent task
 * is taken back if the machine has not picked it up, and its row says cancelled. Mirrors itself to
 * its machine_tweak_undos row (keyed by workflow id and run id).
 */
export async function undoTweaks(input: UndoTweaksInput): Promise<UndoTweaksResult> {
  const offlineLimit = input.offlineLimitSeconds ?? 3600;
  const backoff = input.retryBackoffSeconds ?? 5;
  const progress: UndoTweaksProgress = {
    state: 'starting',
    attempts: 0,
    restored: [],
    failed: [],
    lastError: null,
    reboots: [],
  };
  const bootIdsSeen: string[] = [];
  setHandler(undoProgressQuery, () => progress);
  setHandler(bootIdChangedSignal, ({ bootId }) => void bootIdsSeen.push(bootId));

  const { workflowId, runId } = workflowInfo();
  const record = (
    update: Omit<MachineUndoUpdate, 'tenantId' | 'undoId' | 'machineId' | 'workflowId' | 'runId'>,
  ) =>
    db.recordMachineUndo({
      tenantId: input.tenantId,
      undoId: input.undoId,
      machineId: input.machineId,
      workflowId,
      runId,
      ...update,
    });
  const dispatch = <K extends StepKind>(
    kind: K,
    payload: StepPayloads[K],
    summary: string,
    limit = offlineLimit,
  ) =>
    proxyActivities<AgentChannelActivities>(
      agentStepActivity(kind === StepKind.BootId ? 'check' : 'change', limit, summary),
    ).dispatchAgentTask({
      tenantId: input.tenantId,
      machineId: input.machineId,
      kind,
      payload,
      deliverWithinSeconds: limit,
    });

  try {
    // Ended before it started (the fleet-wide undo was cancelled first): nothing to do.
    if ((await record({ status: 'running' })).ended) {
      progress.state = 'cancelled';
      return { outcome: 'cancelled', restored: 0, failed: 0, reason: 'the undo had ended before it started' };
    }
    progress.state = 'restoring';
    const payload = input.tweaks && input.tweaks.length > 0 ? { tweaks: input.tweaks } : {};
    let result: TaskResult<StepKind.TweaksUndo>;
    for (;;) {
      progress.attempts += 1;
      try {
        result = await dispatch(
          StepKind.TweaksUndo,
          payload,
          `tweaks.undo: put back ${input.tweaks?.length ? input.tweaks.join(', ') : 'every recorded tweak'} (attempt ${progress.attempts})`,
        );
        break;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const info = describeFailure(err);
        progress.lastError = { type: info.type, message: info.message };
        if (!info.retryable || progress.attempts >= MAX_ATTEMPTS) throw err;
        await sleep(`${backoff * 2 ** (progress.attempts - 1)} seconds`);
      }
    }
    progress.restored = result.restored;
    progress.failed = result.failed;
    if (result.reboot === true && input.restart !== false) {
      progress.state = 'rebooting';
      await record({ status: 'rebooting', restored: result.restored, failures: result.failed });
      const reason = 'tweaks put back';
      const { seconds } = await restartMachine({
        reason,
        offlineLimitSeconds: offlineLimit,
        bootIdsSeen: () => bootIdsSeen,
        dispatch: (kind, p, limit) =>
          dispatch(
            kind,
            p,
            kind === StepKind.Reboot ? `system.reboot: ${reason}` : 'system.boot-id: back?',
            limit,
          ),
      });
      progress.reboots.push({ reason, seconds });
    }
    const incomplete = result.failed.length > 0;
    const lastError = incomplete
      ? {
          type: UndoFailure.UndoIncomplete,
          message: `${result.failed.length} value(s) not put back: ${result.failed.map((f) => `${f.key} (${f.message})`).join('; ')}`,
        }
      : null;
    progress.state = incomplete ? 'failed' : 'passed';
    progress.lastError = lastError;
    await record({
      status: progress.state,
      restored: result.restored,
      failures: result.failed,
      lastError,
      finished: true,
    });
    return {
      outcome: progress.state,
      restored: result.restored.length,
      failed: result.failed.length,
      ...(lastError ? { reason: lastError.message } : {}),
    };
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled (API or Temporal UI): the row and the agent task say so, whatever else is cancelled.
      await CancellationScope.nonCancellable(async () => {
        progress.state = 'cancelled';
        await record({
          status: 'cancelled',
          finished: true,
          withdrawTasks: 'the undo was cancelled before the machine picked it up',
        });
      });
      throw err;
    }
    const info = describeFailure(err);
    progress.state = 'failed';
    progress.lastError = { type: info.type, message: info.message };
    await record({
      status: 'failed',
      lastError: progress.lastError,
      finished: true,
      withdrawTasks: 'the undo run failed',
    });
    return { outcome: 'failed', restored: 0, failed: 0, reason: info.message };
  }
}

/** The failure as an operator should read it, and whether another attempt may help. */
function describeFailure(err: unknown): { type: string; message: string; retryable: boolean } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure)
    return {
      type: cause.type ?? 'Error',
      message: cause.message,
      retryable: (cause.details?.[0] as StepFailureDetails | undefined)?.retryable ?? false,
    };
  if (cause instanceof TimeoutFailure)
    return {
      type: UndoFailure.MachineUnreachable,
      message: 'the machine did not pick up or finish the undo within the offline limit',
      retryable: false,
    };
  return {
    type: (cause as Error)?.name ?? 'Error',
    message: (cause as Error)?.message ?? String(cause),
    retryable: false,
  };
}
