import { randomUUID } from 'node:crypto';
import { isRole, type Identity } from './identity';
import { keyedHash, randomToken } from './secrets';
import { SessionSchema } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';

const PURPOSE = 'session';
const sessionShape = /^[A-Za-z0-9_-]{43}$/;

export const sessionHash = (secret: string, sessionId: string) => keyedHash(secret, PURPOSE, sessionId);

/** The CSRF token of a session: derived from its id, so it needs no storage and dies with it. */
export const csrfTokenFor = (secret: string, sessionId: string) =>
  keyedHash(secret, 'csrf', sessionId).slice(0, 43);

/** A new session (a new random id: never one the browser brought along). Returns the cookie value. */
export async function createSession(
  orm: Orm,
  secret: string,
  input: { tenantId: string; userId: string; ttlSeconds: number },
): Promise<string> {
  const sessionId = randomToken(32);
  await withTenant(orm, input.tenantId, async (em) => {
    em.create(SessionSchema, {
      id: randomUUID(),
      tenantId: input.tenantId,
      userId: input.userId,
      idHash: sessionHash(secret, sessionId),
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + input.ttlSeconds * 1000),
    });
    await em.flush();
  });
  return sessionId;
}

export interface SessionIdentity extends Identity {
  userId: string;
  email: string;
  name: string;
}

/** The signed-in person behind a session cookie; null when unknown, expired, revoked or no longer a member. */
export async function sessionIdentity(
  orm: Orm,
  secret: string,
  sessionId: string,
): Promise<SessionIdentity | null> {
  if (!sessionShape.test(sessionId)) return null;
  const rows = (await orm.em
    .getConnection()
    .execute('select * from auth_session_caller(?)', [sessionHash(secret, sessionId)])) as {
    tenant_id: string;
    user_id: string;
    email: string;
    display_name: string;
    role: string;
    can_reveal_secrets: boolean;
    client_ids: string[] | null;
  }[];
  const row = rows[0];
  if (!row || !isRole(row.role)) return null;
  return {
    tenantId: row.tenant_id,
    actor: `user:${row.email}`,
    role: row.role,
    canRevealSecrets: row.can_reveal_secrets,
    clientScope: row.client_ids,
    userId: row.user_id,
    email: row.email,
    name: row.display_name,
    via: 'session',
  };
}

/** Sign-out: the session is revoked in the database, whatever happens to the cookie. */
export async function revokeSession(orm: Orm, secret: string, sessionId: string): Promise<void> {
  if (!sessionShape.test(sessionId)) return;
  await orm.em.getConnection().execute('select auth_session_revoke(?)', [sessionHash(secret, sessionId)]);
}
