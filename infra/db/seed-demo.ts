import { createHash, randomUUID } from 'node:crypto';
import { appendAudit } from './audit';
import {
  ClientSchema,
  MembershipSchema,
  ProfileVersionSchema,
  Role,
  SiteSchema,
  TenantSchema,
  UserSchema,
} from './entities';
import { withTenant, type EntityManager, type Orm } from './orm';

/** A stable UUID (version 5 layout, SHA-1 of a fixed namespace + name) so the demo tenant id never changes. */
export function demoTenantId(slug: string): string {
  const hash = createHash('sha1').update(`drydock-demo-tenant:${slug}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export const DEMO_SITE_CODE = 'DEMO-HQ';

/**
 * Seeds the demo tenant (one client, one site, one admin, the built-in Standard profile as version 1
 * of "Standard") once; later runs change nothing.
 */
export async function seedDemoTenant(
  orm: Orm,
  slug: string,
): Promise<{ tenantId: string; created: boolean }> {
  const tenantId = demoTenantId(slug);
  return withTenant(orm, tenantId, async (em) => {
    if (await em.findOne(TenantSchema, { id: tenantId })) {
      await ensureStandardProfile(em, tenantId);
      return { tenantId, created: false };
    }
    const now = new Date();
    em.create(TenantSchema, { id: tenantId, slug, name: 'Demo MSP', createdAt: now });
    await em.flush();
    const client = em.create(ClientSchema, {
      id: randomUUID(),
      tenantId,
      name: 'Contoso Dental',
      createdAt: now,
    });
    const user = em.create(UserSchema, {
      id: randomUUID(),
      tenantId,
      email: 'admin@demo.invalid',
      displayName: 'Demo Admin',
      createdAt: now,
    });
    await em.flush();
    em.create(SiteSchema, {
      id: randomUUID(),
      tenantId,
      clientId: client.id,
      code: DEMO_SITE_CODE,
      name: 'Head office',
      createdAt: now,
    });
    em.create(MembershipSchema, {
      id: randomUUID(),
      tenantId,
      userId: user.id,
      role: Role.Admin,
      createdAt: now,
    });
    await em.flush();
    await ensureStandardProfile(em, tenantId);
    await appendAudit(em, {
      tenantId,
      actor: 'system:seed',
      action: 'tenant.seeded',
      subjectType: 'tenant',
      subjectId: tenantId,
    });
    return { tenantId, created: true };
  });
}

/** The demo tenant can start a fleet run at once: "Standard" v1 is the built-in profile as it is. */
async function ensureStandardProfile(em: EntityManager, tenantId: string): Promise<void> {
  if (await em.count(ProfileVersionSchema, { name: 'Standard' })) return;
  em.create(ProfileVersionSchema, {
    id: randomUUID(),
    tenantId,
    name: 'Standard',
    version: 1,
    document: {},
    createdBy: 'system:seed',
    createdAt: new Date(),
  });
  await em.flush();
}
