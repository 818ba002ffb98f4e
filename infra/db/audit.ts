import { createHash } from 'node:crypto';
import type { EntityManager } from './orm';

export interface AuditInput {
  tenantId: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  data?: Record<string, unknown>;
}

export interface AppendedAudit {
  id: string;
  seq: string;
  hash: string;
}

/** Appends one event to the tenant's chain inside the caller's tenant transaction. */
export async function appendAudit(em: EntityManager, input: AuditInput): Promise<AppendedAudit> {
  const rows = await em.execute<{ id: string; seq: string; hash: string }[]>(
    `insert into audit_events (tenant_id, seq, occurred_at, actor, action, subject_type, subject_id, data, prev_hash, hash)
     values (?, 0, now(), ?, ?, ?, ?, ?::jsonb, '', '') returning id::text, seq::text, hash`,
    [
      input.tenantId,
      input.actor,
      input.action,
      input.subjectType,
      input.subjectId,
      JSON.stringify(input.data ?? {}),
    ],
  );
  return rows[0]!;
}

export const GENESIS_HASH = '0'.repeat(64);

function field(value: string): string {
  return `${Buffer.byteLength(value, 'utf8')}:${value}`;
}

export interface AuditRowForHash {
  tenantId: string;
  seq: string;
  occurredAt: string; // rendered by audit_time() in SQL: YYYY-MM-DDTHH:MI:SS.USZ
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  dataText: string; // data::text as PostgreSQL renders jsonb
  prevHash: string;
}

/** The same canonical form as the audit_events_chain() trigger, recomputed independently. */
export function auditHash(row: AuditRowForHash): string {
  const canonical =
    'drydock-audit-v1|' +
    [
      row.tenantId,
      row.seq,
      row.occurredAt,
      row.actor,
      row.action,
      row.subjectType,
      row.subjectId,
      row.dataText,
      row.prevHash,
    ]
      .map(field)
      .join('');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
