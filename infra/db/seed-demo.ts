import { createHash, randomUUID } from 'node:crypto';
import { appendAudit } from './audit';
import { DEMO_USERS, OTHER_TENANT_SLUG } from '../auth/demo-users';
import {
  ClientSchema,
  IdpMappingSchema,
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

/**
 * The development sign-in (ADR 0030): the demo users of the development OIDC provider, each with
 * their role in the demo tenant (scoped@ to its first client only), a second tenant "other" with
 * its admin, and the IdP mappings (issuer + `tid`) that send each to their tenant. Idempotent; the
 * issuer may change between starts (its port), so users are re-keyed to it.
 */
export async function seedDemoSignIn(orm: Orm, demoSlug: string, issuer: string): Promise<void> {
  const { tenantId: demoTenant } = await seedDemoTenant(orm, demoSlug);
  const otherTenant = demoTenantId(OTHER_TENANT_SLUG);
  await withTenant(orm, otherTenant, async (em) => {
    if (await em.findOne(TenantSchema, { id: otherTenant })) return;
    em.create(TenantSchema, {
      id: otherTenant,
      slug: OTHER_TENANT_SLUG,
      name: 'Other MSP',
      createdAt: new Date(),
    });
    await em.flush();
    em.create(ClientSchema, {
      id: randomUUID(),
      tenantId: otherTenant,
      name: 'Fabrikam',
      createdAt: new Date(),
    });
    await em.flush();
  });
  for (const [tenantId, idpTenant] of [
    [demoTenant, 'demo'],
    [otherTenant, 'other'],
  ] as const) {
    await withTenant(orm, tenantId, async (em) => {
      if (!(await em.findOne(IdpMappingSchema, { issuer, idpTenant, idpGroup: null })))
        em.create(IdpMappingSchema, { id: randomUUID(), tenantId, issuer, idpTenant, createdAt: new Date() });
      const firstClient = await em.findOne(ClientSchema, {}, { orderBy: { createdAt: 'asc', id: 'asc' } });
      for (const demo of DEMO_USERS.filter((u) => u.idpTenant === idpTenant)) {
        let user = await em.findOne(UserSchema, { email: demo.email });
        if (!user) {
          user = em.create(UserSchema, {
            id: randomUUID(),
            tenantId,
            email: demo.email,
            displayName: demo.name,
            createdAt: new Date(),
          });
          await em.flush();
        }
        user.oidcIssuer = issuer;
        user.oidcSubject = demo.email;
        const membership =
          (await em.findOne(MembershipSchema, { userId: user.id })) ??
          em.create(MembershipSchema, {
            id: randomUUID(),
            tenantId,
            userId: user.id,
            role: demo.role,
            createdAt: new Date(),
          });
        membership.role = demo.role;
        membership.canRevealSecrets = demo.canRevealSecrets;
        membership.clientIds = demo.scoped && firstClient ? [firstClient.id] : null;
      }
      await em.flush();
    });
  }
}
