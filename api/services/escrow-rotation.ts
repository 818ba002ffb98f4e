import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowIdConflictPolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { ClientSchema, MachineSchema, Role, SiteSchema } from '../../infra/db/entities';
import type { EscrowedSecretRow } from '../../infra/db/escrow';
import {
  rotateBitLockerWorkflowId,
  rotateLocalAdminsWorkflowId,
  rotateLocalAdminWorkflowId,
  rotationRequestedSignal,
  rotationScheduleId,
  secretRevealedSignal,
  type RotateLocalAdminInput,
  type RotateLocalAdminsInput,
  type RotationScope,
} from '../../workflows/escrow/contracts';
import { MachineIdKey, SiteIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { appendAuditAs } from './audit';
import { ErrorCode, refuse } from './errors';
import { checkId } from './input';
import { isTemporalRefusal } from './live-query';
import { authorize, inTenant, type Caller, type ServiceContext } from './service-context';

/**
 * Rotation of local admin passwords (issue 16 "Reveal and rotation", ADR 0047): after a reveal, on
 * demand for a site or client, and on a site's or client's Temporal Schedule; and of BitLocker
 * recovery passwords after a reveal. The rotations
 * themselves are workflows (workflows/escrow/); here they are started, and the schedules kept.
 */

/** What rotating one machine's secret of each kind starts, and says when there is nothing to rotate. */
const machineRotations = {
  'local-admin-password': {
    workflowType: 'rotateLocalAdminPassword',
    workflowId: rotateLocalAdminWorkflowId,
    what: 'local admin password',
    nothing:
      'the machine has no escrowed local admin password: Drydock did not set one there (run a profile whose security phase does)',
  },
  'bitlocker-recovery-password': {
    workflowType: 'rotateBitLockerRecoveryPassword',
    workflowId: rotateBitLockerWorkflowId,
    what: 'BitLocker recovery password',
    nothing:
      'the machine has no escrowed BitLocker recovery password: Drydock did not turn BitLocker on there (run a profile whose security phase does)',
  },
} as const;

/**
 * Schedules the rotation that follows a reveal of a machine's local admin password or BitLocker
 * recovery password: signal-with-start of the machine's one rotation workflow of that kind, so a
 * second reveal during the grace joins the waiting rotation (and moves its end) instead of starting
 * another. Called by revealSecret after the reveal's audit event committed and BEFORE the
 * ciphertext is read: a failure here releases nothing (ROTATION_UNAVAILABLE) — a secret is never
 * handed out without its rotation on the way.
 */
export async function startPostRevealRotation(
  ctx: ServiceContext,
  caller: Caller,
  secret: Pick<EscrowedSecretRow, 'id' | 'machineId' | 'secretVersion' | 'kind'>,
): Promise<void> {
  const kind = secret.kind === 'bitlocker-recovery-password' ? secret.kind : 'local-admin-password';
  const bitlocker = kind === 'bitlocker-recovery-password';
  const rotation = machineRotations[kind];
  const input = machineRotationInput(ctx, caller, secret.machineId, 'reveal');
  try {
    await ctx.temporal.workflow.signalWithStart(rotation.workflowType, {
      workflowId: rotation.workflowId(caller.tenantId, secret.machineId),
      taskQueue: ctx.taskQueue,
      args: [input],
      signal: secretRevealedSignal,
      signalArgs: [{ secretId: secret.id, secretVersion: secret.secretVersion, actor: caller.actor }],
      typedSearchAttributes: [
        { key: TenantIdKey, value: caller.tenantId },
        { key: MachineIdKey, value: secret.machineId },
      ],
      staticSummary: `Rotate the ${rotation.what} of machine ${secret.machineId} after a reveal`,
    });
  } catch (err) {
    // The reveal is on the record; that nothing was released is too (best effort: the refusal stands either way).
    await inTenant(ctx, (em) =>
      appendAuditAs(em, caller, {
        action: 'escrow.reveal-withheld',
        subjectType: 'escrowed_secret',
        subjectId: secret.id,
        data: { machineId: secret.machineId, reason: 'rotation-unavailable' },
      }),
    ).catch(() => undefined);
    throw refuse(
      ErrorCode.RotationUnavailable,
      `the ${bitlocker ? 'recovery password' : 'password'}’s rotation after the reveal could not be scheduled, so it was not released; try again shortly`,
      { cause: err instanceof Error ? err.name : 'Error' },
    );
  }
}

/** The site or client, visible to the caller (NOT_FOUND otherwise, as for an id that never existed). */
async function scopeOf(ctx: ServiceContext, kind: RotationScope['kind'], id: string): Promise<RotationScope> {
  const checked = checkId(id, 'id');
  return inTenant(ctx, async (em) => {
    const found =
      kind === 'site'
        ? await em.findOne(SiteSchema, { id: checked })
        : await em.findOne(ClientSchema, { id: checked });
    if (!found) throw refuse(ErrorCode.NotFound, `${kind} not found`);
    return { kind, id: checked };
  });
}

const fleetInput = (
  ctx: ServiceContext,
  caller: Caller,
  scope: RotationScope,
  trigger: RotateLocalAdminsInput['trigger'],
  requestedBy: string,
): RotateLocalAdminsInput => ({
  tenantId: caller.tenantId,
  scope,
  trigger,
  requestedBy,
  concurrency: ctx.env.ESCROW_ROTATION_CONCURRENCY,
  offlineLimitSeconds: ctx.env.PROVISION_OFFLINE_LIMIT_SECONDS,
  graceSeconds: graceSecondsOf(ctx),
  ...retryOf(ctx),
});

/** A reveal's grace (ESCROW_ROTATION_GRACE_HOURS): every rotation carries it for the reveals that come while it runs. */
const graceSecondsOf = (ctx: ServiceContext) => Math.round(ctx.env.ESCROW_ROTATION_GRACE_HOURS * 3600);

/**
 * How a revealed secret's failed rotation is tried again (ESCROW_ROTATION_RETRY_HOURS and _DAYS):
 * every rotation carries it, for a reveal before or during it. None when the days are 0.
 */
const retryOf = (
  ctx: ServiceContext,
): Pick<RotateLocalAdminInput, 'retryFailedAfterSeconds' | 'retryFailedForSeconds'> =>
  ctx.env.ESCROW_ROTATION_RETRY_DAYS > 0
    ? {
        retryFailedAfterSeconds: Math.max(1, Math.round(ctx.env.ESCROW_ROTATION_RETRY_HOURS * 3600)),
        retryFailedForSeconds: Math.round(ctx.env.ESCROW_ROTATION_RETRY_DAYS * 86_400),
      }
    : {};

/** One machine's rotation as the API starts it: the grace, the offline limit, the retries. */
const machineRotationInput = (
  ctx: ServiceContext,
  caller: Caller,
  machineId: string,
  trigger: 'reveal' | 'on-demand',
): RotateLocalAdminInput => ({
  tenantId: caller.tenantId,
  machineId,
  trigger,
  requestedBy: caller.actor,
  graceSeconds: graceSecondsOf(ctx),
  offlineLimitSeconds: ctx.env.PROVISION_OFFLINE_LIMIT_SECONDS,
  retryBackoffSeconds: ctx.env.PROVISION_RETRY_BACKOFF_SECONDS,
  ...retryOf(ctx),
});

const searchAttributes = (tenantId: string, scope: RotationScope) => [
  { key: TenantIdKey, value: tenantId },
  ...(scope.kind === 'site' ? [{ key: SiteIdKey, value: scope.id }] : []),
];

/** Temporal not answering refuses an on-demand rotation (UNAVAILABLE): nothing was started or audited. */
async function startedOrUnavailable<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (isTemporalRefusal(err))
      throw refuse(
        ErrorCode.Unavailable,
        'Temporal did not answer, so no rotation was started; try again shortly',
      );
    throw err;
  }
}

