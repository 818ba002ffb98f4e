import { randomUUID } from 'node:crypto';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { audited } from '../../api/services/audit';
import { createClient, listClients } from '../../api/services/clients-and-sites';
import { agentDeploymentOf } from '../../api/services/deployment';
import { rotateLocalAdminPasswordsNow } from '../../api/services/escrow-rotation';
import { siteDiscoveryOf } from '../../api/services/directory';
import { ErrorCode, ServiceError } from '../../api/services/errors';
import { checkAgentKey, moveMachineKeys, revokeMachineKeys } from '../../api/services/keys';
import { setProfileLayer } from '../../api/services/profiles';
import type { Caller, ServiceContext } from '../../api/services/service-context';
import { loadEnv } from '../../infra/config/env';
import { AGENT_CHANNEL } from '../../infra/db/agent-notices';
import { AgentKeySchema, ClientSchema, MachineSchema, MachineStatus, Role } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { generateKey, hashKeySecret, parseKey } from '../../infra/security/keys';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { testTemporalClient } from '../helpers/temporal';

/**
 * The service layer called directly, as any transport calls it (ADR 0017): authorization on the
 * caller object, a change and its audit event in one transaction, the one agent-key check and
 * revocation, fixed statements that stay in the caller's tenant.
 */
let db: TestDatabase;
let orm: Orm;
let a: TenantFixture;
let b: TenantFixture;
const env = loadEnv({ DRYDOCK_ENV: 'test', LOG_LEVEL: 'silent' });
const secret = 'test-secret';

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  a = await createTenant(orm);
  b = await createTenant(orm);
});
afterAll(() => db.drop());

/** No service here reaches Temporal: a client that fails loudly if one does. */
const noTemporal = new Proxy({} as TemporalClient, {
  get: () => {
    throw new Error('this service call must not reach Temporal');
  },
});

const as = (tenant: TenantFixture, role: Role | null): ServiceContext => ({
  caller: role
    ? ({
        tenantId: tenant.tenantId,
        actor: `test:${role}`,
        role,
        canRevealSecrets: false,
        clientScope: null,
        userId: null,
        via: 'token',
      } satisfies Caller)
    : null,
  env,
  orm,
  temporal: noTemporal,
  taskQueue: 'core',
});

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (err: unknown) => (err instanceof ServiceError ? err.code : err),
  );

const auditCount = (tenant: TenantFixture, action: string) =>
  withTenant(orm, tenant.tenantId, async (em) => {
    const [row] = await em.execute<{ n: number }[]>(
      `select count(*)::int as n from audit_events where action = ?`,
      [action],
    );
    return row!.n;
  });

describe('authorization on the caller', () => {
  it('refuses nobody with UNAUTHENTICATED and a too-small role with FORBIDDEN, as ServiceErrors', async () => {
    expect(await refusal(listClients(as(a, null)))).toBe(ErrorCode.Unauthenticated);
    expect(await refusal(createClient(as(a, Role.Operator), { name: 'Nope' }))).toBe(ErrorCode.Forbidden);
    expect(await refusal(createClient(as(a, Role.Admin), { name: ' ' }))).toBe(ErrorCode.BadUserInput);
    expect(await auditCount(a, 'client.created')).toBe(0);
  });

  it('lets an admin add a client, audited in its tenant with the caller as actor', async () => {
    const client = await createClient(as(a, Role.Admin), { name: 'Contoso' });
    const rows = await withTenant(orm, a.tenantId, (em) =>
      em.execute<{ actor: string; subject_id: string }[]>(
        `select actor, subject_id from audit_events where action = 'client.created'`,
      ),
    );
    expect(rows).toEqual([{ actor: 'test:admin', subject_id: client.id }]);
    // The other tenant sees neither the client nor its event.
    expect((await listClients(as(b, Role.Viewer))).map((c) => c.name)).not.toContain('Contoso');
    expect(await auditCount(b, 'client.created')).toBe(0);
  });
});

