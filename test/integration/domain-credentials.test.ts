import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  currentDomainCredential,
  resolveForGateway,
  setMachineRole,
  storeDomainCredential,
} from '../../infra/db/domain-credentials';
import { MachineSchema, MachineStatus } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { generateKeyEntry, parseKeyring } from '../../infra/secrets/server-secrets';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';

/** Domain credentials by reference: sealed at rest, resolved only for the site's active gateway, audited. */

const PASSWORD = 'Svc-Dryd0ck-2026!';
const ROTATED = 'Rotated-Passw0rd-2027!';
const ring = parseKeyring(generateKeyEntry('k1'));

let db: TestDatabase;
let orm: Orm;
let a: TenantFixture;
let b: TenantFixture;

async function machine(
  t: TenantFixture,
  siteId: string,
  role: 'endpoint' | 'gateway',
  status = MachineStatus.Active,
) {
  const id = randomUUID();
  await withTenant(orm, t.tenantId, async (em) => {
    em.create(MachineSchema, {
      id,
      tenantId: t.tenantId,
      siteId,
      machineUid: randomUUID(),
      hostname: `host-${id.slice(0, 6)}`,
      status,
      cloneKey: '',
      hardware: {},
      os: {},
      labels: {},
      createdAt: new Date(),
    });
    await em.flush();
    await setMachineRole(em, t.tenantId, id, role);
  });
  return id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  a = await createTenant(orm);
  b = await createTenant(orm);
});

afterAll(async () => {
  await db?.drop();
});

describe('domain credentials by reference', () => {
  it('stores the credential sealed, resolves it only into its site gateway, audits every use, and picks up rotation', async () => {
    const stored = await withTenant(orm, a.tenantId, (em) =>
      storeDomainCredential(em, ring, {
        tenantId: a.tenantId,
        siteId: a.siteId,
        domain: 'DRYDOCK.TEST',
        user: 'drydock-svc',
        password: PASSWORD,
        actor: 'user:operator',
      }),
    );
    expect(stored).toMatchObject({ version: 1, domain: 'drydock.test', user: 'drydock-svc' });

    const gateway = await machine(a, a.siteId, 'gateway');
    const endpoint = await machine(a, a.siteId, 'endpoint');
    const pendingGateway = await machine(a, a.siteId, 'gateway', MachineStatus.Pending);
    const otherSite = await withTenant(orm, a.tenantId, async (em) => {
      const id = randomUUID();
      await em.execute(
        `insert into sites (id, tenant_id, client_id, code, name) values (?, ?, ?, ?, 'Branch')`,
        [id, a.tenantId, a.clientId, `S-${id.slice(0, 8).toUpperCase()}`],
      );
      return id;
    });
    const otherSiteGateway = await machine(a, otherSite, 'gateway');
    const otherTenantGateway = await machine(b, b.siteId, 'gateway');

    const resolve = (tenantId: string, machineId: string, credentialId = stored.id) =>
      withTenant(orm, tenantId, (em) =>
        resolveForGateway(em, ring, { tenantId, machineId, credentialId, taskId: randomUUID() }),
      );

    expect(await resolve(a.tenantId, gateway)).toEqual({
      version: 1,
      domain: 'drydock.test',
      user: 'drydock-svc',
      password: PASSWORD,
    });
    for (const m of [endpoint, pendingGateway, otherSiteGateway]) {
      expect(await resolve(a.tenantId, m)).toEqual({ refused: 'CredentialNotForThisMachine' });
    }
    // Another tenant cannot even see the row (RLS), whatever id it names.
    expect(await resolve(b.tenantId, otherTenantGateway)).toEqual({ refused: 'CredentialNotFound' });

    // Rotation: the same reference now resolves to the new version.
    await withTenant(orm, a.tenantId, (em) =>
      storeDomainCredential(em, ring, {
        tenantId: a.tenantId,
        siteId: a.siteId,
        domain: 'drydock.test',
        user: 'drydock-svc',
        password: ROTATED,
        actor: 'user:operator',
      }),
    );
    expect(await resolve(a.tenantId, gateway)).toMatchObject({ version: 2, password: ROTATED });
    const current = await withTenant(orm, a.tenantId, (em) =>
      currentDomainCredential(em, a.tenantId, a.siteId),
    );
    expect(current).toMatchObject({ version: 2 });

    const events = await withTenant(orm, a.tenantId, (em) =>
      em.execute<{ action: string; actor: string; data: Record<string, unknown> }[]>(
        `select action, actor, data from audit_events where action like 'domain-credential.%' order by seq`,
      ),
    );
    expect(events.map((e) => e.action)).toEqual([
      'domain-credential.stored',
      'domain-credential.used',
      'domain-credential.refused',
      'domain-credential.refused',
      'domain-credential.refused',
      'domain-credential.rotated',
      'domain-credential.used',
    ]);
    expect(events[1]).toMatchObject({ actor: `machine:${gateway}`, data: { version: 1 } });
  });

  it('a dump of the whole database holds no domain password', () => {
    const dump = execFileSync('pg_dump', ['--no-owner', db.adminUrl], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(dump).toContain('domain_credentials');
    expect(dump).toContain('drydock-svc');
    for (const secret of [PASSWORD, ROTATED]) {
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(Buffer.from(secret).toString('base64'));
    }
  });
});
