import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Local admin password rotation (issue 16 "Reveal and rotation", ADR 0047) as the API, the workers
 * and the schedules see it. Imports nothing from the implementation. Only ids travel here: never a
 * password, an envelope or a digest of one.
 */
export { CORE_TASK_QUEUE } from '../task-queues';

/** What made a rotation run: a reveal (after its grace), a site's or client's schedule, or a person on demand. */
export type RotationTrigger = 'reveal' | 'schedule' | 'on-demand';

/** A group of machines rotated together. */
export type RotationScope = { kind: 'site' | 'client'; id: string };

/**
 * One rotation per machine at a time: every rotation of a machine (after a reveal, scheduled, on
 * demand) has this id, so a second start finds the first (signal-with-start joins it, a child
 * start is refused as already started).
 */
export const rotateLocalAdminWorkflowId = (tenantId: string, machineId: string): string =>
  `rotate-local-admin:${tenantId}:${machineId}`;

/**
 * The same for the machine's BitLocker recovery password (its system volume, C:): rotated after a
 * reveal, since a recovery password once read out — typed at a recovery screen, read over the
 * phone — is no longer a secret.
 */
export const rotateBitLockerWorkflowId = (tenantId: string, machineId: string): string =>
  `rotate-bitlocker:${tenantId}:${machineId}`;

/** An on-demand rotation of a site or client: a second request while one runs joins it. */
export const rotateLocalAdminsWorkflowId = (tenantId: string, scope: RotationScope): string =>
  `rotate-local-admins:${tenantId}:${scope.kind}:${scope.id}`;

/** The Temporal Schedule of a site's or client's rotations (its runs: this id plus the schedule's time). */
export const rotationScheduleId = (tenantId: string, scope: RotationScope): string =>
  `rotate-local-admins-schedule:${tenantId}:${scope.kind}:${scope.id}`;

export interface RotateLocalAdminInput {
  tenantId: string;
  machineId: string;
  trigger: RotationTrigger;
  /** Who or what asked: `user:…`/`token:…` (a reveal, on demand), `schedule:<id>`. Audited. */
  requestedBy: string;
  /**
   * How long a revealed password stays valid after the latest reveal: the wait of a rotation a
   * reveal started, and of the one more a reveal during any rotation asks for.
   */
  graceSeconds?: number;
  /** How long the machine may stay offline per task before this machine's rotation fails. Default 1 hour. */
  offlineLimitSeconds?: number;
  /** The first pause before a failed task runs again (it doubles per attempt). Default 5 s. */
  retryBackoffSeconds?: number;
  /**
   * A secret someone has seen (revealed, before or during this run) is not left on the machine
   * when its rotation fails there (offline past the limit, a task that failed): the rotation is
   * tried again after this pause, doubling per failure and at most a day apart. Unset (runs
   * started before it existed): a failure ends the run.
   */
  retryFailedAfterSeconds?: number;
  /** How long after the first failure those retries go on before the run fails for good. Default 7 days. */
  retryFailedForSeconds?: number;
}

/**
 * A BitLocker recovery password rotation takes what a local admin one does: after a reveal, or on
 * demand for one machine (a re-escrow, e.g. after a restore lost the escrowed version; ADR 0050).
 */
export type RotateBitLockerInput = RotateLocalAdminInput & { trigger: 'reveal' | 'on-demand' };
export type RotateBitLockerResult = RotateLocalAdminResult;

/**
 * Someone asked for the rotation now (an on-demand request that joined this run): a pause before
 * retrying a failed rotation ends; a reveal's grace does not.
 */
export const rotationRequestedSignal = defineSignal<[{ actor: string }]>('rotationRequested');

/** Sent with signal-with-start by every reveal of the machine's local admin password (or recovery password). */
export interface SecretRevealed {
  secretId: string;
  secretVersion: number;
  actor: string;
}
export const secretRevealedSignal = defineSignal<[SecretRevealed]>('secretRevealed');

export interface RotateLocalAdminResult {
  outcome: 'rotated' | 'failed';
  /** The version the machine holds now (confirmed), when rotated. */
  secretVersion?: number;
  /** Rotations this run made (a reveal during a rotation asks for one more after its grace). */
  rotations: number;
  reason?: string;
}

export interface RotateLocalAdminStatus {
  state: 'waiting-for-grace' | 'waiting-to-retry' | 'rotating' | 'rotated' | 'failed';
  /** When the grace or the pause before the next try ends (ISO), while waiting. */
  rotateAt: string | null;
  reveals: number;
  rotations: number;
  /** Tries that failed on the machine (a revealed secret's rotation is tried again after each). */
  failures: number;
  lastError: string | null;
}
export const rotateLocalAdminStatusQuery = defineQuery<RotateLocalAdminStatus>('rotationStatus');

export interface RotateLocalAdminsInput {
  tenantId: string;
  scope: RotationScope;
  trigger: Exclude<RotationTrigger, 'reveal'>;
  requestedBy: string;
  /** Machines rotated at once. */
  concurrency: number;
  offlineLimitSeconds?: number;
  /** Given to each machine's rotation: a reveal while it rotates waits this long (default: none). */
  graceSeconds?: number;
  /** Given to each machine's rotation: a try that fails after a reveal during it is made again (RotateLocalAdminInput). */
  retryFailedAfterSeconds?: number;
  retryFailedForSeconds?: number;
  /** Machines per run: after a page, the workflow continues as new (small histories for large sites). Default 200. */
  pageSize?: number;
  /** Carried across continue-as-new: the last machine id done, and the counts so far. */
  afterMachineId?: string;
  counts?: RotateLocalAdminsCounts;
}

export interface RotateLocalAdminsCounts {
  rotated: number;
  failed: number;
  /** A rotation of the machine was already running or waiting (a reveal's grace): it rotates that machine. */
  alreadyRunning: number;
}

export interface MachineRotationOutcome {
  machineId: string;
  outcome: 'rotated' | 'failed' | 'already-running';
  reason?: string;
}

export interface RotateLocalAdminsProgress extends RotateLocalAdminsCounts {
  /** Machines being rotated now. */
  inProgress: number;
  /** This run's page (earlier pages are in the counts only). */
  machines: MachineRotationOutcome[];
}
export const rotateLocalAdminsProgressQuery = defineQuery<RotateLocalAdminsProgress>('rotationProgress');

/** Failures a rotation ends with (the step's own type otherwise). */
export enum RotationFailure {
  /** The machine has no escrowed local admin password: nothing Drydock manages to rotate. */
  RotationNoLocalAdmin = 'RotationNoLocalAdmin',
  /** The machine is not active (pending, retired) or gone. */
  RotationMachineInactive = 'RotationMachineInactive',
  /** The machine has no escrowed BitLocker recovery password: Drydock did not turn BitLocker on there. */
  RotationNoBitLocker = 'RotationNoBitLocker',
  /** The tenant has no escrow key. */
  RotationNoEscrowKey = 'RotationNoEscrowKey',
}
