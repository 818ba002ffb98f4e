import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { StepKind, StepPayloads } from '../../infra/wire/agent-steps';

/**
 * The provisioning domain's workflow contracts: ids, inputs, signals, updates and queries of
 * provisionMachine and fleetRun. Engineers find these runs in the Temporal UI by these ids and by
 * the search attributes TenantId, SiteId, MachineId, FleetRunId, Phase and RunStatus.
 */
/** A machine run's status on its row and in GraphQL (`RunStatus` in Temporal says the same). */
export enum MachineRunStatus {
  Queued = 'queued',
  Running = 'running',
  Paused = 'paused',
  Rebooting = 'rebooting',
  Failed = 'failed',
  Passed = 'passed',
  Cancelled = 'cancelled',
}

/** A fleet run's status on its row and in GraphQL. */
export enum FleetRunStatus {
  Running = 'running',
  Paused = 'paused',
  Cancelling = 'cancelling',
  Cancelled = 'cancelled',
  Completed = 'completed',
}

/**
 * Why a run failed, besides a step's own failure type (StepFailure, agent-steps.ts) and the
 * activities' (ProvisioningFailure): each maps to a GraphQL error code and a sentence the portal
 * shows (api/services/failures.ts).
 */
export enum RunFailure {
  /** The workflow was terminated, timed out or failed in Temporal, outside Drydock. */
  RunClosed = 'RunClosed',
  /** The row exists but its workflow never started (the start died with its API process). */
  RunNotStarted = 'RunNotStarted',
  /** Validation found the machine not in the asked-for state. */
  ValidationFailed = 'ValidationFailed',
  /** The machine did not come back from a restart, or never restarted. */
  MachineOffline = 'MachineOffline',
  /** The machine did not pick a step up, or finish it, within its limits. */
  MachineUnreachable = 'MachineUnreachable',
  /** A retry's refreshed profile is still invalid. */
  RetryFailed = 'RetryFailed',
}

/** Failure types of the provisioning activities; all permanent (an operator must change something). */
export enum ProvisioningFailure {
  ProfileNotFound = 'ProfileNotFound',
  MachineNotFound = 'MachineNotFound',
  FleetRunNotFound = 'FleetRunNotFound',
  InvalidProfile = 'InvalidProfile',
  NameTaken = 'NameTaken',
  InvalidName = 'InvalidName',
  NoFreeName = 'NoFreeName',
  /** The profile escrows a secret (security phase) but the tenant has no escrow key (ADR 0044). */
  EscrowKeyMissing = 'EscrowKeyMissing',
  /** The join phase names a join credential the machine's site does not have (ADR 0048). */
  JoinCredentialMissing = 'JoinCredentialMissing',
}

export const provisionMachineWorkflowId = (machineId: string, runId: string): string =>
  `provision:${machineId}:${runId}`;
export const fleetRunWorkflowId = (fleetRunId: string): string => `fleet-run:${fleetRunId}`;

export type Phase =
  | 'preflight'
  | 'identity'
  | 'security'
  | 'join'
  | 'apps'
  | 'tweaks'
  | 'drivers'
  | 'locale'
  | 'inventory'
  | 'validation';

/** How a step is retried and timed; each kind of work has its own (see PLAN_POLICIES). */
export type StepPolicy = 'check' | 'change' | 'install';

/**
 * One step of a machine's plan: an agent task, built from the resolved profile by prepareMachineRun.
 * A step of kind K carries that kind's payload; `PlanStep` (all kinds) is a union on `kind`.
 */
export type PlanStep<K extends StepKind = StepKind> = { [P in K]: PlanStepOf<P> }[K];

interface PlanStepOf<K extends StepKind> {
  /** Stable within a plan, e.g. `apps.winget:Google.Chrome`: retry-from-step names it. */
  key: string;
  phase: Phase;
  kind: K;
  label: string;
  payload: StepPayloads[K];
  policy: StepPolicy;
}

export interface ProvisionMachineInput {
  tenantId: string;
  machineId: string;
  siteId: string;
  /** The machine_runs row this run mirrors to. */
  runId: string;
  profileId: string;
  fleetRunId?: string;
  /** The fleet run's workflow id: told when this machine's run settles (passes, fails, is cancelled). */
  fleetWorkflowId?: string;
  /** Its place in the fleet run (1..total): carried in its settle, so the fleet can tell a late one. */
  fleetSeq?: number;
  /** How long the machine may be unreachable (offline, rebooting) before the run fails. Default 1 hour. */
  offlineLimitSeconds?: number;
  /** How long a failed run waits for "retry from step" before it ends as failed. Default 3 days. */
  failedHoldSeconds?: number;
  /** Pause between step attempts (the first; it doubles). Default 5 seconds. */
  retryBackoffSeconds?: number;
}

