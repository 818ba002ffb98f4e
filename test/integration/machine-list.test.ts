import { randomUUID } from 'node:crypto';
import type { Client as TemporalClient } from '@temporalio/client';
import { ErrorCode, ServiceError } from '../../api/services/errors';
import {
  MachineFilter,
  machineCounts,
  MachineSort,
  pageMachines,
  type MachinePageInput,
} from '../../api/services/machines';
import type { Caller, ServiceContext } from '../../api/services/service-context';
import { loadEnv } from '../../infra/config/env';
import { ClientSchema, Role, SiteSchema } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';

/**
 * The machines list a page at a time (issue 13: the portal at tens of thousands of machines):
 * the database searches, filters, sorts and counts, within the caller's tenant and client scope.
 */
let db: TestDatabase;
let orm: Orm;
let a: TenantFixture;
let b: TenantFixture;
/** Tenant A's second client and its site (code sorts after the first's). */
let other: { clientId: string; siteId: string };
const env = loadEnv({ DRYDOCK_ENV: 'test', LOG_LEVEL: 'silent' });
const noTemporal = {} as TemporalClient;

const as = (tenant: TenantFixture, clientScope: string[] | null = null): ServiceContext => ({
  caller: {
    tenantId: tenant.tenantId,
    actor: 'test:viewer',
    role: Role.Viewer,
    canRevealSecrets: false,
    clientScope,
    userId: null,
    via: 'token',
  } satisfies Caller,
  env,
  orm,
  temporal: noTemporal,
  taskQueue: 'core',
});

/**
 * Tenant A: 230 machines at its first site (PC-000..PC-229; every 10th pending, every 7th retired,
 * the rest active, heard from 1 or 30 minutes ago by parity) and 20 at the second (ZZ-00..ZZ-19, active, online).
 */
beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  a = await createTenant(orm);
  b = await createTenant(orm);
  other = await withTenant(orm, a.tenantId, async (em) => {
    const client = em.create(ClientSchema, {
      id: randomUUID(),
      tenantId: a.tenantId,
      name: 'Second',
      createdAt: new Date(),
    });
    await em.flush();
    const site = em.create(SiteSchema, {
      id: randomUUID(),
      tenantId: a.tenantId,
      clientId: client.id,
      code: `ZZZ-${randomUUID().slice(0, 6).toUpperCase()}`,
      name: 'Second site',
      createdAt: new Date(),
    });
    await em.flush();
    return { clientId: client.id, siteId: site.id };
  });
  await withTenant(orm, a.tenantId, async (em) => {
    await em.execute(
      `insert into machines (id, tenant_id, site_id, machine_uid, hostname, status, last_seen_at, created_at)
       select gen_random_uuid(), ?, ?, 'uid-' || i, 'PC-' || lpad(i::text, 3, '0'),
              case when i % 10 = 0 then 'pending' when i % 7 = 0 then 'retired' else 'active' end,
              now() - (case when i % 2 = 0 then 1 else 30 end) * interval '1 minute', now()
         from generate_series(0, 229) i`,
      [a.tenantId, a.siteId],
    );
    await em.execute(
      `insert into machines (id, tenant_id, site_id, machine_uid, hostname, status, last_seen_at, created_at)
       select gen_random_uuid(), ?, ?, 'zz-uid-' || i, 'ZZ-' || lpad(i::text, 2, '0'), 'active', now(), now()
         from generate_series(0, 19) i`,
      [a.tenantId, other.siteId],
    );
  });
});
afterAll(() => db.drop());

const page = (input: MachinePageInput, ctx = as(a)) => pageMachines(ctx, input);
const hostnames = async (input: MachinePageInput, ctx = as(a)) =>
  (await page(input, ctx)).machines.map((m) => m.hostname);

