import type { FastifyBaseLogger } from 'fastify';
import type { Orm } from '../../infra/db/orm';
import { parseKey, verifyKeySecret } from '../../infra/security/keys';
import { lookupKeyRow } from './key-lookup';

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
): Promise<AgentIdentity | null> {
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  const parsed = parseKey(token, 'dak');
  if (!parsed) {
    log.info({ reason: token ? 'malformed agent key' : 'no agent key' }, 'agent authentication failed');
    return null;
  }
  const row = await lookupKeyRow<{
    tenant_id: string;
    machine_id: string;
    key_hash: string;
    revoked_at: Date | null;
  }>(orm, 'agent_keys', parsed.keyId, 'tenant_id, machine_id, key_hash, revoked_at');
  if (!row || !verifyKeySecret(secret, parsed, row.key_hash)) {
    log.info(
      { keyId: parsed.keyId, reason: row ? 'wrong secret' : 'unknown key id' },
      'agent authentication failed',
    );
    return null;
  }
  if (row.revoked_at) {
    log.info({ keyId: parsed.keyId, reason: 'revoked key' }, 'agent authentication failed');
    return null;
  }
  return { tenantId: row.tenant_id, machineId: row.machine_id, keyId: parsed.keyId };
}
