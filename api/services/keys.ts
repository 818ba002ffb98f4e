import type { FastifyBaseLogger } from 'fastify';
import { serverSecret } from '../../infra/config/env';
import { noticeSql } from '../../infra/db/agent-notices';
import { lookupAgentKey, type AgentKeyRow } from '../../infra/db/agent-tasks';
import { MachineSchema, Role, SiteSchema } from '../../infra/db/entities';
import {
  rotateEnrollmentKey as issueEnrollmentKey,
  type IssuedEnrollmentKey,
} from '../../infra/db/enrollment-keys';
import type { EntityManager, Orm } from '../../infra/db/orm';
import { parseKey, verifyKeySecret } from '../../infra/security/keys';
import type { AgentKeyCache } from '../agent-channel/key-cache';
import { audited } from './audit';
import { ErrorCode, refuse } from './errors';
import { authorize, inTenant, type ServiceContext } from './service-context';

/**
 * Enrollment keys and agent keys (ADR 0008): issuing, looking up, revoking. Each happens here and
 * nowhere else — the GraphQL mutations, the enrollment rules and the agent REST API all call these.
 */

/**
 * Issues a site's first enrollment key or its next version (engineer role); audited. The key itself
 * comes back only to a caller with reveal-secrets: others rotate (say, after a leak) and build
 * installers, which embed the key server-side (ADR 0024), without seeing it.
 */
export async function rotateSiteEnrollmentKey(
  ctx: ServiceContext,
  input: { siteId: string | number },
): Promise<Omit<IssuedEnrollmentKey, 'key'> & { key: string | null }> {
  const caller = authorize(ctx, Role.Engineer);
  const secret = serverSecret(ctx.env);
  const issued = await inTenant(ctx, async (em) => {
    const site = await em.findOne(SiteSchema, { id: String(input.siteId) });
    if (!site) throw refuse(ErrorCode.NotFound, 'site not found');
    return issueEnrollmentKey(em, site, caller.actor, secret);
  });
  return caller.canRevealSecrets ? issued : { ...issued, key: null };
}

/** Revokes a machine's agent keys (engineer role): its requests get 401 at once. Returns how many. */
export async function revokeAgentKey(
  ctx: ServiceContext,
  input: { machineId: string | number },
): Promise<number> {
  const caller = authorize(ctx, Role.Engineer);
  const revoked = await audited(
    ctx,
    async (em) => {
      const machine = await em.findOne(MachineSchema, { id: String(input.machineId) });
      if (!machine) throw refuse(ErrorCode.NotFound, 'machine not found');
      return {
        machineId: machine.id,
        keys: await revokeMachineKeys(em, machine.id, `revoked by ${caller.actor}`),
      };
    },
    (r) => ({
      action: 'agent_key.revoked',
      subjectType: 'machine',
      subjectId: r.machineId,
      data: { keys: r.keys.length },
    }),
  );
  forgetKeys(ctx.agentKeys, revoked.keys);
  return revoked.keys.length;
}

/**
 * Revokes every live agent key of a machine, in the caller's transaction; each key's `revoked`
 * notice goes out on commit (every API replica ends its long-poll and forgets it). Returns the key ids.
 */
export async function revokeMachineKeys(
  em: EntityManager,
  machineId: string,
  reason: string,
): Promise<string[]> {
  const rows = await em.execute<{ key_id: string }[]>(
    `update agent_keys set revoked_at = now(), revoked_reason = ?
      where machine_id = ? and revoked_at is null returning key_id`,
    [reason, machineId],
  );
  await notify(
    em,
    rows.map((r) => ({ t: 'revoked', k: r.key_id }) as const),
  );
  return rows.map((r) => r.key_id);
}

/**
 * Moves a machine's live agent keys to another machine row (an approved replacement takes the old
 * row over with its own install's key), in the caller's transaction; `rekeyed` notices on commit.
 */
