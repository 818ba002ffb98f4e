import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import {
  addManualHost,
  listDiscoveredHosts,
  ManualHostExists,
  mergeDirectoryHosts,
} from '../../infra/db/discovered-hosts';
import { withTenant, type Orm } from '../../infra/db/orm';
import type { DiscoveredComputer } from '../../infra/wire/agent-steps';
import { buildTestApp, gql } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { testTemporalConnection } from '../helpers/temporal';

/** Discovered hosts (ADR 0029): enumerations merge in, manual hosts are never overwritten, gone is marked. */

let db: TestDatabase;
let orm: Orm;
let a: TenantFixture;
let b: TenantFixture;
let app: FastifyInstance;
let connection: Connection;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  connection = await testTemporalConnection();
  app = await buildTestApp(orm, new Client({ connection }), db.appUrl);
  a = await createTenant(orm);
  b = await createTenant(orm);
});
afterAll(async () => {
  await app?.close();
  await connection?.close();
  await db?.drop();
});

const computer = (name: string, extra: Partial<DiscoveredComputer> = {}): DiscoveredComputer => ({
  objectGuid: randomUUID(),
  name,
  dnsHostName: `${name.toLowerCase()}.drydock.test`,
  operatingSystem: 'Windows 11 Pro',
  operatingSystemVersion: '10.0 (22631)',
  distinguishedName: `CN=${name},OU=Workstations,DC=drydock,DC=test`,
  ou: 'OU=Workstations,DC=drydock,DC=test',
  enabled: true,
  lastLogonAt: '2026-11-20T10:00:00.000Z',
  role: 'workstation',
  ...extra,
});

const merge = (t: TenantFixture, computers: DiscoveredComputer[], seenAt = new Date()) =>
  withTenant(orm, t.tenantId, (em) =>
    mergeDirectoryHosts(em, { tenantId: t.tenantId, siteId: t.siteId, computers, seenAt, actor: 'test' }),
  );
const list = (t: TenantFixture) =>
  withTenant(orm, t.tenantId, (em) => listDiscoveredHosts(em, t.tenantId, t.siteId));

it('adds, updates, merges into manual hosts without overwriting them, marks the gone and brings back the returned', async () => {
  const manual = await withTenant(orm, a.tenantId, (em) =>
    addManualHost(em, {
      tenantId: a.tenantId,
      siteId: a.siteId,
      name: 'Reception PC',
      dnsName: 'WS-0002.drydock.test',
      os: 'Windows 10 (as the operator knows it)',
      actor: 'user:op',
    }),
  );
  expect(manual).toMatchObject({ source: 'manual', objectGuid: null, dnsName: 'ws-0002.drydock.test' });
  await expect(
    withTenant(orm, a.tenantId, (em) =>
      addManualHost(em, {
        tenantId: a.tenantId,
        siteId: a.siteId,
        name: 'x',
        dnsName: 'ws-0002.drydock.test',
        actor: 'op',
      }),
    ),
  ).rejects.toBeInstanceOf(ManualHostExists);

  const ws1 = computer('WS-0001');
  const ws2 = computer('WS-0002', { role: 'workstation' });
  const ws3 = computer('WS-0003');
  expect(await merge(a, [ws1, ws2, ws3])).toEqual({
    added: 2,
    updated: 0,
    merged: 1,
    disappeared: 0,
    returned: 0,
  });

  let hosts = await list(a);
  expect(hosts).toHaveLength(3);
  const reception = hosts.find((h) => h.id === manual.id)!;
  // The operator's name and OS stay; AD's GUID, OU and role fill what was empty.
  expect(reception).toMatchObject({
    source: 'manual',
    name: 'Reception PC',
    os: 'Windows 10 (as the operator knows it)',
    objectGuid: ws2.objectGuid,
    ouDn: 'OU=Workstations,DC=drydock,DC=test',
    role: 'workstation',
  });

  // WS-0003 leaves AD, WS-0001 is renamed in place: same objectGUID, same row.
  const t2 = new Date(Date.now() + 1000);
  expect(await merge(a, [{ ...ws1, name: 'WS-0001-NEW', enabled: false }, ws2], t2)).toEqual({
    added: 0,
    updated: 1,
    merged: 1,
    disappeared: 1,
    returned: 0,
  });
  hosts = await list(a);
  expect(hosts).toHaveLength(3);
  expect(hosts.find((h) => h.objectGuid === ws1.objectGuid)).toMatchObject({
    name: 'WS-0001-NEW',
    enabled: false,
  });
  expect(hosts.find((h) => h.objectGuid === ws3.objectGuid)!.disappearedAt).toEqual(t2);
  expect(hosts.find((h) => h.id === manual.id)).toMatchObject({ name: 'Reception PC', disappearedAt: null });
  // Gone hosts sort last.
  expect(hosts[2]!.objectGuid).toBe(ws3.objectGuid);

  // It comes back: unmarked, counted.
  expect(await merge(a, [ws1, ws2, ws3])).toMatchObject({
    added: 0,
    updated: 2,
    disappeared: 0,
    returned: 1,
  });
  expect((await list(a)).every((h) => h.disappearedAt === null)).toBe(true);
});

