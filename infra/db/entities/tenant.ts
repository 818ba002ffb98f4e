import { EntitySchema, type Opt } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** An MSP using Drydock: the isolation, branding and SSO boundary. Its primary key is its tenant_id. */
export interface Tenant {
  id: string;
  slug: string;
  name: string;
  /** White-label: the name the portal shows (default: name), a logo URL, an accent colour #RRGGBB. */
  displayName?: string | null;
  logoUrl?: string | null;
  accentColor: Opt<string>;
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
    displayName: { type: 'string', nullable: true },
    logoUrl: { type: 'string', nullable: true },
    accentColor: { type: 'string', default: '#1c7ed6' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
