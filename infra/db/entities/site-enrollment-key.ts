import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

/** A site's enrollment key: only its HMAC is stored; one active version per site. */
export interface SiteEnrollmentKey {
  id: string;
  tenantId: string;
  siteId: string;
  version: number;
  /** Non-secret lookup id embedded in the key (`dek_<keyId>_<secret>`). */
  keyId: string;
  keyHash: string;
  /** The active key sealed for installer builds (infra/security/sealed-keys.ts); null once retired. */
  keySealed?: string | null;
  /** `vN (XXXX)`. */
  fingerprint: string;
  active: boolean;
  createdBy: string;
  createdAt: Date;
  retiredAt?: Date | null;
}

export const SiteEnrollmentKeySchema = new EntitySchema<SiteEnrollmentKey>({
  name: 'SiteEnrollmentKey',
  tableName: 'site_enrollment_keys',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    siteId: { type: 'uuid' },
    version: { type: 'number' },
    keyId: { type: 'string' },
    keyHash: { type: 'string', hidden: true },
    keySealed: { type: 'text', nullable: true, hidden: true },
    fingerprint: { type: 'string' },
    active: { type: 'boolean' },
    createdBy: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    retiredAt: { type: 'Date', nullable: true },
  },
});