it('keeps each tenant to its own hosts (RLS) and objectGUIDs unique per site only', async () => {
  const shared = computer('SHARED-01');
  await merge(b, [shared]);
  expect((await list(b)).map((h) => h.name)).toEqual(['SHARED-01']);
  const seenByB = await withTenant(orm, b.tenantId, (em) =>
    em.execute<{ n: number }[]>(`select count(*)::int as n from discovered_hosts`),
  );
  expect(seenByB[0]!.n).toBe(1);
  // The same GUID in another tenant's site is another host.
  await merge(a, [shared]);
  expect((await list(a)).some((h) => h.objectGuid === shared.objectGuid)).toBe(true);
});

describe('through GraphQL', () => {
  const add = `mutation($i: AddManualHostInput!) { addManualHost(input: $i) { id source name dnsName os } }`;
  const hosts = `query($s: ID!) { discoveredHosts(siteId: $s) { name source dnsName objectGuid disappearedAt } }`;

  it('an operator adds a manual host; a duplicate DNS name, bad input and a viewer are refused with stable codes', async () => {
    const t = await createTenant(orm);
    const ok = await gql<{ addManualHost: { source: string; dnsName: string } }>(
      app,
      t.tenantId,
      add,
      { i: { siteId: t.siteId, name: 'Lab printer PC', dnsName: 'LAB-01.Corp.Example.', os: 'Windows 10' } },
      'operator',
    );
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.addManualHost).toMatchObject({ source: 'manual', dnsName: 'lab-01.corp.example' });

    const code = async (input: Record<string, unknown>, role: 'viewer' | 'operator' = 'operator') =>
      (await gql(app, t.tenantId, add, { i: { siteId: t.siteId, name: 'x', ...input } }, role)).errors?.[0]
        ?.extensions?.code;
    expect(await code({ dnsName: 'lab-01.corp.example' })).toBe('HOST_EXISTS');
    expect(await code({ dnsName: 'not a name' })).toBe('BAD_USER_INPUT');
    expect(await code({ name: 'line\nbreak' })).toBe('BAD_USER_INPUT');
    expect(await code({ siteId: b.siteId })).toBe('NOT_FOUND');
    expect(await code({ dnsName: 'viewer.corp.example' }, 'viewer')).toBe('FORBIDDEN');

    const listed = await gql<{ discoveredHosts: { name: string; source: string }[] }>(
      app,
      t.tenantId,
      hosts,
      { s: t.siteId },
      'viewer',
    );
    expect(listed.data!.discoveredHosts).toEqual([
      {
        name: 'Lab printer PC',
        source: 'manual',
        dnsName: 'lab-01.corp.example',
        objectGuid: null,
        disappearedAt: null,
      },
    ]);
    // Another tenant's site answers as one that does not exist.
    const other = await gql(app, t.tenantId, hosts, { s: b.siteId }, 'viewer');
    expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
