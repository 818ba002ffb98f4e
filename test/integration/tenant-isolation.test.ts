import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { claimTask, dispatchTask, finishTask, taskForProgress } from '../../infra/db/agent-tasks';
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

  it('limits a client-scoped transaction to its clients in raw SQL too, reads and writes (ADR 0031)', async () => {
    const admin = await db.adminClient();
    const other = randomUUID();
    const otherSite = randomUUID();
    await admin.query(`insert into clients (id, tenant_id, name) values ($1, $2, 'Other client')`, [
      other,
      a.tenantId,
    ]);
    await admin.query(
      `insert into sites (id, tenant_id, client_id, code, name) values ($1, $2, $3, $4, 'Other site')`,
      [otherSite, a.tenantId, other, `O-${otherSite.slice(0, 8).toUpperCase()}`],
    );
    const client = await appClient();
    try {
      await client.query('begin');
      await client.query(
        `select set_config('app.tenant_id', $1, true), set_config('app.client_scope', $2, true)`,
        [a.tenantId, `{${a.clientId}}`],
      );
      const clients = await client.query<{ id: string }>('select id from clients');
      expect(clients.rows.map((r) => r.id)).toEqual([a.clientId]);
      expect((await client.query('select 1 from sites where id = $1', [otherSite])).rowCount).toBe(0);
      expect((await client.query('select 1 from sites where id = $1', [a.siteId])).rowCount).toBe(1);
      await expect(
        client.query(
          `insert into sites (id, tenant_id, client_id, code, name) values ($1, $2, $3, 'SMUGGLED-1', 'x')`,
          [randomUUID(), a.tenantId, other],
        ),
      ).rejects.toThrow(/row-level security/);
      await client.query('rollback');
      // The same connection, the next transaction, no scope: the whole tenant again.
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [a.tenantId]);
      expect((await client.query('select 1 from sites where id = $1', [otherSite])).rowCount).toBe(1);
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
        'sessions',
        'api_tokens',
        'idp_mappings',
        'installer_grants',
        'domain_credentials',
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

describe('the agent channel functions (one round trip each, migration 0005)', () => {
  /** A machine of tenant `t` with one queued task, written as the app role. */
  async function machineWithTask(t: TenantFixture): Promise<{ machineId: string; taskId: string }> {
    const machineId = randomUUID();
    const client = await appClient();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.tenant_id', $1, true)`, [t.tenantId]);
      await client.query(
        `insert into machines (id, tenant_id, site_id, machine_uid, hostname) values ($1, $2, $3, $4, 'PC')`,
        [machineId, t.tenantId, t.siteId, randomUUID()],
      );
      await client.query('commit');
    } finally {
      await client.end();
    }
    const dispatched = await dispatchTask(appOrm, {
      tenantId: t.tenantId,
      machineId,
      id: randomUUID(),
      kind: 'inventory.collect',
      payload: {},
      idempotencyKey: `wf-${machineId}:1`,
      workflowId: `wf-${machineId}`,
      runId: 'run',
      deliverBy: new Date(Date.now() + 3600_000),
      expiresAt: new Date(Date.now() + 3600_000),
      activityId: '1',
      taskToken: Buffer.from('token'),
      attempt: 1,
    });
    expect(dispatched).toEqual({
      machine: 'active',
      task: { status: 'queued', result: null, error: null },
    });
    const [row] = await withTenant(appOrm, t.tenantId, (em) =>
      em.execute<{ id: string }[]>('select id from agent_tasks where machine_id = ?', [machineId]),
    );
    return { machineId, taskId: row!.id };
  }

  it('see and change nothing of another tenant’s machines and tasks', async () => {
    const { machineId, taskId } = await machineWithTask(a);
    // Tenant b naming a's machine and task: nothing found, nothing claimed, nothing finished.
    expect(
      await dispatchTask(appOrm, {
        tenantId: b.tenantId,
        machineId,
        id: randomUUID(),
        kind: 'inventory.collect',
        payload: {},
        idempotencyKey: `other:${machineId}`,
        workflowId: 'other',
        runId: 'run',
        deliverBy: new Date(Date.now() + 3600_000),
        expiresAt: new Date(Date.now() + 3600_000),
        activityId: '1',
        taskToken: Buffer.from('x'),
        attempt: 1,
      }),
    ).toEqual({ machine: 'missing' });
    expect(await claimTask(appOrm, b.tenantId, machineId)).toBeNull();
    expect(await taskForProgress(appOrm, b.tenantId, machineId, taskId)).toBeNull();
    expect(
      await finishTask(appOrm, b.tenantId, machineId, taskId, { ok: true, result: { x: 1 } }),
    ).toBeNull();
    // Tenant a still has its task untouched: queued, then claimed and finished once.
    expect(
      await withTenant(appOrm, a.tenantId, (em) =>
        em.execute(`select status, task_token from agent_tasks where id = ?`, [taskId]),
      ),
    ).toEqual([{ status: 'queued', task_token: Buffer.from('token') }]);
    // A progress report of the machine's own marks it delivered (the machine is working on it).
    expect(await taskForProgress(appOrm, a.tenantId, machineId, taskId)).toEqual({
      status: 'delivered',
      taskToken: Buffer.from('token'),
    });
    expect(await claimTask(appOrm, a.tenantId, machineId)).toMatchObject({ id: taskId });
    expect(
      await finishTask(appOrm, a.tenantId, machineId, taskId, { ok: true, result: { x: 1 } }),
    ).toMatchObject({ status: 'completed', result: { x: 1 } });
    // The first result stays: a second, different one changes nothing.
    expect(
      await finishTask(appOrm, a.tenantId, machineId, taskId, {
        ok: false,
        error: { type: 'Late', message: 'late', retryable: false },
      }),
    ).toMatchObject({ status: 'completed', result: { x: 1 }, error: null });
  });

  it('leave no key lookup behind, and cannot be redefined by the app role', async () => {
    const client = await appClient();
    try {
      await client.query('begin');
      // A key lookup shows its one row to the function, and nothing stays visible after it.
      await client.query(`select * from agent_key_lookup('no-such-key')`);
      const { rows } = await client.query<{ v: string }>(
        `select current_setting('app.key_lookup', true) as v`,
      );
      expect(rows[0]!.v).toBe('');
      await client.query('commit');
      // The app role may call them but not redefine them (they belong to the owner).
      await expect(
        client.query(`create or replace function agent_claim_task(p_tenant uuid, p_machine uuid)
          returns table (id uuid, kind text, payload jsonb, idempotency_key text)
          language sql as $$ select null::uuid, null::text, null::jsonb, null::text $$`),
      ).rejects.toThrow(/must be owner|permission denied/);
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
      'api_tokens',
      'audit_events',
      'clients',
      'discovered_hosts',
      'domain_credentials',
      'enrollment_site_rate',
      'escrowed_secret_rewraps',
      'escrowed_secrets',
      'fleet_runs',
      'idp_mappings',
      'installer_grants',
      'machine_names',
      'machine_runs',
      'machine_tweak_undos',
      'machines',
      'memberships',
      'profile_migration_batches',
      'profile_migrations',
      'profiles',
      'sessions',
      'site_enrollment_keys',
      'site_installers',
      'sites',
      'tenant_escrow_keys',
      'tenants',
      'tweak_undos',
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

  it('fails on a foreign key between tenant tables that leaves out tenant_id', async () => {
    const admin = await db.adminClient();
    await admin.query(
      `create table fk_probe (id int primary key, tenant_id uuid not null, site_id uuid not null)`,
    );
    try {
      await admin.query('alter table fk_probe enable row level security');
      await admin.query('alter table fk_probe force row level security');
      await admin.query(`create policy p on fk_probe using (tenant_id = current_setting('app.tenant_id', true)::uuid)
        with check (tenant_id = current_setting('app.tenant_id', true)::uuid)`);
      await admin.query(
        'alter table fk_probe add constraint fk_probe_site foreign key (site_id) references sites (id)',
      );
      expect(await findRlsProblems(admin)).toEqual([
        { table: 'fk_probe', problem: 'foreign key fk_probe_site does not include tenant_id' },
      ]);
      await admin.query('alter table fk_probe drop constraint fk_probe_site');
      await admin.query(
        'alter table fk_probe add constraint fk_probe_site foreign key (tenant_id, site_id) references sites (tenant_id, id)',
      );
      expect(await findRlsProblems(admin)).toEqual([]);
    } finally {
      await admin.query('drop table fk_probe');
    }
  });

  it('fails on a function that does not pin its search_path', async () => {
    const admin = await db.adminClient();
    await admin.query(`create function probe_fn() returns int language sql as $$ select 1 $$`);
    try {
      expect(await findRlsProblems(admin)).toEqual([
        { table: 'probe_fn()', problem: 'function does not pin its search_path' },
      ]);
      await admin.query(`alter function probe_fn() set search_path = pg_catalog, public, pg_temp`);
      expect(await findRlsProblems(admin)).toEqual([]);
    } finally {
      await admin.query('drop function probe_fn()');
    }
  });
});
