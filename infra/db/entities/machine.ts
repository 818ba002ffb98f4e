import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

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
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
