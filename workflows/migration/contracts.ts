import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MigrationMode, MigrationTarget } from '../../infra/wire/agent-steps';

/**
 * The profile-migration domain (issue 17, docs/migration.md): `migrateProfile` re-assigns one
 * user's profile on one machine (in place, by copy, or through OneDrive) as a saga with a backup
 * and a compensation; `migrateProfiles` runs many (machine, user) pairs through a window.
 * Imports nothing from the implementation.
 */
export { CORE_TASK_QUEUE } from '../task-queues';

export const migrateProfileWorkflowId = (machineId: string, migrationId: string): string =>
  `migrate-profile:${machineId}:${migrationId}`;
export const migrateProfilesWorkflowId = (batchId: string): string => `migrate-profiles:${batchId}`;

export type { MigrationMode, MigrationTarget };
/** What happens to the old account once the profile is the new one's: only after an operator's approval. */
export type RetireAction = 'keep' | 'disable' | 'delete';

export interface MigrateProfileInput {
  tenantId: string;
  machineId: string;
  /** The profile_migrations row this run mirrors to; also the backup's id on the machine. */
  migrationId: string;
  mode: MigrationMode;
  /** The account whose profile moves: a SID, or a name (local, or DOMAIN\\user). */
  source: string;
  target: MigrationTarget;
  /** Give the new SID the old one's local group memberships (e.g. Administrators). */
  copyGroups: boolean;
  retire: RetireAction;
  /** Copy mode: folders left behind, relative to the profile. */
  excludeDirs?: string[];
  /** Cloud mode: the Microsoft 365 tenant of the users' OneDrive. */
  oneDriveTenantId?: string;
  /** How long to wait for the user to sign out (they are asked to) before giving up. Default 1 hour. */
  signOutDeadlineSeconds?: number;
  /** How often to look again while waiting for the sign-out. Default 60 seconds. */
  signOutPollSeconds?: number;
  /** How long the machine may be unreachable per step. Default 1 hour. */
  offlineLimitSeconds?: number;
  minFreeDiskGb?: number;
  /** Pause before a retryable step's next attempt (grows with each). Default 5 seconds. */
  retryBackoffSeconds?: number;
}

export type MigrationState =
  | 'checking'
  | 'waiting-for-sign-out'
  | 'backing-up'
  | 'migrating'
  | 'repairing'
  | 'verifying'
  | 'awaiting-approval'
  | 'retiring'
  | 'rolling-back'
  | 'passed'
  | 'rolled-back'
  | 'failed'
  | 'cancelled';

export interface MigrationProgress {
  state: MigrationState;
  sourceSid: string | null;
  targetSid: string | null;
  /** SHA-256 of the backup's manifest on the machine. */
  backupChecksum: string | null;
  changed: string[];
  /** What could not move with the profile (DPAPI secrets, …), reported to the operator and the user. */
  notMovable: { item: string; reason: string }[];
  /** Verification items that failed (the run then rolled back). */
  verifyFailed: string[];
  /** What the compensation put back. */
  restored: string[];
  lastError: { type: string; message: string } | null;
}
export const migrationProgressQuery = defineQuery<MigrationProgress>('progress');

/** The operator's answer before the irreversible step: retire the old account, keep it, or roll the migration back. */
export interface RetireDecision {
  decision: 'retire' | 'keep' | 'roll-back';
  actor: string;
}
export const decideRetireUpdate = defineUpdate<MigrationState, [RetireDecision]>('decideRetire');

export interface MigrateProfileResult {
  outcome: 'passed' | 'rolled-back' | 'failed' | 'cancelled';
  reason?: string;
}

export enum MigrationFailure {
  /** A precondition waiting cannot change: nothing was changed on the machine. */
  PreconditionFailed = 'MigrationPreconditionFailed',
  /** The user did not sign out before the deadline: nothing was changed. */
  SignOutTimeout = 'MigrationSignOutTimeout',
  /** The migrated profile did not pass verification: rolled back. */
  VerifyFailed = 'MigrationVerifyFailed',
  /** The compensation itself failed: the machine needs an engineer (the backup is still on it). */
  RollbackFailed = 'MigrationRollbackFailed',
  /** No decision came before the approval deadline (the migration stays; the old account too). */
  DecisionRejected = 'MigrationDecisionRejected',
}

export interface MigrationPair {
  machineId: string;
  migrationId: string;
  source: string;
  target: MigrationTarget;
}

export interface MigrateProfilesInput {
  tenantId: string;
  batchId: string;
  /** Settings every pair shares. */
  common: Omit<MigrateProfileInput, 'tenantId' | 'machineId' | 'migrationId' | 'source' | 'target'>;
  pairs: MigrationPair[];
  /** How many migrations run at once. */
  concurrency: number;
}

export interface MigrateProfilesProgress {
  total: number;
  /** Started and still working on their machine (not yet waiting for a decision or ended). */
  running: number;
  /** Verified, waiting for the operator's decision: their window slot is free again. */
  awaitingDecision: number;
  done: Record<MigrateProfileResult['outcome'], number>;
}
/** A batch's migration tells the batch it is waiting for a decision: its slot in the window is free. */
export const migrationAwaitingDecisionSignal =
  defineSignal<[{ migrationId: string }]>('migrationAwaitingDecision');
export const migrateProfilesProgressQuery = defineQuery<MigrateProfilesProgress>('progress');