describe('machinePage', () => {
  it('pages through every machine once, in hostname order, with the total on each page', async () => {
    const seen: string[] = [];
    for (let offset = 0; offset < 300; offset += 100) {
      const p = await page({ first: 100, offset });
      expect(p.total).toBe(250);
      seen.push(...p.machines.map((m) => m.hostname));
    }
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(seen).toEqual([...seen].sort());
    // Past the end: no rows, the total still told.
    expect(await page({ first: 100, offset: 400 })).toEqual({ total: 250, machines: [] });
  });

  it('searches hostname and machine id in any case; a % or _ is a character, not a wildcard', async () => {
    expect(await hostnames({ search: 'pc-01' })).toEqual(Array.from({ length: 10 }, (_, i) => `PC-01${i}`));
    expect(await hostnames({ search: 'ZZ-UID-7' })).toEqual(['ZZ-07']);
    expect((await page({ search: '%' })).total).toBe(0);
    expect((await page({ search: 'PC_0' })).total).toBe(0);
  });

  it('filters by state the way the dashboard counts them', async () => {
    const total = async (filter: MachineFilter) => (await page({ filter, first: 1 })).total;
    // 0..229: 23 multiples of 10 pending; multiples of 7 not of 10 retired (33 − 4 = 29); 178 active.
    expect(await total(MachineFilter.Pending)).toBe(23);
    expect(await total(MachineFilter.Retired)).toBe(29);
    expect(await total(MachineFilter.Active)).toBe(178 + 20);
    const online = await total(MachineFilter.Online);
    const offline = await total(MachineFilter.Offline);
    expect(online + offline).toBe(198);
    expect(offline).toBe(
      Array.from({ length: 230 }, (_, i) => i).filter((i) => i % 10 !== 0 && i % 7 !== 0 && i % 2 === 1)
        .length,
    );
    const counts = await machineCounts(as(a));
    const mine = counts.find((c) => c.siteId === a.siteId)!;
    expect(mine).toEqual({ siteId: a.siteId, online: online - 20, offline, pending: 23, retired: 29 });
    expect(counts.find((c) => c.siteId === other.siteId)).toEqual({
      siteId: other.siteId,
      online: 20,
      offline: 0,
      pending: 0,
      retired: 0,
    });
  });

  it('sorts by site code, either way, and narrows to one site', async () => {
    expect(await hostnames({ sort: MachineSort.Site, descending: true, first: 3 })).toEqual([
      'ZZ-19',
      'ZZ-18',
      'ZZ-17',
    ]);
    expect((await hostnames({ sort: MachineSort.Site, first: 1 }))[0]).toBe('PC-000');
    const site = await page({ siteId: other.siteId, first: 500 });
    expect(site.total).toBe(20);
    expect(site.machines.every((m) => m.siteId === other.siteId)).toBe(true);
  });

  it('stays in the caller’s tenant and client scope', async () => {
    expect(await page({}, as(b))).toEqual({ total: 0, machines: [] });
    expect(await machineCounts(as(b))).toEqual([]);
    // Another tenant's site id is just a site with nothing in it.
    expect((await page({ siteId: a.siteId }, as(b))).total).toBe(0);
    const scoped = as(a, [other.clientId]);
    const p = await page({ first: 500 }, scoped);
    expect(p.total).toBe(20);
    expect(p.machines.every((m) => m.hostname.startsWith('ZZ-'))).toBe(true);
    expect((await machineCounts(scoped)).map((c) => c.siteId)).toEqual([other.siteId]);
  });

  it('refuses a page size, offset or search out of bounds with BAD_USER_INPUT', async () => {
    const code = (input: MachinePageInput) =>
      page(input).then(
        () => null,
        (err: unknown) => (err instanceof ServiceError ? err.code : err),
      );
    expect(await code({ first: 0 })).toBe(ErrorCode.BadUserInput);
    expect(await code({ first: 501 })).toBe(ErrorCode.BadUserInput);
    expect(await code({ offset: -1 })).toBe(ErrorCode.BadUserInput);
    expect(await code({ search: 'x'.repeat(201) })).toBe(ErrorCode.BadUserInput);
    expect(await code({ siteId: 'not-an-id' })).toBe(ErrorCode.BadUserInput);
  });
});
