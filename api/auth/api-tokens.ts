import { randomBytes, randomUUID } from 'node:crypto';
import { isRole, type Identity } from './identity';
import { constantTimeEqual, keyedHash } from './secrets';
import { ApiTokenSchema, Role, type ApiToken } from '../../infra/db/entities';
import { withTenant, type EntityManager, type Orm } from '../../infra/db/orm';

const PURPOSE = 'api-token';
/** `ddt_` + 16 hex (the row's public id) + `_` + 43 base64url characters (256 random bits). */
const tokenShape = /^ddt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewApiToken {
  tenantId: string;
  name: string;
  role: Role;
  canRevealSecrets?: boolean;
  clientIds?: string[] | null;
  expiresAt?: Date | null;
  createdBy: string;
}

/** Stores a new token (its HMAC only) in the caller's transaction; the token text is returned once. */
export async function issueApiToken(
  em: EntityManager,
  secret: string,
  input: NewApiToken,
): Promise<{ token: string; row: ApiToken }> {
  const tokenId = randomBytes(8).toString('hex');
  const token = `ddt_${tokenId}_${randomBytes(32).toString('base64url')}`;
  const row = em.create(ApiTokenSchema, {
    id: randomUUID(),
    tenantId: input.tenantId,
    tokenId,
    tokenHash: keyedHash(secret, PURPOSE, token),
    name: input.name,
    role: input.role,
    canRevealSecrets: input.canRevealSecrets ?? false,
    clientIds: input.clientIds?.length ? input.clientIds : null,
    createdBy: input.createdBy,
    createdAt: new Date(),
    expiresAt: input.expiresAt ?? null,
  });
  await em.flush();
  return { token, row };
}

/**
 * The identity a bearer token stands for, or null (malformed, unknown, wrong secret, revoked,
 * expired — all alike to the caller). Marks it used at most once a minute.
 */
export async function apiTokenIdentity(orm: Orm, secret: string, token: string): Promise<Identity | null> {
  const shape = tokenShape.exec(token);
  if (!shape) return null;
  const conn = orm.em.getConnection();
  const rows = (await conn.execute('select * from auth_token_lookup(?)', [shape[1]])) as {
    tenant_id: string;
    id: string;
    token_hash: string;
    name: string;
    role: string;
    can_reveal_secrets: boolean;
    client_ids: string[] | null;
    expires_at: Date | null;
    revoked_at: Date | null;
    last_used_at: Date | null;
  }[];
  const row = rows[0];
  if (!row || !constantTimeEqual(keyedHash(secret, PURPOSE, token), row.token_hash)) return null;
  if (row.revoked_at || (row.expires_at && new Date(row.expires_at) <= new Date())) return null;
  if (!isRole(row.role)) return null;
  if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > 60_000) {
    await withTenant(orm, row.tenant_id, (em) =>
      em.nativeUpdate(ApiTokenSchema, { id: row.id }, { lastUsedAt: new Date() }),
    );
  }
  return {
    tenantId: row.tenant_id,
    actor: `token:${row.name}`,
    role: row.role,
    canRevealSecrets: row.can_reveal_secrets,
    clientScope: row.client_ids,
    userId: null,
    via: 'token',
  };
}
