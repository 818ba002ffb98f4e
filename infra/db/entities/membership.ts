import { EntitySchema, type Opt } from '@mikro-orm/core';
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
  /** Reveal secrets (escrowed keys, passwords): its own permission, on top of the role (ADR 0031). */
  canRevealSecrets: Opt<boolean>;
  /** The clients this user sees; null = every client of the tenant. */
  clientIds?: string[] | null;
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
    canRevealSecrets: { type: 'boolean', default: false },
    clientIds: { type: 'string[]', columnType: 'uuid[]', nullable: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
