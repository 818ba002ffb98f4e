import { randomUUID } from 'node:crypto';
import { ClientSchema, SiteSchema, TenantSchema } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';

export interface TenantFixture {
  tenantId: string;
  clientId: string;
  siteId: string;
  siteCode: string;
}

/** A tenant with one client and one site, written through the app role (RLS applies). */
export async function createTenant(orm: Orm, slug = `t-${randomUUID().slice(0, 8)}`): Promise<TenantFixture> {
  const tenantId = randomUUID();
  const siteCode = `S-${randomUUID().slice(0, 8).toUpperCase()}`;
  return withTenant(orm, tenantId, async (em) => {
    em.create(TenantSchema, { id: tenantId, slug, name: `Tenant ${slug}`, createdAt: new Date() });
    await em.flush();
    const client = em.create(ClientSchema, {
      id: randomUUID(),
      tenantId,
      name: `Client of ${slug}`,
      createdAt: new Date(),
    });
    await em.flush();
    const site = em.create(SiteSchema, {
      id: randomUUID(),
      tenantId,
      clientId: client.id,
      code: siteCode,
      name: 'HQ',
      createdAt: new Date(),
    });
    await em.flush();
    return { tenantId, clientId: client.id, siteId: site.id, siteCode };
  });
}
