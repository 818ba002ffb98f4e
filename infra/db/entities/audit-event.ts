import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/**
 * One link of a tenant's append-only audit chain. Rows are written only through `appendAudit`
 * (infra/db/audit.ts); the database assigns seq, occurred_at, prev_hash and hash.
 */
export interface AuditEvent {
  id: string;
  tenantId: string;
  seq: string;
  occurredAt: Date;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export const AuditEventSchema = new EntitySchema<AuditEvent>({
  name: 'AuditEvent',
  tableName: 'audit_events',
  filters: tenantFilter(),
  readonly: true,
  properties: {
    id: { type: 'bigint', primary: true },
    tenantId: { type: 'uuid' },
    seq: { type: 'bigint' },
    occurredAt: { type: 'Date' },
    actor: { type: 'string' },
    action: { type: 'string' },
    subjectType: { type: 'string' },
    subjectId: { type: 'string' },
    data: { type: 'json' },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
});
