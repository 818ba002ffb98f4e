import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** A location of a client: its machines enroll into it with the site's code. */
export interface Site {
  id: string;
  tenantId: string;
  clientId: string;
  /** Globally unique, typed by technicians and baked into installers. */
  code: string;
  name: string;
  createdAt: Date;
}

export const SiteSchema = new EntitySchema<Site>({
  name: 'Site',
  tableName: 'sites',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    clientId: { type: 'uuid' },
    code: { type: 'string', unique: true },
    name: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
