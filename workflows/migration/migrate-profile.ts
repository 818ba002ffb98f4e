import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { MigrationActivities } from '../../activities/migration/migration-activities';
import type { AgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import { StepKind, type StepPayloads, type TaskResult } from '../../infra/wire/agent-steps';
import { agentStepActivity, databaseLocalActivity, type AgentStepPolicy } from '../activity-presets';
import type { StepFailureDetails } from '../machines/contracts';
import {
  decideRetireUpdate,
  MigrationFailure,
  migrationAwaitingDecisionSignal,
  migrationProgressQuery,
  type MigrateProfileInput,
  type MigrateProfileResult,
  type MigrationProgress,
  type MigrationState,
  type RetireDecision,
} from './contracts';
import {
  backupPayload,
  changeStep,
  checkPayload,
  signOutMessage,
  verifyPayload,
  type ResolvedMigration,
} from './migration-steps';
import { pinnedWhenVersioned } from '../versioning';

const db = proxyLocalActivities<MigrationActivities>(databaseLocalActivity);

/** Attempts of a step the machine says may pass on another go. */
const MAX_ATTEMPTS = 4;

// A migration's saga (and its compensation) finishes on the build it started on (ADR 0049).
pinnedWhenVersioned(migrateProfile);

/**
 * One user's profile on one machine, as a saga (docs/migration.md, ADR 0036): preconditions (the
 * user asked to sign out and waited for, with a deadline) → backup on the machine (its checksum
 * kept here) → the mode's change → first-sign-in repair → verify → the operator's decision →
 * retire the old account. Any failure or a cancel once the change has been sent compensates
 * from the backup (`profile.restore`); each step is idempotent on the agent, so a worker or agent kill at any step
 * ends fully migrated or exactly as before.
 */
export async function migrateProfile(input: MigrateProfileInput): Promise<MigrateProfileResult> {
  const offline = input.offlineLimitSeconds ?? 3600;
  const progress: MigrationProgress = {
    state: 'checking',
    sourceSid: null,
    targetSid: null,
    backupChecksum: null,
    changed: [],
    notMovable: [],
    verifyFailed: [],
    restored: [],
    lastError: null,
  };
  let decision: RetireDecision | null = null;
  setHandler(migrationProgressQuery, () => progress);
  setHandler(
    decideRetireUpdate,
    (d) => {
      decision = d;
      return progress.state;
    },
    {
      validator: (d) => {
        if (progress.state !== 'awaiting-approval')
          throw new Error(`the migration is ${progress.state}, not waiting for a decision`);
        if (!['retire', 'keep', 'roll-back'].includes(d.decision))
          throw new Error(`unknown decision ${String(d.decision)}`);
        if (d.decision === 'retire' && input.retire === 'keep')
          throw new Error('this migration keeps the old account: nothing to retire');
      },
    },
  );
  const dispatch = <K extends StepKind>(kind: K, payload: StepPayloads[K], policy: AgentStepPolicy) =>
    proxyActivities<AgentChannelActivities>(
      agentStepActivity(policy, offline, `${kind}: ${input.mode} ${input.source}`),
    ).dispatchAgentTask({
      tenantId: input.tenantId,
      machineId: input.machineId,
      kind,
      payload,
      deliverWithinSeconds: offline,
    });
  // A step the machine says may pass on another go is tried again (idempotent on the agent); others fail the saga.
  const step = async <K extends StepKind>(
    kind: K,
    payload: StepPayloads[K],
    policy: AgentStepPolicy = 'change',
  ) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await dispatch(kind, payload, policy);
      } catch (err) {
        const cause = err instanceof ActivityFailure ? err.cause : undefined;
        const retryable =
          cause instanceof ApplicationFailure &&
          (cause.details?.[0] as StepFailureDetails | undefined)?.retryable === true;
        if (!retryable || attempt >= MAX_ATTEMPTS) throw err;
        await sleep(`${(input.retryBackoffSeconds ?? 5) * attempt} seconds`);
      }
    }
  };
  const fail = (type: MigrationFailure, message: string) =>
    ApplicationFailure.create({ type, message, nonRetryable: true });

  const { workflowId, runId } = workflowInfo();
  /** Each state change is mirrored to the run's row (per-user progress in GraphQL). */
  const enter = async (state: MigrationState, finished = false) => {
    progress.state = state;
    return db.recordProfileMigration({
      tenantId: input.tenantId,
      migrationId: input.migrationId,
      machineId: input.machineId,
      workflowId,
      runId,
      progress,
      finished,
    });
  };

  if ((await enter('checking')).ended) {
    progress.state = 'cancelled';
    return { outcome: 'cancelled', reason: 'the migration had ended before it started' };
  }
  let backedUp = false;
  let changing = false;
  try {
    const resolved = await preconditions(input, progress, step, enter);
    // From here on a failure compensates: a half-made backup is made again, the restore needs the whole.
    backedUp = true;
    await enter('backing-up');
    progress.backupChecksum = (await step(StepKind.ProfileBackup, backupPayload(input, resolved))).checksum;
    changing = true;
    await enter('migrating');
    const change = changeStep(input, resolved);
    // Re-assigning or copying a large profile takes long: the install budget (an hour a delivery).
    const policy = input.mode === 'cloud' ? 'change' : 'install';
    progress.changed = (await step(change.kind, change.payload as never, policy)).changed;
    if (input.mode === 'in-place') {
      await enter('repairing');
      const repair = await step(StepKind.ProfileRepair, {
        backupId: input.migrationId,
        sourceSid: resolved.sourceSid,
        targetSid: resolved.targetSid,
        profilePath: resolved.profilePath,
      });
      progress.notMovable = repair.notMovable;
    }
    await enter('verifying');
    const verify = await step(StepKind.ProfileVerify, verifyPayload(input, resolved), 'check');
    progress.verifyFailed = verify.items.filter((i) => !i.pass).map((i) => `${i.item}: ${i.detail}`);
    if (progress.verifyFailed.length > 0)
      throw fail(MigrationFailure.VerifyFailed, progress.verifyFailed.join('; '));
    await enter('awaiting-approval');
    // In a batch, the window's slot is free now: the machine's work is done until the decision.
    const parent = workflowInfo().parent;
    if (parent)
      await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(
        migrationAwaitingDecisionSignal,
        {
          migrationId: input.migrationId,
        },
      );
    await condition(() => decision !== null);
    if (decision!.decision === 'roll-back')
      throw fail(MigrationFailure.DecisionRejected, `rolled back by ${decision!.actor}`);
    if (decision!.decision === 'retire' && input.retire !== 'keep') {
      await enter('retiring');
      await step(StepKind.ProfileRetire, {
        backupId: input.migrationId,
        sourceSid: resolved.sourceSid,
        action: input.retire,
      });
    }
    await enter('passed', true);
    return { outcome: 'passed' };
  } catch (err) {
    const cancelled = isCancellation(err);
    progress.lastError = describe(err);
    // The compensation and the last record run even when the run was cancelled; both are idempotent.
    // A backup that failed (or was cancelled) changed nothing but its own folder, and the restore
    // refuses to run without a whole backup: there is nothing to put back (before this patch, the
    // restore was sent and failed, and a machine as it was before was reported as needing an engineer).
    const compensate = backedUp && (changing || !patched('migration-restore-only-after-change'));
    await CancellationScope.nonCancellable(async () => {
      if (compensate) {
        await enter('rolling-back');
        try {
          progress.restored = (await step(StepKind.ProfileRestore, { backupId: input.migrationId })).restored;
          progress.state = cancelled ? 'cancelled' : 'rolled-back';
        } catch (undoErr) {
          progress.state = 'failed';
          progress.lastError = {
            type: MigrationFailure.RollbackFailed,
            message: `${describe(undoErr).message} (after: ${progress.lastError!.message})`,
          };
        }
      } else if (backedUp) progress.state = cancelled ? 'cancelled' : 'rolled-back';
      else progress.state = cancelled ? 'cancelled' : 'failed';
      await enter(progress.state, true);
    });
    if (cancelled) throw err;
    const outcome = progress.state === 'rolled-back' ? 'rolled-back' : 'failed';
    return { outcome, reason: progress.lastError.message };
  }
}

