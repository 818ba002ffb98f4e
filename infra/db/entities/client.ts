import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** A company the MSP serves. */
export interface Client {
  id: string;
  tenantId: string;
  name: string;
  createdAt: Date;
}

export const ClientSchema = new EntitySchema<Client>({
  name: 'Client',
  tableName: 'clients',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    name: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
