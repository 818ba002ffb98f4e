import { defineQuery } from '@temporalio/workflow';

/**
 * The tweak-undo domain's workflow contracts: undoTweaks puts one machine's tweaked values back as
 * the machine had them before Drydock changed them (the agent's own records, `tweaks.undo`);
 * fleetUndoTweaks does it for many machines. Both are cancelled the Temporal way (the API, or the
 * Temporal UI): every way they end leaves their rows and agent tasks true. Engineers find them by
 * `TenantId`, `MachineId` and `FleetRunId` (the fleet-wide undo's id).
 */
export const undoTweaksWorkflowId = (machineId: string, undoId: string): string =>
  `undo-tweaks:${machineId}:${undoId}`;
export const fleetUndoTweaksWorkflowId = (fleetUndoId: string): string => `fleet-undo-tweaks:${fleetUndoId}`;

export interface UndoTweaksInput {
  tenantId: string;
  machineId: string;
  siteId: string;
  /** The machine_tweak_undos row this run mirrors to. */
  undoId: string;
  /** Tweak ids to put back; absent or empty: every tweak the machine has a record of. */
  tweaks?: string[];
  /** Restart when the machine asks for it (values read at sign-in or boot). Default true. */
  restart?: boolean;
  /** How long the machine may be unreachable before the run fails. Default 1 hour. */
  offlineLimitSeconds?: number;
  /** Pause before the step's next attempt (the first; it doubles). Default 5 seconds. */
  retryBackoffSeconds?: number;
}

export type UndoState = 'starting' | 'restoring' | 'rebooting' | 'passed' | 'failed' | 'cancelled';

export interface UndoTweaksProgress {
  state: UndoState;
  attempts: number;
  restored: string[];
  failed: { key: string; message: string }[];
  lastError: { type: string; message: string } | null;
  /** Restarts this run waited for, with how long each took. */
  reboots: { reason: string; seconds: number }[];
}

export interface UndoTweaksResult {
  /** `cancelled` here: the run found its row ended before it started (a fleet-wide undo cancelled first). */
  outcome: 'passed' | 'failed' | 'cancelled';
  restored: number;
  failed: number;
  reason?: string;
}

export interface FleetUndoTweaksInput {
  tenantId: string;
  /** The tweak_undos row: its machine rows were fixed (numbered 1..total) when it was started. */
  fleetUndoId: string;
  total: number;
  /** Machines whose undo starts in one local activity (bounded parallelism inside). Default 100. */
  startPage?: number;
  /** How often the waiting activity reads the machines' rows and Temporal. Default 5 seconds. */
  checkSeconds?: number;
  /** Passed on to every machine's run. */
  runOptions: Pick<UndoTweaksInput, 'tweaks' | 'restart' | 'offlineLimitSeconds' | 'retryBackoffSeconds'>;
}

export interface FleetUndoCounts {
  total: number;
  queued: number;
  running: number;
  passed: number;
  failed: number;
  cancelled: number;
}

export interface FleetUndoTweaksResult extends FleetUndoCounts {
  outcome: 'PASS' | 'FAIL' | 'CANCELLED';
}

export interface FleetUndoTweaksProgress {
  state: 'starting' | 'waiting' | 'cancelling' | 'done';
  /** Machines whose run was started so far. */
  started: number;
  total: number;
}

/** Failure types of the undo runs (besides the agent's own step failures). */
export enum UndoFailure {
  /** The machine put some values back and not others: each is listed with its reason. */
  UndoIncomplete = 'UndoIncomplete',
  MachineOffline = 'MachineOffline',
  MachineUnreachable = 'MachineUnreachable',
  /** The run was terminated, timed out or failed in Temporal without recording its end. */
  RunClosed = 'RunClosed',
}

export const undoProgressQuery = defineQuery<UndoTweaksProgress>('progress');
export const fleetUndoProgressQuery = defineQuery<FleetUndoTweaksProgress>('progress');
