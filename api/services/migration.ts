import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  MachineSchema,
  ProfileMigrationBatchSchema,
  ProfileMigrationSchema,
  Role,
  type ProfileMigration,
  type ProfileMigrationBatch,
} from '../../infra/db/entities';
import type { MigrationMode, MigrationTarget } from '../../infra/wire/agent-steps';
import { entraObjectIdToSid, isEntraObjectId } from '../../infra/wire/entra-sid';
import { MigrationTargetSchema } from '../../infra/wire/profile-steps';
import {
  decideRetireUpdate,
  migrateProfilesProgressQuery,
  migrateProfilesWorkflowId,
  migrateProfileWorkflowId,
  migrationProgressQuery,
  type MigrateProfileInput,
  type MigrateProfilesInput,
  type MigrateProfilesProgress,
  type MigrationProgress,
  type RetireAction,
  type RetireDecision,
} from '../../workflows/migration/contracts';
import { FleetRunIdKey, MachineIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { audited, auditAfter } from './audit';
import { ErrorCode, refuse } from './errors';
import { checkId, checkIds, checkRange } from './input';
import { liveFigures } from './live-query';
import { authorize, inTenant, type ServiceContext } from './service-context';

/**
 * Profile migration (issue 17, docs/migration.md): re-assign a user's Windows profile to a new
 * account — in place, by copy, or through OneDrive — as a durable, reversible run per (machine,
 * user), one at a time or in batches. Operators start, decide and cancel; viewers watch.
 */

/** What a caller gives for the new owner of a profile. */
export interface TargetInput {
  kind: string;
  name?: string | null;
  objectId?: string | null;
  tenantId?: string | null;
  upn?: string | null;
}

export interface MigrationSettingsInput {
  mode: string;
  copyGroups?: boolean | null;
  retire?: string | null;
  excludeDirs?: readonly string[] | null;
  oneDriveTenantId?: string | null;
}

const targetCheck = TypeCompiler.Compile(MigrationTargetSchema);
const MODES: MigrationMode[] = ['in-place', 'copy', 'cloud'];
const RETIRE: RetireAction[] = ['keep', 'disable', 'delete'];
/** An account name as Windows takes it: no control characters, none of "/[]:;|=,+*?<>. */
const ACCOUNT =
  /^[^\u0000-\u001f"/[\]:;|=,+*?<>]{1,104}$|^[A-Za-z0-9-]{1,15}\\[^\u0000-\u001f"/[\]:;|=,+*?<>\\]{1,104}$/;
const SID = /^S-1-[0-9]+(-[0-9]+){1,14}$/;

function checkSource(source: string): string {
  const s = source.trim();
  if (!SID.test(s) && !ACCOUNT.test(s))
    throw refuse(
      ErrorCode.BadUserInput,
      'source: a SID (S-1-5-21-…) or an account name (name or DOMAIN\\name)',
    );
  return s;
}

/** The target as the agent takes it; an Entra user's SID is derived here from the object id. */
export function checkTarget(t: TargetInput): MigrationTarget {
  let target: unknown;
  if (t.kind === 'entra') {
    if (!t.objectId || !isEntraObjectId(t.objectId) || !t.tenantId || !isEntraObjectId(t.tenantId))
      throw refuse(ErrorCode.BadUserInput, 'target: an Entra ID user needs objectId and tenantId (GUIDs)');
    target = {
      kind: 'entra',
      objectId: t.objectId.toLowerCase(),
      tenantId: t.tenantId.toLowerCase(),
      sid: entraObjectIdToSid(t.objectId),
      ...(t.upn ? { upn: t.upn } : {}),
    };
  } else if (t.kind === 'local' || t.kind === 'domain') {
    const name = (t.name ?? '').trim();
    if (!ACCOUNT.test(name) || (t.kind === 'domain') !== name.includes('\\'))
      throw refuse(
        ErrorCode.BadUserInput,
        `target: a ${t.kind} account is ${t.kind === 'domain' ? 'DOMAIN\\name' : 'a name without a domain'}`,
      );
    target = { kind: t.kind, name };
  } else throw refuse(ErrorCode.BadUserInput, 'target.kind: local, domain or entra');
  if (!targetCheck.Check(target)) throw refuse(ErrorCode.BadUserInput, 'target: not a valid account');
  return target as MigrationTarget;
}

function checkSettings(s: MigrationSettingsInput) {
  if (!MODES.includes(s.mode as MigrationMode))
    throw refuse(ErrorCode.BadUserInput, 'mode: in-place, copy or cloud');
  const retire = (s.retire ?? 'keep') as RetireAction;
  if (!RETIRE.includes(retire)) throw refuse(ErrorCode.BadUserInput, 'retire: keep, disable or delete');
  const excludeDirs = [...(s.excludeDirs ?? [])];
  if (
    excludeDirs.length > 64 ||
    excludeDirs.some((d) => !/^[^\u0000-\u001f"*?<>|:]{1,200}$/.test(d) || d.includes('..'))
  )
    throw refuse(ErrorCode.BadUserInput, 'excludeDirs: at most 64 folder names relative to the profile');
  if (s.mode === 'cloud' && (!s.oneDriveTenantId || !isEntraObjectId(s.oneDriveTenantId)))
    throw refuse(
      ErrorCode.BadUserInput,
      'oneDriveTenantId: the cloud mode needs the Microsoft 365 tenant id (a GUID)',
    );
  return {
    mode: s.mode as MigrationMode,
    copyGroups: s.copyGroups ?? true,
    retire,
    ...(s.mode === 'copy' && excludeDirs.length > 0 ? { excludeDirs } : {}),
    ...(s.mode === 'cloud' ? { oneDriveTenantId: s.oneDriveTenantId!.toLowerCase() } : {}),
  };
}

const runDefaults = (ctx: ServiceContext) => ({
  offlineLimitSeconds: ctx.env.PROVISION_OFFLINE_LIMIT_SECONDS,
  retryBackoffSeconds: ctx.env.PROVISION_RETRY_BACKOFF_SECONDS,
});

/** Starts one migration (operator role): the machine must be active, and not migrating a profile already. */
export async function startProfileMigration(
  ctx: ServiceContext,
  input: MigrationSettingsInput & { machineId: string | number; source: string; target: TargetInput },
): Promise<ProfileMigration> {
  const caller = authorize(ctx, Role.Operator);
  const machineId = checkId(input.machineId, 'machineId');
  const source = checkSource(input.source);
  const target = checkTarget(input.target);
  const settings = checkSettings(input);
  const row = await audited(
    ctx,
    async (em) => {
      const machine = await em.findOne(MachineSchema, { id: machineId, status: 'active' as never });
      if (!machine) throw refuse(ErrorCode.NotFound, 'no active machine with that id');
      const working = await em.count(ProfileMigrationSchema, {
        machineId,
        finishedAt: null,
        status: { $nin: ['awaiting-approval'] },
      });
      if (working > 0)
        throw refuse(
          ErrorCode.RunInProgress,
          'a profile migration is working on this machine; let it finish or cancel it first',
        );
      return em.create(
        ProfileMigrationSchema,
        newRow(caller.tenantId, caller.actor, machineId, source, target, settings),
      );
    },
    (r) => ({
      action: 'profile_migration.started',
      subjectType: 'machine',
      subjectId: r.machineId,
      data: { migrationId: r.id, mode: r.mode, source: r.source, target: r.target, retire: r.retire },
    }),
  );
  const args: MigrateProfileInput = {
    tenantId: caller.tenantId,
    machineId,
    migrationId: row.id,
    source,
    target,
    ...settings,
    ...runDefaults(ctx),
  };
  await ctx.temporal.workflow.start('migrateProfile', {
    taskQueue: ctx.taskQueue,
    workflowId: row.workflowId,
    args: [args],
    staticSummary: `Migrate the profile of ${source} (${settings.mode}) on machine ${machineId}`,
    typedSearchAttributes: [
      { key: TenantIdKey, value: caller.tenantId },
      { key: MachineIdKey, value: machineId },
    ],
  });
  return row;
}

function newRow(
  tenantId: string,
  actor: string,
  machineId: string,
  source: string,
  target: MigrationTarget,
  settings: ReturnType<typeof checkSettings>,
  batch?: { batchId: string; seq: number },
): ProfileMigration {
  const id = randomUUID();
  return {
    id,
    tenantId,
    machineId,
    batchId: batch?.batchId ?? null,
    seq: batch?.seq ?? null,
    workflowId: migrateProfileWorkflowId(machineId, id),
    mode: settings.mode,
    source,
    target,
    copyGroups: settings.copyGroups,
    retire: settings.retire,
    status: 'queued',
    state: 'queued',
    notMovable: [],
    restored: [],
    createdBy: actor,
    createdAt: new Date(),
    updatedAt: new Date(),
  };
}

/**
 * Starts a batch (operator role): many (machine, user) pairs with one set of settings, `concurrency`
 * machines at a time (a machine's users one after another). Every machine must be active.
 */
export async function startProfileMigrationBatch(
  ctx: ServiceContext,
  input: MigrationSettingsInput & {
    pairs: readonly { machineId: string | number; source: string; target: TargetInput }[];
    concurrency?: number | null;
  },
): Promise<ProfileMigrationBatch> {
  const caller = authorize(ctx, Role.Operator);
  if (input.pairs.length === 0 || input.pairs.length > 1000)
    throw refuse(ErrorCode.BadUserInput, 'pairs: between 1 and 1000 (machine, user) pairs');
  const settings = checkSettings(input);
  const concurrency = checkRange(input.concurrency, 'concurrency', { min: 1, max: 200, fallback: 10 });
  const pairs = input.pairs.map((p) => ({
    machineId: checkId(p.machineId, 'machineId'),
    source: checkSource(p.source),
    target: checkTarget(p.target),
  }));
  const keys = new Set(pairs.map((p) => `${p.machineId}\u0000${p.source.toLowerCase()}`));
  if (keys.size !== pairs.length)
    throw refuse(ErrorCode.BadUserInput, 'pairs: a (machine, user) pair appears twice');
  const { batch, rows } = await audited(
    ctx,
    async (em) => {
      const machineIds = checkIds([...new Set(pairs.map((p) => p.machineId))], 'machineId');
      const active = await em.count(MachineSchema, { id: { $in: machineIds }, status: 'active' as never });
      if (active !== machineIds.length)
        throw refuse(ErrorCode.NotFound, 'a machine of the batch is not an active machine');
      const id = randomUUID();
      const batch = em.create(ProfileMigrationBatchSchema, {
        id,
        tenantId: caller.tenantId,
        workflowId: migrateProfilesWorkflowId(id),
        mode: settings.mode,
        total: pairs.length,
        concurrency,
        status: 'running',
        createdBy: caller.actor,
        createdAt: new Date(),
      });
      await em.flush();
      const rows = pairs.map((p, i) =>
        em.create(
          ProfileMigrationSchema,
          newRow(caller.tenantId, caller.actor, p.machineId, p.source, p.target, settings, {
            batchId: id,
            seq: i + 1,
          }),
        ),
      );
      return { batch, rows };
    },
    ({ batch }) => ({
      action: 'profile_migration.batch_started',
      subjectType: 'profile_migration_batch',
      subjectId: batch.id,
      data: { mode: settings.mode, total: batch.total, concurrency, retire: settings.retire },
    }),
  );
  const args: MigrateProfilesInput = {
    tenantId: caller.tenantId,
    batchId: batch.id,
    common: { ...settings, ...runDefaults(ctx) },
    pairs: rows.map((r) => ({
      machineId: r.machineId,
      migrationId: r.id,
      source: r.source,
      target: r.target,
    })),
    concurrency,
  };
  await ctx.temporal.workflow.start('migrateProfiles', {
    taskQueue: ctx.taskQueue,
    workflowId: batch.workflowId,
    args: [args],
    staticSummary: `Migrate ${batch.total} profile(s) (${settings.mode}), ${concurrency} machine(s) at a time, started by ${caller.actor}`,
    typedSearchAttributes: [
      { key: TenantIdKey, value: caller.tenantId },
      { key: FleetRunIdKey, value: batch.id },
    ],
  });
  return batch;
}

export async function getProfileMigration(ctx: ServiceContext, input: { id: string | number }) {
  const id = checkId(input.id, 'id');
  return inTenant(ctx, (em) => em.findOne(ProfileMigrationSchema, { id }));
}

export async function getProfileMigrationBatch(ctx: ServiceContext, input: { id: string | number }) {
  const id = checkId(input.id, 'id');
  return inTenant(ctx, (em) => em.findOne(ProfileMigrationBatchSchema, { id }));
}

/** Migrations of a machine (newest first) or of a batch (in its order); at most `first`. */
export async function listProfileMigrations(
  ctx: ServiceContext,
  input: { machineId?: string | number | null; batchId?: string | number | null; first?: number | null },
): Promise<ProfileMigration[]> {
  const first = checkRange(input.first, 'first', { min: 1, max: 1000, fallback: 100 });
  if (input.batchId != null) {
    const batchId = checkId(input.batchId, 'batchId');
    return inTenant(ctx, (em) =>
      em.find(ProfileMigrationSchema, { batchId }, { orderBy: { seq: 'asc' }, limit: first }),
    );
  }
  const where = input.machineId != null ? { machineId: checkId(input.machineId, 'machineId') } : {};
  return inTenant(ctx, (em) =>
    em.find(ProfileMigrationSchema, where, { orderBy: { createdAt: 'desc' }, limit: first }),
  );
}

/** A batch's migrations by status, from their rows. */
export async function batchCounts(ctx: ServiceContext, batch: ProfileMigrationBatch) {
  return inTenant(ctx, async (em) => {
    const rows = await em.execute<{ status: string; n: number }[]>(
      `select status, count(*)::int as n from profile_migrations where batch_id = ? group by status`,
      [batch.id],
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
  });
}

/** Live progress from the migration's workflow; null once it is gone (or not started yet). */
export function migrationProgress(
  ctx: ServiceContext,
  row: ProfileMigration,
): Promise<MigrationProgress | null> {
  return liveFigures(ctx, () =>
    ctx.temporal.workflow.getHandle(row.workflowId).query(migrationProgressQuery),
  );
}

export function batchProgress(
  ctx: ServiceContext,
  batch: ProfileMigrationBatch,
): Promise<MigrateProfilesProgress | null> {
  return liveFigures(ctx, () =>
    ctx.temporal.workflow.getHandle(batch.workflowId).query(migrateProfilesProgressQuery),
  );
}

/**
 * The operator's decision on a verified migration (operator role): retire the old account (the
 * irreversible step), keep it, or roll the migration back. The workflow's validator refuses a
 * decision when the migration is not waiting for one.
 */
export async function decideProfileMigration(
  ctx: ServiceContext,
  input: { id: string | number; decision: string },
): Promise<ProfileMigration> {
  const caller = authorize(ctx, Role.Operator);
  if (!['retire', 'keep', 'roll-back'].includes(input.decision))
    throw refuse(ErrorCode.BadUserInput, 'decision: retire, keep or roll-back');
  const row = await getProfileMigration(ctx, { id: input.id });
  if (!row) throw refuse(ErrorCode.NotFound, 'no profile migration with that id');
  if (row.finishedAt) throw refuse(ErrorCode.RunNotRunning, 'the migration has already ended');
  const decision: RetireDecision = {
    decision: input.decision as RetireDecision['decision'],
    actor: caller.actor,
  };
  // The decision is audited before it reaches the run: an irreversible step never happens unrecorded.
  await auditAfter(ctx, {
    action: 'profile_migration.decided',
    subjectType: 'machine',
    subjectId: row.machineId,
    data: { migrationId: row.id, decision: decision.decision, retire: row.retire },
  });
  try {
    await ctx.temporal.workflow
      .getHandle(row.workflowId)
      .executeUpdate(decideRetireUpdate, { args: [decision] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError)
      throw refuse(
        ErrorCode.RunNotRunning,
        `the migration does not take this decision now: ${err.cause?.message ?? err.message}`,
      );
    if (err instanceof WorkflowNotFoundError)
      throw refuse(ErrorCode.RunNotRunning, 'the migration has already ended');
    throw err;
  }
  return row;
}

/** Cancels a migration or a whole batch (operator role); a cancelled migration rolls back from its backup. */
export async function cancelProfileMigration(
  ctx: ServiceContext,
  input: { id: string | number },
): Promise<true> {
  authorize(ctx, Role.Operator);
  const id = checkId(input.id, 'id');
  const found = await inTenant(ctx, async (em) => {
    const batch = await em.findOne(ProfileMigrationBatchSchema, { id });
    if (batch)
      return {
        workflowId: batch.workflowId,
        ended: !!batch.finishedAt,
        subjectType: 'profile_migration_batch',
        subjectId: batch.id,
      };
    const one = await em.findOne(ProfileMigrationSchema, { id });
    if (one)
      return {
        workflowId: one.workflowId,
        ended: !!one.finishedAt,
        subjectType: 'machine',
        subjectId: one.machineId,
      };
    throw refuse(ErrorCode.NotFound, 'no profile migration or batch with that id');
  });
  if (found.ended) throw refuse(ErrorCode.RunNotRunning, 'it has already ended');
  try {
    await ctx.temporal.workflow.getHandle(found.workflowId).cancel();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw refuse(ErrorCode.RunNotRunning, 'it has already ended');
    throw err;
  }
  await auditAfter(ctx, {
    action: 'profile_migration.cancel',
    subjectType: found.subjectType,
    subjectId: found.subjectId,
    data: { id },
  });
  return true;
}
