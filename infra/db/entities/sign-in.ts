import { EntitySchema, type Opt } from '@mikro-orm/core';
import { Role } from './membership';
import { tenantFilter } from './tenant-scoped';

/**
 * Which identity-provider tenant (Entra ID `tid`) and/or group signs in to this Drydock tenant.
 * `defaultRole` set: a person the tenant does not know yet gets a user with that role at first
 * sign-in; null: only users an admin added may sign in.
 */
export interface IdpMapping {
  id: string;
  tenantId: string;
  issuer: string;
  idpTenant?: string | null;
  idpGroup?: string | null;
  defaultRole?: Role | null;
  createdAt: Date;
}

export const IdpMappingSchema = new EntitySchema<IdpMapping>({
  name: 'IdpMapping',
  tableName: 'idp_mappings',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    issuer: { type: 'string' },
    idpTenant: { type: 'string', nullable: true },
    idpGroup: { type: 'string', nullable: true },
    defaultRole: { enum: true, items: () => Role, nullable: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

/** A signed-in browser. Only the hash of its id is stored; the id itself lives in the cookie. */
export interface Session {
  id: string;
  tenantId: string;
  userId: string;
  idHash: string;
  createdAt: Date;
  expiresAt: Date;
  lastSeenAt: Opt<Date>;
  revokedAt?: Date | null;
}

export const SessionSchema = new EntitySchema<Session>({
  name: 'Session',
  tableName: 'sessions',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    userId: { type: 'uuid' },
    idHash: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    expiresAt: { type: 'Date' },
    lastSeenAt: { type: 'Date', onCreate: () => new Date() },
    revokedAt: { type: 'Date', nullable: true },
  },
});

/** A script's credential, scoped like a user (role, reveal-secrets, clients); stored hashed (ADR 0032). */
export interface ApiToken {
  id: string;
  tenantId: string;
  /** The token's public part (`ddt_<tokenId>_<secret>`): finds the row before the tenant is known. */
  tokenId: string;
  tokenHash: string;
  name: string;
  role: Role;
  canRevealSecrets: Opt<boolean>;
  clientIds?: string[] | null;
  createdBy: string;
  createdAt: Date;
  expiresAt?: Date | null;
  revokedAt?: Date | null;
  lastUsedAt?: Date | null;
}

export const ApiTokenSchema = new EntitySchema<ApiToken>({
  name: 'ApiToken',
  tableName: 'api_tokens',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    tokenId: { type: 'string' },
    tokenHash: { type: 'string', hidden: true },
    name: { type: 'string' },
    role: { enum: true, items: () => Role },
    canRevealSecrets: { type: 'boolean', default: false },
    clientIds: { type: 'string[]', columnType: 'uuid[]', nullable: true },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    expiresAt: { type: 'Date', nullable: true },
    revokedAt: { type: 'Date', nullable: true },
    lastUsedAt: { type: 'Date', nullable: true },
  },
});
