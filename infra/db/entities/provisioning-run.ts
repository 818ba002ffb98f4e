import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

// The statuses belong to the provisioning domain (its contracts); the rows carry them.
import { FleetRunStatus, MachineRunStatus } from '../../../workflows/provisioning/contracts';
export { FleetRunStatus, MachineRunStatus };

/** The portal's mirror of one provisionMachine run; the workflow is the source of truth. */
export interface MachineRun {
  id: string;
  tenantId: string;
  machineId: string;
  siteId: string;
  fleetRunId?: string | null;
  seq?: number | null;
  workflowId: string;
  profileId: string;
  profileVersion?: number | null;
  /** The exact resolved config the run used (the last one, after a retry with a fixed profile). */
  resolvedConfig?: Record<string, unknown> | null;
  status: MachineRunStatus;
  phase?: string | null;
  step?: string | null;
  attempt: number;
  lastError?: { type: string; message: string; step?: string } | null;
  validation?: { item: string; pass: boolean; detail: string }[] | null;
  createdBy: string;
  createdAt: Date;
  startedAt?: Date | null;
  updatedAt: Date;
  finishedAt?: Date | null;
}

export const MachineRunSchema = new EntitySchema<MachineRun>({
  name: 'MachineRun',
  tableName: 'machine_runs',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    machineId: { type: 'uuid' },
    siteId: { type: 'uuid' },
    fleetRunId: { type: 'uuid', nullable: true },
    seq: { type: 'number', nullable: true },
    workflowId: { type: 'string' },
    profileId: { type: 'uuid' },
    profileVersion: { type: 'number', nullable: true },
    resolvedConfig: { type: 'json', nullable: true },
    status: { enum: true, items: () => MachineRunStatus },
    phase: { type: 'string', nullable: true },
    step: { type: 'string', nullable: true },
    attempt: { type: 'number' },
    lastError: { type: 'json', nullable: true },
    validation: { type: 'json', nullable: true },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    startedAt: { type: 'Date', nullable: true },
    updatedAt: { type: 'Date', onCreate: () => new Date() },
    finishedAt: { type: 'Date', nullable: true },
  },
});

export interface FleetSelection {
  siteIds?: string[];
  clientIds?: string[];
  machineIds?: string[];
  /** Machine labels that must all match (key = value). */
  tags?: Record<string, string>;
}

export interface FleetRun {
  id: string;
  tenantId: string;
  workflowId: string;
  profileId: string;
  selection: FleetSelection;
  concurrency: number;
  status: FleetRunStatus;
  total: number;
  /** Selected machines left out: each already had a run of its own. */
  skipped: number;
  passed: number;
  failed: number;
  cancelled: number;
  createdBy: string;
  createdAt: Date;
  finishedAt?: Date | null;
}

export const FleetRunSchema = new EntitySchema<FleetRun>({
  name: 'FleetRun',
  tableName: 'fleet_runs',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    workflowId: { type: 'string' },
    profileId: { type: 'uuid' },
    selection: { type: 'json' },
    concurrency: { type: 'number' },
    status: { enum: true, items: () => FleetRunStatus },
    total: { type: 'number' },
    skipped: { type: 'number', default: 0 },
    passed: { type: 'number' },
    failed: { type: 'number' },
    cancelled: { type: 'number' },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    finishedAt: { type: 'Date', nullable: true },
  },
});
