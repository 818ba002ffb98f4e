import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ClientSchema, SiteSchema, TenantSchema } from '../../infra/db/entities';
import { createOrm, withTenant, type Orm } from '../../infra/db/orm';
import { findRlsProblems } from '../../infra/db/rls-check';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';

let db: TestDatabase;
let appOrm: Orm;
let a: TenantFixture;
let b: TenantFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  appOrm = await db.appOrm();
  a = await createTenant(appOrm);
  b = await createTenant(appOrm);
});
afterAll(() => db.drop());

async function appClient(): Promise<Client> {
  const client = new Client({ connectionString: db.appUrl });
  await client.connect();
  return client;
}

describe('the ORM tenant filter', () => {
  it('stops a cross-tenant read on its own (owner connection, where RLS does not apply)', async () => {
    // The owner is a superuser here, so only the filter stands between tenants.
    const ownerOrm = await createOrm(db.adminUrl, { pool: { min: 0, max: 2 } });
    try {
      const em = ownerOrm.em.fork();
      em.setFilterParams('tenant', { tenantId: a.tenantId });
      const clients = await em.find(ClientSchema, {});
      expect(clients.map((c) => c.tenantId)).toEqual([a.tenantId]);
      expect(await em.findOne(SiteSchema, { id: b.siteId })).toBeNull();
      expect(await em.count(TenantSchema, {})).toBe(1);
      // Without the filter the owner sees both: the filter is what did the work above.
      expect(await em.count(ClientSchema, {}, { filters: false })).toBe(2);
    } finally {
      await ownerOrm.close();
    }
  });

  it('cannot be forgotten silently: a query without a tenant throws', async () => {
    await expect(appOrm.em.fork().find(ClientSchema, {})).rejects.toThrow(
      /No arguments provided for filter 'tenant'/,
    );
  });

  it('scopes queries inside withTenant', async () => {
    const seen = await withTenant(appOrm, b.tenantId, (em) => em.find(SiteSchema, {}));
    expect(seen.map((s) => s.id)).toEqual([b.siteId]);
  });
});

describe('row-level security', () => {
  it('stops a cross-tenant read with no ORM filter at all (raw SQL as the app role)', async () => {
    const client = await appClient();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [a.tenantId]);
      const { rows } = await client.query<{ tenant_id: string }>('select tenant_id from clients');
      expect(rows.map((r) => r.tenant_id)).toEqual([a.tenantId]);
      const other = await client.query('select * from sites where id = $1', [b.siteId]);
      expect(other.rowCount).toBe(0);
      await client.query('commit');
    } finally {
      await client.end();
    }
  });

  it('also covers the query builder, which the ORM filter skips', async () => {
    const rows = await withTenant(appOrm, a.tenantId, async (em) => {
      em.setFilterParams('tenant', { tenantId: b.tenantId }); // a filter for the wrong tenant…
      return em.createQueryBuilder(ClientSchema).select('*').where({ tenantId: b.tenantId }).execute();
    });
    expect(rows).toEqual([]); // …still finds nothing: RLS follows app.tenant_id, not the filter.
  });

  it('shows no row at all when no tenant is set', async () => {
    const client = await appClient();
    try {
      for (const table of [
        'tenants',
        'clients',
        'sites',
        'machines',
        'users',
        'memberships',
        'audit_events',
        'site_enrollment_keys',
        'agent_keys',
        'agent_tasks',
        'alerts',
        'profiles',
      ]) {
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
        expect({ table, n: rows[0]!.n }).toEqual({ table, n: 0 });
      }
    } finally {
      await client.end();
    }
  });

  it('refuses writing a row into another tenant (WITH CHECK)', async () => {
    await expect(
      withTenant(appOrm, a.tenantId, async (em) => {
        em.create(ClientSchema, {
          id: randomUUID(),
          tenantId: b.tenantId,
          name: 'smuggled',
          createdAt: new Date(),
        });
        await em.flush();
      }),
    ).rejects.toThrow(/row-level security/);
  });

  it('does not carry a tenant over to the next transaction on a pooled connection', async () => {
    const client = await appClient();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [a.tenantId]);
      await client.query('commit');
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from clients');
      expect(rows[0]!.n).toBe(0);
    } finally {
      await client.end();
    }
  });

  it('cannot be switched off by the app role', async () => {
    const client = await appClient();
    try {
      await client.query('set row_security = off');
      await expect(client.query('select * from clients')).rejects.toThrow(/row-level security/);
      const { rows } = await client.query<{ rolsuper: boolean; rolbypassrls: boolean; owns: number }>(
        `select rolsuper, rolbypassrls,
                (select count(*)::int from pg_class c where c.relowner = r.oid and c.relkind = 'r') as owns
           from pg_roles r where rolname = current_user`,
      );
      expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false, owns: 0 });
    } finally {
      await client.end();
    }
  });
});

describe('the RLS catalog check', () => {
  it('finds every tenant table under forced RLS with a complete policy', async () => {
    const admin = await db.adminClient();
    expect(await findRlsProblems(admin)).toEqual([]);
    const { rows } = await admin.query<{ relname: string }>(
      `select c.relname from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id'
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relforcerowsecurity order by 1`,
    );
    expect(rows.map((r) => r.relname)).toEqual([
      'agent_keys',
      'agent_tasks',
      'alerts',
      'audit_events',
      'clients',
      'fleet_runs',
      'machine_names',
      'machine_runs',
      'machines',
      'memberships',
      'profiles',
      'site_enrollment_keys',
      'sites',
      'tenants',
      'users',
    ]);
  });

  it('fails when a table with tenant_id is added without RLS, without FORCE, or without a policy', async () => {
    const admin = await db.adminClient();
    await admin.query('create table rls_probe (id int primary key, tenant_id uuid not null)');
    try {
      expect(await findRlsProblems(admin)).toEqual([
        { table: 'rls_probe', problem: 'row-level security is not enabled' },
        { table: 'rls_probe', problem: 'has no policy' },
      ]);
      await admin.query('alter table rls_probe enable row level security');
      expect(await findRlsProblems(admin)).toEqual([
        { table: 'rls_probe', problem: 'row-level security is not forced' },
        { table: 'rls_probe', problem: 'has no policy' },
      ]);
      await admin.query('alter table rls_probe force row level security');
      expect(await findRlsProblems(admin)).toEqual([{ table: 'rls_probe', problem: 'has no policy' }]);
      await admin.query(
        `create policy p on rls_probe using (tenant_id = current_setting('app.tenant_id', true)::uuid)`,
      );
      expect(await findRlsProblems(admin)).toEqual([
        { table: 'rls_probe', problem: 'policy lacks USING or WITH CHECK' },
      ]);
      await admin.query(
        `alter policy p on rls_probe with check (tenant_id = current_setting('app.tenant_id', true)::uuid)`,
      );
      expect(await findRlsProblems(admin)).toEqual([]);
    } finally {
      await admin.query('drop table rls_probe');
    }
  });
});
