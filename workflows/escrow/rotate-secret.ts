import {
  ApplicationFailure,
  condition,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { AgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import type { RotationActivities } from '../../activities/escrow/rotation-activities';
import { StepFailure, type EscrowStepKind, type StepOutcome } from '../../infra/wire/agent-steps';
import { agentStepActivity, databaseActivity } from '../activity-presets';
import type { PlanStep } from '../provisioning/contracts';
import { describeFailure } from '../provisioning/machine-run';
import {
  rotateLocalAdminStatusQuery,
  rotationRequestedSignal,
  secretRevealedSignal,
  type RotateLocalAdminInput,
  type RotateLocalAdminResult,
  type RotateLocalAdminStatus,
  type RotationTrigger,
} from './contracts';
import { escrowBeforeChange } from './escrow-before-change';

const db = proxyActivities<RotationActivities>(databaseActivity);
/** Attempts of one task when its failure is retryable (as provisioning's `change` steps). */
const MAX_ATTEMPTS = 4;
const now = () => new Date().getTime();

/** A task's failure that running it again cannot help, or whose attempts are spent. */
export class TaskFailed extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The rotation of one machine's escrowed secret, whatever its kind (ADR 0047): `rotateOnce` makes
 * one escrow-before-change rotation; this runs it when it is due and keeps the record.
 *
 * After a reveal it first waits for the grace to end: each reveal (the `secretRevealed` signal,
 * sent with signal-with-start) moves the end to that reveal plus the grace, so everyone who
 * revealed gets the whole grace. A reveal that arrives while the secret is being rotated asks for
 * one more rotation after its grace (it may have revealed the new version). The start and the
 * outcome are audit events (`escrow.rotation-started`, `escrow.rotated` or `escrow.rotation-failed`);
 * `auditData` is added to the first and the last (what was rotated, when it is not the local admin).
 *
 * A revealed secret is not left on the machine because one try failed there (the laptop was off
 * past the offline limit, a task failed): with `retryFailedAfterSeconds` the rotation is tried
 * again after a pause that doubles per failure (at most a day), for `retryFailedForSeconds` after
 * the first failure; each failure is audited with the time of the next try. An on-demand request
 * (`rotationRequested`) ends such a pause. A failure before anything reached the machine (nothing
 * to rotate, the machine retired) ends the run at once.
 */
export async function rotateAfterReveals(
  input: RotateLocalAdminInput,
  rotateOnce: (trigger: RotationTrigger) => Promise<{ secretVersion: number }>,
  auditData: Record<string, unknown> = {},
): Promise<RotateLocalAdminResult> {
  const graceMs = (input.graceSeconds ?? 0) * 1000;
  const status: RotateLocalAdminStatus = {
    state: 'rotating',
    rotateAt: null,
    reveals: 0,
    rotations: 0,
    failures: 0,
    lastError: null,
  };
  let graceEndsAt = input.trigger === 'reveal' ? now() + graceMs : now();
  /** When a failed rotation is tried again (0: no try is waiting). */
  let retryAt = 0;
  let firstFailureAt: number | null = null;
  const dueAt = () => Math.max(graceEndsAt, retryAt);
  setHandler(rotateLocalAdminStatusQuery, () => status);
  setHandler(secretRevealedSignal, () => {
    status.reveals += 1;
    graceEndsAt = Math.max(graceEndsAt, now() + graceMs);
  });
  setHandler(rotationRequestedSignal, () => {
    retryAt = 0;
  });
  const { workflowId, runId } = workflowInfo();

  let trigger: RotationTrigger = input.trigger;
  for (let round = 1; ; round++) {
    if (dueAt() > now()) {
      // A reveal during the wait moves the end, a request ends a retry's pause: wait again for the new one.
      while (dueAt() > now()) {
        const until = dueAt();
        status.state = retryAt > graceEndsAt ? 'waiting-to-retry' : 'waiting-for-grace';
        status.rotateAt = new Date(until).toISOString();
        await condition(() => dueAt() !== until, until - now());
      }
      status.rotateAt = null;
    }
    status.state = 'rotating';
    const revealsBefore = status.reveals;
    const key = `${workflowId}:${runId}:${round}`;
    await db.auditRotation({
      tenantId: input.tenantId,
      machineId: input.machineId,
      action: 'escrow.rotation-started',
      actor: input.requestedBy,
      key,
      data: {
        ...auditData,
        trigger,
        workflowId,
        ...(trigger === 'reveal' ? { reveals: status.reveals } : {}),
        ...(status.failures ? { attempt: status.failures + 1 } : {}),
      },
    });
    let secretVersion: number;
    try {
      ({ secretVersion } = await rotateOnce(trigger));
    } catch (err) {
      const info =
        err instanceof TaskFailed ? { type: err.type, message: err.message } : describeFailure(err);
      status.failures += 1;
      status.lastError = info.message;
      firstFailureAt ??= now();
      const revealed = input.trigger === 'reveal' || status.reveals > 0;
      const pause =
        err instanceof TaskFailed && revealed ? retryPause(input, status.failures, firstFailureAt) : null;
      const next = pause === null ? null : now() + pause;
      await db.auditRotation({
        tenantId: input.tenantId,
        machineId: input.machineId,
        action: 'escrow.rotation-failed',
        actor: `workflow:${workflowId}`,
        key,
        data: {
          ...auditData,
          trigger,
          type: info.type,
          reason: info.message,
          workflowId,
          // Given up on a value someone has seen: the activity raises an alert beside the event.
          ...(next === null
            ? revealed
              ? { stillRevealed: true }
              : {}
            : { retryAt: new Date(next).toISOString() }),
        },
      });
      if (next === null) {
        status.state = 'failed';
        const tries =
          status.failures > 1
            ? ` (${status.failures} tries since ${new Date(firstFailureAt).toISOString()})`
            : '';
        throw ApplicationFailure.create({
          type: info.type,
          message: `${info.message}${tries}`,
          nonRetryable: true,
        });
      }
      retryAt = next;
      continue;
    }
    status.rotations += 1;
    retryAt = 0;
    if (status.reveals === revealsBefore) {
      status.state = 'rotated';
      return { outcome: 'rotated', secretVersion, rotations: status.rotations };
    }
    // Revealed while rotating (maybe the new version): one more rotation after its grace.
    trigger = 'reveal';
  }
}

/** The longest pause between two tries of a failed rotation. */
const MAX_RETRY_PAUSE_SECONDS = 24 * 3600;
/** How long a failed rotation of a revealed secret is tried again when the input does not say. */
const DEFAULT_RETRY_FOR_SECONDS = 7 * 24 * 3600;

/**
 * The pause before the next try after the `failures`-th failure (ms), or null when the run fails
 * for good: no retries asked for, or the next try would come after the retry window.
 */
function retryPause(input: RotateLocalAdminInput, failures: number, firstFailureAt: number): number | null {
  if (!input.retryFailedAfterSeconds) return null;
  const pause = Math.min(input.retryFailedAfterSeconds * 2 ** (failures - 1), MAX_RETRY_PAUSE_SECONDS) * 1000;
  const window = (input.retryFailedForSeconds ?? DEFAULT_RETRY_FOR_SECONDS) * 1000;
  return now() + pause - firstFailureAt <= window ? pause : null;
}

/**
 * One agent task with the retries provisioning gives a `change` step: queued while the machine is
 * offline (up to the offline limit: an offline machine fails this machine's rotation only, as
 * `MachineUnreachable`), run again on a retryable failure with a doubling pause.
 */
export async function runRotationTask(input: RotateLocalAdminInput, task: PlanStep): Promise<StepOutcome> {
  const offline = input.offlineLimitSeconds ?? 3600;
  const backoff = input.retryBackoffSeconds ?? 5;
  const { dispatchAgentTask } = proxyActivities<AgentChannelActivities>(
    agentStepActivity('change', offline, `${task.key}: ${task.label}`),
  );
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await dispatchAgentTask({
        tenantId: input.tenantId,
        machineId: input.machineId,
        kind: task.kind,
        payload: task.payload,
        deliverWithinSeconds: offline,
      });
      return { kind: task.kind, result } as StepOutcome;
    } catch (err) {
      const info = describeFailure(err);
      if (!info.retryable || attempt >= MAX_ATTEMPTS) {
        const gaveUp = info.retryable ? ` (gave up after ${attempt} attempts)` : '';
        throw new TaskFailed(info.type, `${task.key}: ${info.message}${gaveUp}`);
      }
      await sleep(`${backoff * 2 ** (attempt - 1)} seconds`);
    }
  }
}

/** One escrow-before-change rotation of `step` on the input's machine, its tasks run with `runRotationTask`. */
export function rotateWith(
  input: RotateLocalAdminInput,
  trigger: RotationTrigger,
  step: PlanStep<EscrowStepKind>,
): Promise<{ secretVersion: number }> {
  return escrowBeforeChange({
    tenantId: input.tenantId,
    machineId: input.machineId,
    step,
    run: (task) => runRotationTask(input, task),
    pendingLost: (err) => err instanceof TaskFailed && err.type === StepFailure.EscrowPendingLost,
    trigger,
  });
}
