import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

export enum Role {
  Viewer = 'viewer',
  Operator = 'operator',
  Engineer = 'engineer',
  Admin = 'admin',
}

/** A user's role in a tenant. */
export interface Membership {
  id: string;
  tenantId: string;
  userId: string;
  role: Role;
  createdAt: Date;
}

export const MembershipSchema = new EntitySchema<Membership>({
  name: 'Membership',
  tableName: 'memberships',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    userId: { type: 'uuid' },
    role: { enum: true, items: () => Role },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
