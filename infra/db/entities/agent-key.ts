import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** A machine's agent key: only its HMAC is stored; revocable one by one. */
export interface AgentKey {
  id: string;
  tenantId: string;
  machineId: string;
  keyId: string;
  keyHash: string;
  createdAt: Date;
  revokedAt?: Date | null;
  revokedReason?: string | null;
  /** HMAC of the enrollment attempt that obtained it (ADR 0009): a repeat of that request proves the install. */
  attemptHash?: string | null;
}

export const AgentKeySchema = new EntitySchema<AgentKey>({
  name: 'AgentKey',
  tableName: 'agent_keys',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    machineId: { type: 'uuid' },
    keyId: { type: 'string' },
    keyHash: { type: 'string', hidden: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    revokedAt: { type: 'Date', nullable: true },
    revokedReason: { type: 'string', nullable: true },
    attemptHash: { type: 'string', nullable: true, hidden: true },
  },
});