/**
 * Rotates the local admin password of every machine of a site or client now (operator role). A
 * second request while one runs for the same site or client joins it (the same workflow id).
 * Audited: `escrow.rotation-requested`.
 */
export async function rotateLocalAdminPasswordsNow(
  ctx: ServiceContext,
  input: { kind: RotationScope['kind']; id: string },
): Promise<{ workflowId: string }> {
  const caller = authorize(ctx, Role.Operator);
  const scope = await scopeOf(ctx, input.kind, input.id);
  const workflowId = rotateLocalAdminsWorkflowId(caller.tenantId, scope);
  await startedOrUnavailable(() =>
    ctx.temporal.workflow.start('rotateLocalAdminPasswords', {
      workflowId,
      taskQueue: ctx.taskQueue,
      args: [fleetInput(ctx, caller, scope, 'on-demand', caller.actor)],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: searchAttributes(caller.tenantId, scope),
      staticSummary: `Rotate the local admin passwords of ${scope.kind} ${scope.id} (on demand)`,
    }),
  );
  await inTenant(ctx, (em) =>
    appendAuditAs(em, caller, {
      action: 'escrow.rotation-requested',
      subjectType: scope.kind,
      subjectId: scope.id,
      data: { workflowId },
    }),
  );
  return { workflowId };
}