describe('audited', () => {
  it('keeps neither the change nor its event when building the event fails', async () => {
    const name = `Rolled back ${randomUUID()}`;
    const failed = await audited(
      as(a, Role.Admin),
      async (em, caller) =>
        em.create(ClientSchema, { id: randomUUID(), tenantId: caller.tenantId, name, createdAt: new Date() }),
      () => {
        throw new Error('no event for this change');
      },
    ).catch((err: Error) => err.message);
    expect(failed).toBe('no event for this change');
    const left = await withTenant(orm, a.tenantId, (em) => em.count(ClientSchema, { name }));
    expect(left).toBe(0);
  });

  it('keeps neither when the write refuses after changing something', async () => {
    const name = `Half done ${randomUUID()}`;
    const code = await refusal(
      audited(
        as(a, Role.Admin),
        async (em, caller) => {
          em.create(ClientSchema, {
            id: randomUUID(),
            tenantId: caller.tenantId,
            name,
            createdAt: new Date(),
          });
          await em.flush();
          throw new ServiceError(ErrorCode.BadUserInput, 'changed my mind');
        },
        () => ({ action: 'client.created', subjectType: 'client', subjectId: 'x' }),
      ),
    );
    expect(code).toBe(ErrorCode.BadUserInput);
    expect(await withTenant(orm, a.tenantId, (em) => em.count(ClientSchema, { name }))).toBe(0);
  });
});

describe('agent keys, checked and revoked in one place', () => {
  async function machineWithKey(tenant: TenantFixture) {
    const key = generateKey('dak');
    const machineId = randomUUID();
    await withTenant(orm, tenant.tenantId, async (em) => {
      em.create(MachineSchema, {
        id: machineId,
        tenantId: tenant.tenantId,
        siteId: tenant.siteId,
        machineUid: randomUUID(),
        hostname: `PC-${machineId.slice(0, 6)}`,
        status: MachineStatus.Active,
        cloneKey: '',
        hardware: {},
        os: {},
        labels: {},
        createdAt: new Date(),
      });
      await em.flush();
      em.create(AgentKeySchema, {
        id: randomUUID(),
        tenantId: tenant.tenantId,
        machineId,
        keyId: key.keyId,
        keyHash: hashKeySecret(secret, parseKey(key.key, 'dak')!),
        createdAt: new Date(),
      });
      await em.flush();
    });
    return { machineId, key };
  }

  it('says why a key does not check out, and whose it is when it does', async () => {
    const { machineId, key } = await machineWithKey(a);
    const wrong = `${key.key.slice(0, -4)}AAAA`;
    expect(await checkAgentKey(orm, secret, undefined)).toEqual({ ok: false, reason: 'no agent key' });
    expect(await checkAgentKey(orm, secret, 'Bearer nonsense')).toEqual({
      ok: false,
      reason: 'malformed agent key',
    });
    expect(await checkAgentKey(orm, secret, `Bearer ${generateKey('dak').key}`)).toMatchObject({
      ok: false,
      reason: 'unknown key id',
    });
    expect(await checkAgentKey(orm, secret, `Bearer ${wrong}`)).toMatchObject({
      ok: false,
      reason: 'wrong secret',
    });
    expect(await checkAgentKey(orm, secret, `Bearer ${key.key}`)).toEqual({
      ok: true,
      agent: { tenantId: a.tenantId, machineId, keyId: key.keyId },
    });
  });

  it('revokes a machine’s keys with a notice, and moves live keys to another machine', async () => {
    const first = await machineWithKey(a);
    const second = await machineWithKey(a);
    // Every API replica hears the revocation: a notice on the agent channel once it commits.
    const listener = new PgClient({ connectionString: db.appUrl });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`listen ${AGENT_CHANNEL}`);
    const revoked = await withTenant(orm, a.tenantId, (em) => revokeMachineKeys(em, first.machineId, 'test'));
    expect(revoked).toEqual([first.key.keyId]);
    const notice = JSON.stringify({ t: 'revoked', k: first.key.keyId });
    // Idle between round trips, the listener is handed what was notified; a few at most.
    for (let i = 0; i < 100 && !heard.includes(notice); i++) await listener.query('select 1');
    await listener.end();
    expect(heard).toContain(notice);
    expect(await checkAgentKey(orm, secret, `Bearer ${first.key.key}`)).toMatchObject({
      ok: false,
      reason: 'revoked key',
    });
    // Revoking again finds nothing live; another tenant's transaction cannot reach the key at all.
    expect(
      await withTenant(orm, a.tenantId, (em) => revokeMachineKeys(em, first.machineId, 'again')),
    ).toEqual([]);
    expect(await withTenant(orm, b.tenantId, (em) => revokeMachineKeys(em, second.machineId, 'b'))).toEqual(
      [],
    );
    const moved = await withTenant(orm, a.tenantId, (em) =>
      moveMachineKeys(em, second.machineId, first.machineId),
    );
    expect(moved).toEqual([second.key.keyId]);
    expect(await checkAgentKey(orm, secret, `Bearer ${second.key.key}`)).toMatchObject({
      ok: true,
      agent: { machineId: first.machineId },
    });
  });
});

