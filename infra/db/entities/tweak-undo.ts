import { EntitySchema } from '@mikro-orm/core';
import type { FleetSelection } from './provisioning-run';
import { tenantFilter } from './tenant-scoped';

export enum MachineTweakUndoStatus {
  Queued = 'queued',
  Running = 'running',
  Rebooting = 'rebooting',
  Passed = 'passed',
  Failed = 'failed',
  Cancelled = 'cancelled',
}

export enum TweakUndoStatus {
  Running = 'running',
  Cancelling = 'cancelling',
  Cancelled = 'cancelled',
  Completed = 'completed',
  Failed = 'failed',
}

/** The portal's mirror of one undoTweaks run; the workflow is the source of truth. */
export interface MachineTweakUndo {
  id: string;
  tenantId: string;
  machineId: string;
  siteId: string;
  /** The fleet-wide undo it belongs to, if any, and its number in it. */
  tweakUndoId?: string | null;
  seq?: number | null;
  workflowId: string;
  /** The Temporal run that last wrote this row (a reset makes a new one). */
  temporalRunId?: string | null;
  /** Tweak ids asked for; null: every tweak the machine has a record of. */
  tweaks?: string[] | null;
  restart: boolean;
  status: MachineTweakUndoStatus;
  /** Record keys put back (`registry:<path>\<name>`, `action:<action>`). */
  restored: string[];
  failures: { key: string; message: string }[];
  lastError?: { type: string; message: string } | null;
  createdBy: string;
  createdAt: Date;
  startedAt?: Date | null;
  updatedAt: Date;
  finishedAt?: Date | null;
}

export const MachineTweakUndoSchema = new EntitySchema<MachineTweakUndo>({
  name: 'MachineTweakUndo',
  tableName: 'machine_tweak_undos',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    machineId: { type: 'uuid' },
    siteId: { type: 'uuid' },
    tweakUndoId: { type: 'uuid', nullable: true },
    seq: { type: 'number', nullable: true },
    workflowId: { type: 'string' },
    temporalRunId: { type: 'string', nullable: true },
    tweaks: { type: 'json', nullable: true },
    restart: { type: 'boolean' },
    status: { enum: true, items: () => MachineTweakUndoStatus },
    restored: { type: 'json' },
    failures: { type: 'json' },
    lastError: { type: 'json', nullable: true },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    startedAt: { type: 'Date', nullable: true },
    updatedAt: { type: 'Date', onCreate: () => new Date() },
    finishedAt: { type: 'Date', nullable: true },
  },
});

/** A fleet-wide undo: its machines (machine_tweak_undos rows) were fixed when it started. */
export interface TweakUndo {
  id: string;
  tenantId: string;
  workflowId: string;
  temporalRunId?: string | null;
  selection: FleetSelection;
  tweaks?: string[] | null;
  restart: boolean;
  status: TweakUndoStatus;
  total: number;
  /** Selected machines left out: each had a provisioning run or an undo of its own unfinished. */
  skipped: number;
  lastError?: { type: string; message: string } | null;
  createdBy: string;
  createdAt: Date;
  finishedAt?: Date | null;
}

export const TweakUndoSchema = new EntitySchema<TweakUndo>({
  name: 'TweakUndo',
  tableName: 'tweak_undos',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    workflowId: { type: 'string' },
    temporalRunId: { type: 'string', nullable: true },
    selection: { type: 'json' },
    tweaks: { type: 'json', nullable: true },
    restart: { type: 'boolean' },
    status: { enum: true, items: () => TweakUndoStatus },
    total: { type: 'number' },
    skipped: { type: 'number', default: 0 },
    lastError: { type: 'json', nullable: true },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    finishedAt: { type: 'Date', nullable: true },
  },
});