/**
 * Rotates one machine's local admin password or BitLocker recovery password now (operator role): a
 * new one escrowed, then set on the machine in place of the old. What re-escrows a machine whose
 * escrowed version was lost (a restore from a backup older than its last escrow, ADR 0050), or
 * hurries a revealed secret's rotation waiting to try again after a failure. Only for a secret
 * Drydock escrowed there (NOTHING_TO_ROTATE otherwise, nothing started). A rotation already running
 * or waiting for a reveal's grace is joined (`joined`), not doubled; one waiting to try again after
 * a failure tries now. Audited: `escrow.rotation-requested`.
 */
export async function rotateMachineSecretNow(
  ctx: ServiceContext,
  machineId: string,
  kind: keyof typeof machineRotations,
): Promise<{ workflowId: string; joined: boolean }> {
  const caller = authorize(ctx, Role.Operator);
  const id = checkId(machineId, 'machineId');
  const rotation = machineRotations[kind];
  await inTenant(ctx, async (em) => {
    if (!(await em.findOne(MachineSchema, { id }))) throw refuse(ErrorCode.NotFound, 'machine not found');
    const [escrowed] = await em.execute<{ n: number }[]>(
      `select count(*)::int as n from escrowed_secrets where tenant_id = ? and machine_id = ? and kind = ?`,
      [caller.tenantId, id, kind],
    );
    if (!escrowed?.n) throw refuse(ErrorCode.NothingToRotate, rotation.nothing);
  });
  const workflowId = rotation.workflowId(caller.tenantId, id);
  const input = machineRotationInput(ctx, caller, id, 'on-demand');
  const joined = await startedOrUnavailable(async () => {
    // Only for the answer and the record: signal-with-start below is what makes a second request join.
    const running = await ctx.temporal.workflow
      .getHandle(workflowId)
      .describe()
      .then(
        (d) => d.status.name === 'RUNNING',
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        },
      );
    // Signal-with-start: a rotation waiting to retry a failed try is told to try now.
    await ctx.temporal.workflow.signalWithStart(rotation.workflowType, {
      workflowId,
      taskQueue: ctx.taskQueue,
      args: [input],
      signal: rotationRequestedSignal,
      signalArgs: [{ actor: caller.actor }],
      typedSearchAttributes: [
        { key: TenantIdKey, value: caller.tenantId },
        { key: MachineIdKey, value: id },
      ],
      staticSummary: `Rotate the ${rotation.what} of machine ${id} (on demand)`,
    });
    return running;
  });
  await inTenant(ctx, (em) =>
    appendAuditAs(em, caller, {
      action: 'escrow.rotation-requested',
      subjectType: 'machine',
      subjectId: id,
      data: { workflowId, kind, ...(joined ? { joined } : {}) },
    }),
  );
  return { workflowId, joined };
}

