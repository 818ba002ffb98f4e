import { Client } from 'pg';
import { auditHash, GENESIS_HASH } from './audit';

export interface ChainBreak {
  tenantId: string;
  seq: string;
  id: string | null;
  problem: string;
}

export interface TenantChainReport {
  tenantId: string;
  events: number;
  headSeq: string | null;
  headHash: string | null;
  break?: ChainBreak;
}

/**
 * Walks each tenant's audit chain in seq order and reports the first broken link: an edited or
 * forged row (hash mismatch), a deleted row (gap in seq), a reordered or inserted row (prev_hash
 * does not match the previous row). Needs a connection that sees every tenant (DATABASE_URL).
 */
export async function verifyAuditChains(
  databaseUrl: string,
  onlyTenant?: string,
): Promise<TenantChainReport[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tenants = onlyTenant
      ? [onlyTenant]
      : (
          await client.query<{ tenant_id: string }>(
            'select tenant_id::text from tenants union select distinct tenant_id::text from audit_events order by 1',
          )
        ).rows.map((r) => r.tenant_id);
    const reports: TenantChainReport[] = [];
    for (const tenantId of tenants) reports.push(await verifyTenant(client, tenantId));
    return reports;
  } finally {
    await client.end();
  }
}

/** One tenant's chain in seq order ($1: the tenant id); under RLS the tenant's own session sees the same rows. */
export const AUDIT_CHAIN_SQL = `select id::text, seq::text, audit_time(occurred_at) as occurred_at, actor, action, subject_type, subject_id,
            data::text as data_text, prev_hash, hash
       from audit_events where tenant_id = $1 order by audit_events.seq, audit_events.id`;

export interface AuditChainRow {
  id: string;
  seq: string;
  occurred_at: string;
  actor: string;
  action: string;
  subject_type: string;
  subject_id: string;
  data_text: string;
  prev_hash: string;
  hash: string;
}

async function verifyTenant(client: Client, tenantId: string): Promise<TenantChainReport> {
  const { rows } = await client.query<AuditChainRow>(AUDIT_CHAIN_SQL, [tenantId]);
  return checkAuditChain(tenantId, rows);
}

/** The first broken link of one tenant's chain (rows as AUDIT_CHAIN_SQL reads them), if any. */
export function checkAuditChain(tenantId: string, rows: readonly AuditChainRow[]): TenantChainReport {
  let expectedSeq = 1n;
  let prevHash = GENESIS_HASH;
  const report: TenantChainReport = { tenantId, events: rows.length, headSeq: null, headHash: null };
  for (const row of rows) {
    const at = (problem: string): TenantChainReport => ({
      ...report,
      break: { tenantId, seq: row.seq, id: row.id, problem },
    });
    const seq = BigInt(row.seq);
    if (seq < expectedSeq)
      return at(`seq ${row.seq} appears twice or out of order (row inserted or reordered)`);
    if (seq > expectedSeq) {
      return {
        ...report,
        break: {
          tenantId,
          seq: String(expectedSeq),
          id: null,
          problem: `seq ${expectedSeq} is missing (row deleted)`,
        },
      };
    }
    const recomputed = auditHash({
      tenantId,
      seq: row.seq,
      occurredAt: row.occurred_at,
      actor: row.actor,
      action: row.action,
      subjectType: row.subject_type,
      subjectId: row.subject_id,
      dataText: row.data_text,
      prevHash: row.prev_hash,
    });
    if (recomputed !== row.hash) return at(`hash does not match the row's contents (row edited or forged)`);
    if (row.prev_hash !== prevHash)
      return at(`prev_hash does not match the previous row (row reordered, removed or inserted)`);
    prevHash = row.hash;
    expectedSeq = seq + 1n;
    report.headSeq = row.seq;
    report.headHash = row.hash;
  }
  return report;
}
