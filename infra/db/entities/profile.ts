import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** One saved version of a provisioning profile (rows are never updated: a change is a new version). */
export interface ProfileVersion {
  id: string;
  tenantId: string;
  name: string;
  version: number;
  document: Record<string, unknown>;
  createdBy: string;
  createdAt: Date;
}

export const ProfileVersionSchema = new EntitySchema<ProfileVersion>({
  name: 'ProfileVersion',
  tableName: 'profiles',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    name: { type: 'string' },
    version: { type: 'number' },
    document: { type: 'json' },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
