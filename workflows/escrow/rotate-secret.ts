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
    lastError: null,
  };
  let rotateAt = input.trigger === 'reveal' ? now() + graceMs : now();
  setHandler(rotateLocalAdminStatusQuery, () => status);
  setHandler(secretRevealedSignal, () => {
    status.reveals += 1;
    rotateAt = Math.max(rotateAt, now() + graceMs);
  });
  const { workflowId, runId } = workflowInfo();

  let trigger: RotationTrigger = input.trigger;
  for (let round = 1; ; round++) {
    if (rotateAt > now()) {
      status.state = 'waiting-for-grace';
      // A reveal during the wait moves the end: wait again for the new one.
      while (rotateAt > now()) {
        const until = rotateAt;
        status.rotateAt = new Date(until).toISOString();
        await condition(() => rotateAt !== until, until - now());
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
      },
    });
    let secretVersion: number;
    try {
      ({ secretVersion } = await rotateOnce(trigger));
    } catch (err) {
      const info =
        err instanceof TaskFailed ? { type: err.type, message: err.message } : describeFailure(err);
      status.state = 'failed';
      status.lastError = info.message;
      await db.auditRotation({
        tenantId: input.tenantId,
        machineId: input.machineId,
        action: 'escrow.rotation-failed',
        actor: `workflow:${workflowId}`,
        key,
        data: { ...auditData, trigger, type: info.type, reason: info.message },
      });
      throw ApplicationFailure.create({ type: info.type, message: info.message, nonRetryable: true });
    }
    status.rotations += 1;
    if (status.reveals === revealsBefore) {
      status.state = 'rotated';
      return { outcome: 'rotated', secretVersion, rotations: status.rotations };
    }
    // Revealed while rotating (maybe the new version): one more rotation after its grace.
    trigger = 'reveal';
  }
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