describe('profile layers', () => {
  it('set one row of the caller’s tenant; another tenant’s client is NOT_FOUND and stays untouched', async () => {
    const layer = JSON.stringify({ phases: { tweaks: { enabled: false } } });
    expect(
      await setProfileLayer(as(a, Role.Engineer), { scope: 'client', id: a.clientId, documentJson: layer }),
    ).toBe(true);
    expect(
      await refusal(
        setProfileLayer(as(a, Role.Engineer), { scope: 'client', id: b.clientId, documentJson: layer }),
      ),
    ).toBe(ErrorCode.NotFound);
    const layers = async (tenant: TenantFixture) =>
      withTenant(orm, tenant.tenantId, (em) =>
        em.execute<{ profile_layer: unknown }[]>(`select profile_layer from clients where id = ?`, [
          tenant.clientId,
        ]),
      );
    expect(await layers(a)).toEqual([{ profile_layer: JSON.parse(layer) }]);
    expect(await layers(b)).toEqual([{ profile_layer: {} }]);
    expect(await auditCount(a, 'profile_layer.set')).toBe(1);
    expect(
      await refusal(setProfileLayer(as(a, Role.Operator), { scope: 'tenant', documentJson: '{}' })),
    ).toBe(ErrorCode.Forbidden);
  });
});

describe('a run’s live progress on its page', () => {
  const deploymentId = (t: TenantFixture) => `deploy-agents:${t.tenantId}:${t.siteId}:${randomUUID()}`;

  it('is null when no run was started, and UNAVAILABLE (not "none") while Temporal does not answer', async () => {
    const live = await testTemporalClient();
    // Nothing listens there; no retry interceptor, so each call fails at once.
    const dead = new TemporalClient({
      connection: Connection.lazy({ address: '127.0.0.1:1', interceptors: [] }),
    });
    try {
      const up: ServiceContext = { ...as(a, Role.Viewer), temporal: live };
      expect(await siteDiscoveryOf(up, a.siteId)).toBeNull();
      expect(await agentDeploymentOf(up, deploymentId(a))).toBeNull();

      // These used to pass the client's error on: an internal error, no code a page can act on.
      const down: ServiceContext = { ...as(a, Role.Viewer), temporal: dead };
      expect(await refusal(siteDiscoveryOf(down, a.siteId))).toBe(ErrorCode.Unavailable);
      expect(await refusal(agentDeploymentOf(down, deploymentId(a)))).toBe(ErrorCode.Unavailable);
      // Another tenant's window is not found before Temporal is asked.
      expect(await agentDeploymentOf(down, deploymentId(b))).toBeNull();
    } finally {
      await Promise.all([live.connection.close(), dead.connection.close()]);
    }
  });
});

it('refuses an on-demand rotation UNAVAILABLE while Temporal does not answer, and audits nothing', async () => {
  const dead = new TemporalClient({
    connection: Connection.lazy({ address: '127.0.0.1:1', interceptors: [] }),
  });
  try {
    const down: ServiceContext = { ...as(a, Role.Operator), temporal: dead };
    const before = await auditCount(a, 'escrow.rotation-requested');
    expect(await refusal(rotateLocalAdminPasswordsNow(down, { kind: 'site', id: a.siteId }))).toBe(
      ErrorCode.Unavailable,
    );
    expect(await auditCount(a, 'escrow.rotation-requested')).toBe(before);
  } finally {
    await dead.connection.close();
  }
});
