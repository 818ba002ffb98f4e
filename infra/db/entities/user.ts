import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** A person who signs in to the portal; keyed by their identity provider's subject, not their e-mail. */
export interface User {
  id: string;
  tenantId: string;
  oidcIssuer?: string | null;
  oidcSubject?: string | null;
  email: string;
  displayName: string;
  createdAt: Date;
}

export const UserSchema = new EntitySchema<User>({
  name: 'User',
  tableName: 'users',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    oidcIssuer: { type: 'string', nullable: true },
    oidcSubject: { type: 'string', nullable: true },
    email: { type: 'string' },
    displayName: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
