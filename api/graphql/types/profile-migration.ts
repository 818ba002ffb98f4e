import type { ProfileMigration, ProfileMigrationBatch } from '../../../infra/db/entities';
import {
  batchCounts,
  batchProgress,
  cancelProfileMigration,
  decideProfileMigration,
  getProfileMigration,
  getProfileMigrationBatch,
  listProfileMigrations,
  migrationProgress,
  startProfileMigration,
  startProfileMigrationBatch,
} from '../../services/migration';
import { failureText } from '../../services/failures';
import { builder } from '../builder';

/**
 * Profile migration (issue 17, docs/migration.md): a user's Windows profile re-assigned to a new
 * account as a durable, reversible run. Per-user progress is each migration's `state`, mirrored
 * by its run at every step; `progressJson` is the run's live query.
 */
const NotMovableRef = builder.objectRef<{ item: string; reason: string }>('MigrationNotMovable').implement({
  description: 'Something that does not move with the profile (a DPAPI-protected secret, …), and why.',
  fields: (t) => ({ item: t.exposeString('item'), reason: t.exposeString('reason') }),
});

const MigrationErrorRef = builder.objectRef<{ type: string; message: string }>('MigrationError').implement({
  fields: (t) => ({
    type: t.exposeString('type'),
    message: t.exposeString('message'),
    code: t.string({
      description: 'The stable error code of the failure type (MIGRATION_ROLLBACK_FAILED, …).',
      resolve: (e) => failureText(e.type).code,
    }),
    sentence: t.string({
      description: 'What the failure means and what to do, for a person.',
      resolve: (e) => failureText(e.type).sentence,
    }),
  }),
});

export const ProfileMigrationRef = builder.objectRef<ProfileMigration>('ProfileMigration').implement({
  description: 'One migrateProfile run, as mirrored for the portal (the workflow is the source of truth).',
  fields: (t) => ({
    id: t.exposeID('id'),
    machineId: t.exposeID('machineId'),
    batchId: t.id({ nullable: true, resolve: (m) => m.batchId ?? null }),
    seq: t.int({ nullable: true, resolve: (m) => m.seq ?? null }),
    workflowId: t.exposeString('workflowId'),
    mode: t.exposeString('mode'),
    source: t.exposeString('source'),
    targetJson: t.string({
      description: 'The new owner: local, domain or Entra ID (with its SID).',
      resolve: (m) => JSON.stringify(m.target),
    }),
    retire: t.exposeString('retire'),
    status: t.exposeString('status', {
      description: 'queued, running, awaiting-approval, passed, rolled-back, failed or cancelled.',
    }),
    state: t.exposeString('state', {
      description:
        'The saga step: checking, waiting-for-sign-out, backing-up, migrating, repairing, verifying, awaiting-approval, retiring, rolling-back, or how it ended.',
    }),
    sourceSid: t.string({ nullable: true, resolve: (m) => m.sourceSid ?? null }),
    targetSid: t.string({ nullable: true, resolve: (m) => m.targetSid ?? null }),
    backupChecksum: t.string({
      nullable: true,
      description: 'SHA-256 of the backup manifest kept on the machine.',
      resolve: (m) => m.backupChecksum ?? null,
    }),
    notMovable: t.field({ type: [NotMovableRef], resolve: (m) => m.notMovable }),
    restored: t.exposeStringList('restored', { description: 'What the compensation put back.' }),
    lastError: t.field({ type: MigrationErrorRef, nullable: true, resolve: (m) => m.lastError ?? null }),
    progressJson: t.string({
      nullable: true,
      description: 'Live progress from the workflow; null once it is gone.',
      resolve: async (m, _a, ctx) => {
        if (m.finishedAt) return null;
        const p = await migrationProgress(ctx, m);
        return p === null ? null : JSON.stringify(p);
      },
    }),
    createdBy: t.exposeString('createdBy'),
    updatedAt: t.field({ type: 'DateTime', resolve: (m) => m.updatedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.finishedAt ?? null }),
  }),
});

const CountRef = builder.objectRef<{ status: string; count: number }>('MigrationStatusCount').implement({
  fields: (t) => ({ status: t.exposeString('status'), count: t.exposeInt('count') }),
});