type Step = <K extends StepKind>(
  kind: K,
  payload: StepPayloads[K],
  policy?: AgentStepPolicy,
) => Promise<TaskResult<K>>;

/** Checks the machine; while the user is signed in, asks them once to sign out and looks again until the deadline. */
async function preconditions(
  input: MigrateProfileInput,
  progress: MigrationProgress,
  step: Step,
  enter: (state: MigrationState) => Promise<unknown>,
): Promise<ResolvedMigration> {
  const deadline = input.signOutDeadlineSeconds ?? 3600;
  const poll = input.signOutPollSeconds ?? 60;
  let waited = 0;
  let told = false;
  for (;;) {
    const check = await step(StepKind.ProfileCheck, checkPayload(input), 'check');
    progress.sourceSid = check.sourceSid;
    progress.targetSid = check.targetSid;
    const blocking = check.checks.filter((c) => !c.ok && c.check !== 'signed-out');
    if (blocking.length > 0)
      throw ApplicationFailure.create({
        type: MigrationFailure.PreconditionFailed,
        message: blocking.map((c) => `${c.check}: ${c.detail}`).join('; '),
        nonRetryable: true,
      });
    if (!check.loaded)
      return {
        sourceSid: check.sourceSid!,
        targetSid: check.targetSid!,
        profilePath: check.profilePath!,
        targetProfilePath: check.targetProfilePath,
      };
    if (waited >= deadline)
      throw ApplicationFailure.create({
        type: MigrationFailure.SignOutTimeout,
        message: `the user was still signed in after ${deadline} s`,
        nonRetryable: true,
      });
    if (progress.state !== 'waiting-for-sign-out') await enter('waiting-for-sign-out');
    if (!told) {
      await step(StepKind.ProfileNotify, {
        sid: check.sourceSid!,
        message: signOutMessage(Math.ceil(deadline / 60)),
        seconds: deadline,
      });
      told = true;
    }
    await sleep(`${poll} seconds`);
    waited += poll;
  }
}

function describe(err: unknown): { type: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  return { type: (cause as Error)?.name ?? 'Error', message: (cause as Error)?.message ?? String(cause) };
}