export type MachineRunState =
  'starting' | 'running' | 'paused' | 'rebooting' | 'failed' | 'passed' | 'cancelled';

export interface StepProgress {
  key: string;
  phase: Phase;
  label: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'skipped';
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  alreadyDone?: boolean;
  error?: StepErrorInfo;
}

export interface StepErrorInfo {
  type: string;
  message: string;
  retryable: boolean;
}

export interface MachineRunProgress {
  state: MachineRunState;
  phase: Phase | null;
  step: string | null;
  attempt: number;
  profileVersion: number | null;
  steps: StepProgress[];
  lastError: (StepErrorInfo & { step: string }) | null;
  startedAt: string;
  /** Reboots this run waited for, with how long each took. */
  reboots: { reason: string; seconds: number }[];
  pauseRequested: boolean;
  cancelRequested: boolean;
}

export interface ProvisionMachineResult {
  outcome: 'passed' | 'failed' | 'cancelled';
  reason?: string;
  steps: number;
}

export interface RetryRequest {
  /** The step to start again from (a plan step key); default the failed step. */
  fromStep?: string;
  /** Resolve the profile again first (after it was fixed); the run records the new config. */
  refreshConfig?: boolean;
}

export const machineProgressQuery = defineQuery<MachineRunProgress>('progress');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Stops after the current step; the run ends as cancelled. */
export const cancelSignal = defineSignal('cancel');
/** Accepted only while the run waits after a failure; returns the step it starts again from. */
export const retryFromStepUpdate = defineUpdate<string, [RetryRequest]>('retryFromStep');

/**
 * Sent to the fleet run whenever one of its machines' runs settles (again, after a retry), by the
 * run's record activity; at least once, so the fleet run ignores a repeat.
 */
export interface MachineRunSettled {
  runId: string;
  workflowId: string;
  outcome: 'passed' | 'failed' | 'cancelled';
  /** The run's place in its fleet run (runs started before it was sent have none). */
  seq?: number;
}
export const machineRunSettledSignal = defineSignal<[MachineRunSettled]>('machineRunSettled');

export interface FleetRunInput {
  tenantId: string;
  fleetRunId: string;
  profileId: string;
  concurrency: number;
  offlineLimitSeconds?: number;
  failedHoldSeconds?: number;
  retryBackoffSeconds?: number;
  /** Continue-as-new after this many machines started in one run of the workflow. Default 500. */
  batchSize?: number;
  /** How often the runs waited for are checked against their rows and Temporal. Default 60. */
  reconcileSeconds?: number;
  /** Carried over continue-as-new. */
  carried?: FleetRunCarried;
}

/**
 * What a fleet run carries over continue-as-new: bounded by its window, not by its size (failed
 * machines waiting for a retry are rows, not ids here). Runs of v1 carried `failedWaiting` and a
 * single `recovered`; v2 reads them.
 */
export interface FleetRunCarried {
  total: number;
  nextSeq: number;
  running: string[];
  /** Settles of machines not (yet) known as running: applied when they are (see FleetWindow). */
  early?: MachineRunSettled[];
  passed: number;
  failed: number;
  cancelled: number;
  paused: boolean;
  cancelRequested: boolean;
  /** The cancel went out to the machines already: not again after continue-as-new. */
  cancelSent?: boolean;
  batches: number;
  /** v1 only. */
  failedWaiting?: string[];
  /** v1: every settle the periodic check applied. */
  recovered?: number;
  /** Runs the check found ended in Temporal without settling (terminated, timed out), and healed. */
  closedInTemporal?: number;
  /** Runs the check found settled by their rows twice with no signal: lost or very late (alerted). */
  lateSignals?: number;
}

export interface FleetRunProgress {
  total: number;
  queued: number;
  running: number;
  passed: number;
  failed: number;
  cancelled: number;
  paused: boolean;
  cancelRequested: boolean;
  state: 'selecting' | 'running' | 'paused' | 'cancelling' | 'done';
  batches: number;
  /** Settles the periodic check applied before any signal did: `closedInTemporal` + `lateSignals`. */
  recovered: number;
  /** Runs ended in Temporal without settling (terminated, timed out), healed by the check. */
  closedInTemporal: number;
  /** Runs settled by their rows with no signal for two checks: lost or very late signals (alerted). */
  lateSignals: number;
}

export interface FleetRunResult {
  total: number;
  passed: number;
  failed: number;
  cancelled: number;
  outcome: 'PASS' | 'FAIL' | 'CANCELLED';
}

export const fleetProgressQuery = defineQuery<FleetRunProgress>('progress');