export const ProfileMigrationBatchRef = builder
  .objectRef<ProfileMigrationBatch>('ProfileMigrationBatch')
  .implement({
    description: 'Many (machine, user) migrations through a window.',
    fields: (t) => ({
      id: t.exposeID('id'),
      workflowId: t.exposeString('workflowId'),
      mode: t.exposeString('mode'),
      status: t.exposeString('status'),
      total: t.exposeInt('total'),
      concurrency: t.exposeInt('concurrency'),
      counts: t.field({
        type: [CountRef],
        description: 'Its migrations by status, from their rows.',
        resolve: async (b, _a, ctx) =>
          Object.entries(await batchCounts(ctx, b)).map(([status, count]) => ({ status, count })),
      }),
      running: t.int({
        nullable: true,
        description:
          'Migrations working on their machine now (the window), from the live batch; null once it ended.',
        resolve: async (b, _a, ctx) => (await batchProgress(ctx, b))?.running ?? null,
      }),
      migrations: t.field({
        type: [ProfileMigrationRef],
        description: 'Per-user migrations in the batch order.',
        args: { first: t.arg.int({ required: false, defaultValue: 1000 }) },
        resolve: (b, args, ctx) => listProfileMigrations(ctx, { batchId: b.id, first: args.first }),
      }),
      createdBy: t.exposeString('createdBy'),
      createdAt: t.field({ type: 'DateTime', resolve: (b) => b.createdAt }),
      finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (b) => b.finishedAt ?? null }),
    }),
  });

const MigrationTargetInput = builder.inputType('MigrationTargetInput', {
  fields: (t) => ({
    kind: t.string({ required: true, description: 'local, domain or entra.' }),
    name: t.string({ required: false, description: 'local: the account name; domain: DOMAIN\\name.' }),
    objectId: t.string({
      required: false,
      description: 'entra: the user’s object id (its SID is derived from it).',
    }),
    tenantId: t.string({ required: false, description: 'entra: the tenant the machine must be joined to.' }),
    upn: t.string({ required: false }),
  }),
});

const settings = (t: PothosInputFields) => ({
  mode: t.string({ required: true, description: 'in-place, copy or cloud (docs/migration.md).' }),
  copyGroups: t.boolean({ required: false, defaultValue: true }),
  retire: t.string({
    required: false,
    defaultValue: 'keep',
    description: 'keep, disable or delete the old account (after approval).',
  }),
  excludeDirs: t.stringList({ required: false }),
  oneDriveTenantId: t.string({ required: false }),
});
type PothosInputFields = Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0];

const StartProfileMigrationInput = builder.inputType('StartProfileMigrationInput', {
  fields: (t) => ({
    machineId: t.id({ required: true }),
    source: t.string({ required: true, description: 'A SID or an account name (name, DOMAIN\\name).' }),
    target: t.field({ type: MigrationTargetInput, required: true }),
    ...settings(t),
  }),
});

const MigrationPairInput = builder.inputType('MigrationPairInput', {
  fields: (t) => ({
    machineId: t.id({ required: true }),
    source: t.string({ required: true }),
    target: t.field({ type: MigrationTargetInput, required: true }),
  }),
});

const StartProfileMigrationBatchInput = builder.inputType('StartProfileMigrationBatchInput', {
  fields: (t) => ({
    pairs: t.field({ type: [MigrationPairInput], required: true }),
    concurrency: t.int({ required: false, defaultValue: 10, description: 'Machines at once (1–200).' }),
    ...settings(t),
  }),
});

builder.queryField('profileMigrations', (t) =>
  t.field({
    type: [ProfileMigrationRef],
    args: {
      machineId: t.arg.id({ required: false }),
      first: t.arg.int({ required: false, defaultValue: 100 }),
    },
    resolve: (_r, args, ctx) => listProfileMigrations(ctx, { machineId: args.machineId, first: args.first }),
  }),
);

builder.queryField('profileMigration', (t) =>
  t.field({
    type: ProfileMigrationRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => getProfileMigration(ctx, { id: args.id }),
  }),
);

builder.queryField('profileMigrationBatch', (t) =>
  t.field({
    type: ProfileMigrationBatchRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => getProfileMigrationBatch(ctx, { id: args.id }),
  }),
);

builder.mutationField('startProfileMigration', (t) =>
  t.field({
    type: ProfileMigrationRef,
    description: 'Starts a profile migration on one machine (operator role).',
    args: { input: t.arg({ type: StartProfileMigrationInput, required: true }) },
    resolve: (_r, { input }, ctx) => startProfileMigration(ctx, input),
  }),
);

builder.mutationField('startProfileMigrationBatch', (t) =>
  t.field({
    type: ProfileMigrationBatchRef,
    description: 'Starts many (machine, user) migrations through a window (operator role).',
    args: { input: t.arg({ type: StartProfileMigrationBatchInput, required: true }) },
    resolve: (_r, { input }, ctx) => startProfileMigrationBatch(ctx, input),
  }),
);

builder.mutationField('decideProfileMigration', (t) =>
  t.field({
    type: ProfileMigrationRef,
    description:
      'The decision on a verified migration (operator role): retire (disable or delete the old account, irreversible), keep, or roll-back.',
    args: { id: t.arg.id({ required: true }), decision: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => decideProfileMigration(ctx, { id: args.id, decision: args.decision }),
  }),
);

builder.mutationField('cancelProfileMigration', (t) =>
  t.field({
    type: 'Boolean',
    description:
      'Cancels a migration or a batch (operator role): what was changed is put back from the backup.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => cancelProfileMigration(ctx, { id: args.id }),
  }),
);
