import type { Client as TemporalClient } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { AuditEventSchema, SiteSchema } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { createSiteWorkflowId } from '../../workflows/sites/contracts';
import { buildTestApp, gql } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { startTestWorker, testTemporalClient } from '../helpers/temporal';

let db: TestDatabase;
let orm: Orm;
let temporal: TemporalClient;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let app: FastifyInstance;
let tenant: TenantFixture;
let other: TenantFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  temporal = await testTemporalClient();
  worker = await startTestWorker(orm);
  app = await buildTestApp(orm, temporal, db.appUrl, worker.taskQueue);
  tenant = await createTenant(orm);
  other = await createTenant(orm);
});
afterAll(async () => {
  await app.close();
  await worker.stop();
  await temporal.connection.close();
  await db.drop();
});

const createSite = `mutation($input: CreateSiteInput!) { createSite(input: $input) { id code name clientId } }`;

describe('createSite: GraphQL mutation → workflow → worker → PostgreSQL', () => {
  it('creates the site row and its audit event through the real worker', async () => {
    const res = await gql<{ createSite: { id: string; code: string; name: string } }>(
      app,
      tenant.tenantId,
      createSite,
      {
        input: { clientId: tenant.clientId, code: 'branch-7', name: 'Branch seven' },
      },
    );
    expect(res.errors).toBeUndefined();
    const site = res.data!.createSite;
    expect(site).toMatchObject({ code: 'BRANCH-7', name: 'Branch seven' });

    const [row, audit] = await withTenant(orm, tenant.tenantId, async (em) => [
      await em.findOne(SiteSchema, { id: site.id }),
      await em.find(AuditEventSchema, { action: 'site.created', subjectId: site.id }),
    ]);
    expect(row).toMatchObject({ tenantId: tenant.tenantId, clientId: tenant.clientId, code: 'BRANCH-7' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'token:test-admin', subjectType: 'site' });

    // The run is in Temporal's history, findable by the engineer's search attributes.
    const handle = temporal.workflow.getHandle(createSiteWorkflowId(tenant.tenantId, 'BRANCH-7'));
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.searchAttributes).toMatchObject({ TenantId: [tenant.tenantId], SiteId: [site.id] });
  });

  it('returns the same site when asked twice, and audits it once', async () => {
    const input = { clientId: tenant.clientId, code: 'TWICE-1', name: 'Twice' };
    const [first, second] = await Promise.all([
      gql<{ createSite: { id: string } }>(app, tenant.tenantId, createSite, { input }),
      gql<{ createSite: { id: string } }>(app, tenant.tenantId, createSite, { input }),
    ]);
    expect(first.data!.createSite.id).toBe(second.data!.createSite.id);
    const events = await withTenant(orm, tenant.tenantId, (em) =>
      em.count(AuditEventSchema, { action: 'site.created', subjectId: first.data!.createSite.id }),
    );
    expect(events).toBe(1);
  });

  it('maps a permanent failure to a stable error code: unknown client', async () => {
    const res = await gql(app, tenant.tenantId, createSite, {
      input: { clientId: other.clientId, code: 'NOPE-1', name: 'x' },
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('CLIENT_NOT_FOUND');
  });

  it("reveals nothing about another tenant's site codes: the same code is simply a site of mine", async () => {
    // Site codes are unique per tenant: an answer of SITE_CODE_TAKEN here would tell this tenant
    // that some other tenant of Drydock has a site called that (an enumeration oracle).
    const res = await gql<{ createSite: { id: string; code: string } }>(app, tenant.tenantId, createSite, {
      input: { clientId: tenant.clientId, code: other.siteCode, name: 'x' },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data!.createSite.code).toBe(other.siteCode);
    expect(res.data!.createSite.id).not.toBe(other.siteId);
    expect(JSON.stringify(res)).not.toContain(other.tenantId);
    // Within one tenant a code is still taken once (a third tenant, so the others stay as they were).
    const third = await createTenant(orm);
    const client = await gql<{ createClient: { id: string } }>(
      app,
      third.tenantId,
      `mutation { createClient(name: "Second client") { id } }`,
    );
    const again = await gql(app, third.tenantId, createSite, {
      input: { clientId: client.data!.createClient.id, code: third.siteCode, name: 'y' },
    });
    expect(again.errors?.[0]?.extensions?.code).toBe('SITE_CODE_TAKEN');
  });

  it('refuses malformed input before starting anything', async () => {
    const res = await gql(app, tenant.tenantId, createSite, {
      input: { clientId: tenant.clientId, code: 'no spaces!', name: 'x' },
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('GraphQL reads', () => {
  it('answers the fleet query for the caller’s tenant only', async () => {
    const query = `{ tenant { id clients { id sites { id code machines { id } } } } sites { id } }`;
    const mine = await gql<{ tenant: { id: string; clients: { id: string }[] }; sites: { id: string }[] }>(
      app,
      tenant.tenantId,
      query,
    );
    expect(mine.errors).toBeUndefined();
    expect(mine.data!.tenant.id).toBe(tenant.tenantId);
    expect(mine.data!.tenant.clients.map((c) => c.id)).toEqual([tenant.clientId]);
    expect(mine.data!.sites.map((s) => s.id)).not.toContain(other.siteId);
    const theirs = await gql(app, other.tenantId, `query($id: ID!) { site(id: $id) { id } }`, {
      id: tenant.siteId,
    });
    expect(theirs.data).toEqual({ site: null });
  });
});