export interface RotationScheduleView {
  scheduleId: string;
  intervalDays: number;
  nextRunAt: Date | null;
}

/** The site's or client's rotation schedule (viewer role), or null when it has none. */
export async function passwordRotationSchedule(
  ctx: ServiceContext,
  input: { kind: RotationScope['kind']; id: string },
): Promise<RotationScheduleView | null> {
  const caller = authorize(ctx, Role.Viewer);
  const scope = await scopeOf(ctx, input.kind, input.id);
  const scheduleId = rotationScheduleId(caller.tenantId, scope);
  try {
    const described = await ctx.temporal.schedule.getHandle(scheduleId).describe();
    const every = Number(described.spec.intervals?.[0]?.every ?? 0);
    return {
      scheduleId,
      intervalDays: Math.round(every / 86_400_000),
      nextRunAt: described.info.nextActionTimes[0] ?? null,
    };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return null;
    throw err;
  }
}

/**
 * Sets (creates or changes) the site's or client's rotation schedule, every `intervalDays` days, or
 * removes it (null) — operator role. Its runs are rotateLocalAdminPasswords with trigger `schedule`;
 * overlaps are skipped. Audited: `escrow.rotation-schedule-set` / `escrow.rotation-schedule-removed`.
 */
export async function setPasswordRotationSchedule(
  ctx: ServiceContext,
  input: { kind: RotationScope['kind']; id: string; intervalDays: number | null },
): Promise<RotationScheduleView | null> {
  const caller = authorize(ctx, Role.Operator);
  if (
    input.intervalDays !== null &&
    (!Number.isInteger(input.intervalDays) || input.intervalDays < 1 || input.intervalDays > 365)
  )
    throw refuse(ErrorCode.BadUserInput, 'intervalDays: a whole number of days from 1 to 365, or null');
  const scope = await scopeOf(ctx, input.kind, input.id);
  const scheduleId = rotationScheduleId(caller.tenantId, scope);
  const handle = ctx.temporal.schedule.getHandle(scheduleId);
  if (input.intervalDays === null) {
    const removed = await handle.delete().then(
      () => true,
      (err: unknown) => {
        if (err instanceof ScheduleNotFoundError) return false;
        throw err;
      },
    );
    if (removed)
      await inTenant(ctx, (em) =>
        appendAuditAs(em, caller, {
          action: 'escrow.rotation-schedule-removed',
          subjectType: scope.kind,
          subjectId: scope.id,
          data: { scheduleId },
        }),
      );
    return null;
  }
  const every = input.intervalDays * 86_400_000;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'rotateLocalAdminPasswords',
    workflowId: rotateLocalAdminsWorkflowId(caller.tenantId, scope),
    taskQueue: ctx.taskQueue,
    args: [fleetInput(ctx, caller, scope, 'schedule', `schedule:${scheduleId}`)],
    typedSearchAttributes: searchAttributes(caller.tenantId, scope),
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 86_400_000 };
  await ctx.temporal.schedule
    .create({
      scheduleId,
      spec: { intervals: [{ every }] },
      action,
      policies,
      memo: { purpose: `Drydock: rotates the local admin passwords of ${scope.kind} ${scope.id}` },
    })
    .catch(async (err: unknown) => {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await handle.update((previous) => ({
        ...previous,
        spec: { intervals: [{ every }] },
        action,
        policies,
      }));
    });
  await inTenant(ctx, (em) =>
    appendAuditAs(em, caller, {
      action: 'escrow.rotation-schedule-set',
      subjectType: scope.kind,
      subjectId: scope.id,
      data: { scheduleId, intervalDays: input.intervalDays },
    }),
  );
  return passwordRotationSchedule(ctx, scope);
}
