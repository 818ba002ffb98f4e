import { EntitySchema } from '@mikro-orm/core';
import type { MigrationMode, MigrationTarget } from '../../wire/agent-steps';
import { tenantFilter } from './tenant-scoped';

/** What the portal lists per migration; the saga's detailed state is in `state`. */
export type ProfileMigrationStatus =
  'queued' | 'running' | 'awaiting-approval' | 'passed' | 'rolled-back' | 'failed' | 'cancelled';

/** The portal's mirror of one migrateProfile run (migration 0016); the workflow is the source of truth. */
export interface ProfileMigration {
  id: string;
  tenantId: string;
  machineId: string;
  batchId?: string | null;
  seq?: number | null;
  workflowId: string;
  temporalRunId?: string | null;
  mode: MigrationMode;
  source: string;
  target: MigrationTarget;
  copyGroups: boolean;
  retire: 'keep' | 'disable' | 'delete';
  status: ProfileMigrationStatus;
  /** The saga's state (checking, waiting-for-sign-out, backing-up, …): per-user progress. */
  state: string;
  sourceSid?: string | null;
  targetSid?: string | null;
  backupChecksum?: string | null;
  notMovable: { item: string; reason: string }[];
  restored: string[];
  lastError?: { type: string; message: string } | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  finishedAt?: Date | null;
}

export const ProfileMigrationSchema = new EntitySchema<ProfileMigration>({
  name: 'ProfileMigration',
  tableName: 'profile_migrations',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    machineId: { type: 'uuid' },
    batchId: { type: 'uuid', nullable: true },
    seq: { type: 'number', nullable: true },
    workflowId: { type: 'string' },
    temporalRunId: { type: 'string', nullable: true },
    mode: { type: 'string' },
    source: { type: 'string' },
    target: { type: 'json' },
    copyGroups: { type: 'boolean' },
    retire: { type: 'string' },
    status: { type: 'string' },
    state: { type: 'string' },
    sourceSid: { type: 'string', nullable: true },
    targetSid: { type: 'string', nullable: true },
    backupChecksum: { type: 'string', nullable: true },
    notMovable: { type: 'json' },
    restored: { type: 'json' },
    lastError: { type: 'json', nullable: true },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    updatedAt: { type: 'Date', onCreate: () => new Date() },
    finishedAt: { type: 'Date', nullable: true },
  },
});

/** A batch of (machine, user) pairs run through a window (migrateProfiles). */
export interface ProfileMigrationBatch {
  id: string;
  tenantId: string;
  workflowId: string;
  mode: MigrationMode;
  total: number;
  concurrency: number;
  status: 'running' | 'completed' | 'cancelled' | 'failed';
  createdBy: string;
  createdAt: Date;
  finishedAt?: Date | null;
}

export const ProfileMigrationBatchSchema = new EntitySchema<ProfileMigrationBatch>({
  name: 'ProfileMigrationBatch',
  tableName: 'profile_migration_batches',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    workflowId: { type: 'string' },
    mode: { type: 'string' },
    total: { type: 'number' },
    concurrency: { type: 'number' },
    status: { type: 'string' },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    finishedAt: { type: 'Date', nullable: true },
  },
});