export async function moveMachineKeys(
  em: EntityManager,
  fromMachineId: string,
  toMachineId: string,
): Promise<string[]> {
  const rows = await em.execute<{ key_id: string }[]>(
    `update agent_keys set machine_id = ? where machine_id = ? and revoked_at is null returning key_id`,
    [toMachineId, fromMachineId],
  );
  await notify(
    em,
    rows.map((r) => ({ t: 'rekeyed', k: r.key_id }) as const),
  );
  return rows.map((r) => r.key_id);
}

/** After the commit: this process stops trusting the keys now, not when their notice arrives. */
export function forgetKeys(cache: AgentKeyCache | undefined, keyIds: readonly string[]): void {
  for (const keyId of keyIds) cache?.forget(keyId);
}

async function notify(
  em: EntityManager,
  notices: ({ t: 'revoked'; k: string } | { t: 'rekeyed'; k: string })[],
) {
  for (const notice of notices) {
    const n = noticeSql(notice);
    await em.execute(n.sql, n.params);
  }
}

/** An agent key that checked out: whose it is. */
export interface AgentIdentity {
  tenantId: string;
  machineId: string;
  keyId: string;
}

export type AgentKeyCheck =
  | { ok: true; agent: AgentIdentity }
  | {
      ok: false;
      reason: 'no agent key' | 'malformed agent key' | 'unknown key id' | 'wrong secret' | 'revoked key';
      keyId?: string;
    };

/**
 * Checks `Authorization: Bearer dak_…`: the one way an agent key is looked up and verified (the
 * cache, when given, saves the lookup; the secret is checked against the stored HMAC every time).
 */
export async function checkAgentKey(
  orm: Orm,
  secret: string,
  authorization: string | undefined,
  cache?: AgentKeyCache,
): Promise<AgentKeyCheck> {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined;
  const parsed = parseKey(token, 'dak');
  if (!parsed) return { ok: false, reason: token ? 'malformed agent key' : 'no agent key' };
  const load = (): Promise<AgentKeyRow | null> => lookupAgentKey(orm, parsed.keyId);
  const row = await (cache ? cache.get(parsed.keyId, load) : load());
  if (!row) return { ok: false, reason: 'unknown key id', keyId: parsed.keyId };
  if (!verifyKeySecret(secret, parsed, row.keyHash))
    return { ok: false, reason: 'wrong secret', keyId: parsed.keyId };
  if (row.revokedAt) return { ok: false, reason: 'revoked key', keyId: parsed.keyId };
  return { ok: true, agent: { tenantId: row.tenantId, machineId: row.machineId, keyId: parsed.keyId } };
}

/**
 * Authenticates an agent's request. Every failure looks the same to the caller (the route answers
 * one fixed 401 body); the reason goes to the server log only.
 */
export async function authenticateAgent(
  orm: Orm,
  secret: string,
  authorization: string | undefined,
  log: FastifyBaseLogger,
  cache?: AgentKeyCache,
): Promise<AgentIdentity | null> {
  const check = await checkAgentKey(orm, secret, authorization, cache);
  if (check.ok) return check.agent;
  log.info(
    { ...(check.keyId ? { keyId: check.keyId } : {}), reason: check.reason },
    'agent authentication failed',
  );
  return null;
}

/** A site enrollment key's row by its non-secret key id, before the tenant is known. */
export interface EnrollmentKeyRow {
  tenantId: string;
  siteId: string;
  keyHash: string;
  active: boolean;
  version: number;
}

/**
 * The `key_lookup` row-level-security policy shows exactly the row whose key_id equals
 * `app.key_lookup`, set for this one transaction.
 */
export async function lookupEnrollmentKey(orm: Orm, keyId: string): Promise<EnrollmentKeyRow | null> {
  return orm.em.fork().transactional(async (tx: EntityManager) => {
    await tx.execute(`select set_config('app.key_lookup', ?, true)`, [keyId]);
    const [row] = await tx.execute<
      { tenant_id: string; site_id: string; key_hash: string; active: boolean; version: number }[]
    >(`select tenant_id, site_id, key_hash, active, version from site_enrollment_keys where key_id = ?`, [
      keyId,
    ]);
    return row
      ? {
          tenantId: row.tenant_id,
          siteId: row.site_id,
          keyHash: row.key_hash,
          active: row.active,
          version: row.version,
        }
      : null;
  });
}
