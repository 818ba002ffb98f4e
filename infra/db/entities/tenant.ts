import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** An MSP using Drydock: the isolation, branding and SSO boundary. Its primary key is its tenant_id. */
export interface Tenant {
  id: string;
  slug: string;
  name: string;
  createdAt: Date;
}

export const TenantSchema = new EntitySchema<Tenant>({
  name: 'Tenant',
  tableName: 'tenants',
  filters: tenantFilter('id'),
  properties: {
    id: { type: 'uuid', primary: true, fieldName: 'tenant_id' },
    slug: { type: 'string', unique: true },
    name: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
