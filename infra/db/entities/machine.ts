import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** Why a machine waits for an operator (docs/adr/0009-machine-identity.md). */
export enum PendingKind {
  /** Another live install (another MachineGuid) presents this hardware identity: a clone? */
  Collision = 'collision',
  /** A re-enrollment of a live or another site's machine that could not prove it is that install. */
  Unverified = 'unverified',
  /** An enrolled machine, proven by its agent key, asks to move to another site. */
  Move = 'move',
}

/** Who asked for a decision: shown to the operator with the alert. */
export interface EnrollmentRequester {
  sourceIp: string;
  siteId: string;
  siteCode: string;
  hostname: string;
  keyVersion: number;
  at: string;
}

export enum MachineStatus {
  Active = 'active',
  Pending = 'pending',
  Retired = 'retired',
}

/** A Windows machine enrolled into a site. */
export interface Machine {
  id: string;
  tenantId: string;
  siteId: string;
  machineUid: string;
  hostname: string;
  status: MachineStatus;
  bootId?: string | null;
  lastSeenAt?: Date | null;
  /** The MachineGuid it last enrolled with: changes on every OS install, tells clones apart. */
  machineGuid?: string | null;
  /** '' for the machine that owns its machine_uid; a clone's own discriminator otherwise. */
  cloneKey: string;
  hardware: Record<string, unknown>;
  os: Record<string, unknown>;
  agentVersion?: string | null;
  labels: Record<string, string>;
  inventory?: Record<string, unknown> | null;
  /** The Autopilot hardware hash harvested by the inventory step. */
  autopilot?: { serial: string; productId: string | null; hardwareHash: string; harvestedAt: string } | null;
  /** Per-machine profile overrides: the last layer of the effective config. */
  profileLayer?: Record<string, unknown>;
  uptimeSeconds?: number | null;
  pendingReason?: string | null;
  /** Set while a decision is open: pending rows (collision, unverified) and move requests. */
  pendingKind?: PendingKind | null;
  /** A pending row's claim: the machine it would replace if approved as a replacement. */
  replacesMachineId?: string | null;
  /** A proven move request: the site it asked for (the machine stays in its own until approved). */
  requestedSiteId?: string | null;
  requestedBy?: EnrollmentRequester | null;
  decidedBy?: string | null;
  decidedAt?: Date | null;
  createdAt: Date;
}

export const MachineSchema = new EntitySchema<Machine>({
  name: 'Machine',
  tableName: 'machines',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    siteId: { type: 'uuid' },
    machineUid: { type: 'string' },
    hostname: { type: 'string' },
    status: { enum: true, items: () => MachineStatus, default: MachineStatus.Active },
    bootId: { type: 'string', nullable: true },
    lastSeenAt: { type: 'Date', nullable: true },
    machineGuid: { type: 'string', nullable: true },
    cloneKey: { type: 'string', default: '' },
    hardware: { type: 'json' },
    os: { type: 'json' },
    agentVersion: { type: 'string', nullable: true },
    labels: { type: 'json' },
    inventory: { type: 'json', nullable: true },
    autopilot: { type: 'json', nullable: true },
    profileLayer: { type: 'json', default: '{}' },
    uptimeSeconds: { type: 'number', nullable: true },
    pendingReason: { type: 'string', nullable: true },
    pendingKind: { enum: true, items: () => PendingKind, nullable: true },
    replacesMachineId: { type: 'uuid', nullable: true },
    requestedSiteId: { type: 'uuid', nullable: true },
    requestedBy: { type: 'json', nullable: true },
    decidedBy: { type: 'string', nullable: true },
    decidedAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
