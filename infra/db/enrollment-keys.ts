import { randomUUID } from 'node:crypto';
import { fingerprint, generateKey, hashKeySecret, parseKey } from '../security/keys';
import { sealEnrollmentKey } from '../security/sealed-keys';
import { appendAudit } from './audit';
import { SiteEnrollmentKeySchema, SiteInstallerSchema, type Site } from './entities';
import type { EntityManager } from './orm';

export interface IssuedEnrollmentKey {
  siteId: string;
  version: number;
  fingerprint: string;
  /** Shown once; only its HMAC is stored. */
  key: string;
}

/**
 * Issues a site's first enrollment key or its next version, retiring the current one: from then on
 * the old key enrolls nothing new, while enrolled machines keep their own agent keys. The new key
 * is also kept sealed for installer builds (ADR 0024); the old one's sealed copy is erased and the
 * site's built installers are dropped (they carry the old key). Audited. Call inside the site's
 * tenant transaction.
 */
export async function rotateEnrollmentKey(
  em: EntityManager,
  site: Site,
  actor: string,
  serverSecret: string,
): Promise<IssuedEnrollmentKey> {
  const current = await em.find(
    SiteEnrollmentKeySchema,
    { siteId: site.id },
    { orderBy: { version: 'desc' } },
  );
  for (const k of current.filter((k) => k.active)) {
    k.active = false;
    k.retiredAt = new Date();
  }
  for (const k of current) k.keySealed = null;
  await em.flush();
  await em.nativeDelete(SiteInstallerSchema, { siteId: site.id });
  const version = (current[0]?.version ?? 0) + 1;
  const { key, keyId } = generateKey('dek');
  const fp = fingerprint(version, key);
  em.create(SiteEnrollmentKeySchema, {
    id: randomUUID(),
    tenantId: site.tenantId,
    siteId: site.id,
    version,
    keyId,
    keyHash: hashKeySecret(serverSecret, parseKey(key, 'dek')!),
    keySealed: sealEnrollmentKey(serverSecret, { tenantId: site.tenantId, siteId: site.id, version }, key),
    fingerprint: fp,
    active: true,
    createdBy: actor,
    createdAt: new Date(),
  });
  await em.flush();
  await appendAudit(em, {
    tenantId: site.tenantId,
    actor,
    action: version === 1 ? 'enrollment_key.created' : 'enrollment_key.rotated',
    subjectType: 'site',
    subjectId: site.id,
    data: { siteCode: site.code, version, fingerprint: fp },
  });
  return { siteId: site.id, version, fingerprint: fp, key };
}
