import type { FastifyBaseLogger } from 'fastify';
import { lookupAgentKey } from '../../infra/db/agent-tasks';
import type { Orm } from '../../infra/db/orm';
import { parseKey, verifyKeySecret } from '../../infra/security/keys';
import type { AgentKeyCache } from './key-cache';

export interface AgentIdentity {
  tenantId: string;
  machineId: string;
  keyId: string;
}

/**
 * Authenticates `Authorization: Bearer dak_…`. Every failure looks the same to the caller (the
 * route answers one fixed 401 body); the reason goes to the server log only.
 */
export async function authenticateAgent(
  orm: Orm,
  secret: string,
  header: string | undefined,
  log: FastifyBaseLogger,
  keys?: AgentKeyCache,
): Promise<AgentIdentity | null> {
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  const parsed = parseKey(token, 'dak');
  if (!parsed) {
    log.info({ reason: token ? 'malformed agent key' : 'no agent key' }, 'agent authentication failed');
    return null;
  }
  const load = () => lookupAgentKey(orm, parsed.keyId);
  const row = await (keys ? keys.get(parsed.keyId, load) : load());
  if (!row || !verifyKeySecret(secret, parsed, row.keyHash)) {
    log.info(
      { keyId: parsed.keyId, reason: row ? 'wrong secret' : 'unknown key id' },
      'agent authentication failed',
    );
    return null;
  }
  if (row.revokedAt) {
    log.info({ keyId: parsed.keyId, reason: 'revoked key' }, 'agent authentication failed');
    return null;
  }
  return { tenantId: row.tenantId, machineId: row.machineId, keyId: parsed.keyId };
}
