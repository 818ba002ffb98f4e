import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Client as PgClient } from 'pg';
import { Agent } from '../../agent/agent';
import { SimulatedPlatform, newHostState } from '../../agent/platform/simulated/simulated-host';
import { NotifyHub } from '../../api/agent-channel/notify-hub';
import { purgeEnrollmentGuard } from '../../api/agent-channel/throttle';
import { AGENT_CHANNEL } from '../../infra/db/agent-notices';
import { computeMachineUid } from '../../infra/wire/machine-uid';
import { MachineIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { collectInventoryWorkflowId } from '../../workflows/machines/contracts';
import { buildTestApp, gql } from '../helpers/api';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { createTenant } from '../helpers/fixtures';
import { freePort } from '../helpers/shared';

/**
 * The holes the first attack on the running stack found (issue 10), each attacked again here on
 * the real stack: API on a port, Temporal, PostgreSQL, agents over HTTP. Each test fails if its
 * hole comes back. docs/SECURITY.md describes the defences.
 */
jest.setTimeout(120_000);

const SITE_BUDGET = 300;
let stack: AgentStack;
let key: { key: string; fingerprint: string };
/** A second site of the tenant, under another client: its key is what an attacker would hold. */
let siteB: { id: string; code: string; key: string };

beforeAll(async () => {
  stack = await startAgentStack({
    // The defaults, not the suite's relaxed ones: this file attacks the limits themselves.
    ENROLL_RATE_LIMIT_PER_MINUTE: String(SITE_BUDGET),
    ENROLL_LOCKOUT_FAILURES: '10',
    ENROLL_LOCKOUT_SECONDS: '900',
    // The test names its source addresses in X-Forwarded-For, as a proxy on this host would.
    API_TRUST_PROXY: '127.0.0.1',
  });
  key = await stack.issueEnrollmentKey();
  const client = await gql<{ createClient: { id: string } }>(
    stack.app,
    stack.tenant.tenantId,
    'mutation { createClient(name: "Another client") { id } }',
  );
  const code = `B-${randomUUID().slice(0, 6).toUpperCase()}`;
  const site = await gql<{ createSite: { id: string } }>(
    stack.app,
    stack.tenant.tenantId,
    'mutation($i: CreateSiteInput!) { createSite(input: $i) { id } }',
    { i: { clientId: client.data!.createClient.id, code, name: 'Branch of another client' } },
  );
  const id = site.data!.createSite.id;
  siteB = { id, code, key: (await stack.issueEnrollmentKey(id)).key };
});
afterAll(() => stack.close());

let sourceNo = 0;
/** A fresh source address per use (TEST-NET-3), so the guard's counts of one test stay its own. */
const newSource = () => `203.0.113.${++sourceNo}`;

function hardware(extra: Record<string, unknown> = {}) {
  const id = randomUUID().replace(/-/g, '').toUpperCase();
  return {
    smbiosUuid: randomUUID(),
    systemSerial: `SN${id.slice(0, 10)}`,
    baseboardSerial: `BB${id.slice(10, 20)}`,
    diskSerials: [`DS${id.slice(20, 30)}`],
    machineGuid: randomUUID(),
    macs: ['00:15:5D:01:02:03'],
    manufacturer: 'Contoso',
    model: 'Laptop 9',
    ...extra,
  };
}

async function enrollRaw(
  hw: object,
  opts: { siteCode?: string; key?: string; hostname?: string; source?: string; authorization?: string } = {},
) {
  const res = await fetch(`${stack.apiUrl}/v1/enroll`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': opts.source ?? newSource(),
      ...(opts.authorization ? { authorization: opts.authorization } : {}),
    },
    body: JSON.stringify({
      siteCode: opts.siteCode ?? stack.tenant.siteCode,
      enrollmentKey: opts.key ?? key.key,
      machineUid: computeMachineUid(hw as Parameters<typeof computeMachineUid>[0]),
      hostname: opts.hostname ?? `H-${randomUUID().slice(0, 8)}`,
      hardware: hw,
      os: { name: 'Windows 11 Pro', version: '10.0.26100', build: '26100' },
      agentVersion: '0.1.0',
    }),
  });
  const body = (await res.json()) as {
    machineId?: string;
    agentKey?: string;
    status?: string;
    error?: { code: string; message: string };
  };
  return { status: res.status, body };
}

const bearer = (agentKey: string) => ({ authorization: `Bearer ${agentKey}` });

function poll(agentKey: string, wait: number, signal?: AbortSignal) {
  return fetch(`${stack.apiUrl}/v1/agent/tasks?wait=${wait}`, { headers: bearer(agentKey), signal });
}

async function machineRow(id: string) {
  const c = await stack.db.adminClient();
  const { rows } = await c.query('select * from machines where id = $1', [id]);
  return rows[0] as Record<string, unknown>;
}

async function startInventory(machineId: string) {
  return stack.temporal.workflow.start('collectInventory', {
    taskQueue: stack.taskQueue,
    workflowId: collectInventoryWorkflowId(machineId, randomUUID()),
    args: [{ tenantId: stack.tenant.tenantId, machineId }],
    typedSearchAttributes: [
      { key: TenantIdKey, value: stack.tenant.tenantId },
      { key: MachineIdKey, value: machineId },
    ],
  });
}

/** A live machine: a real agent on a simulated host, enrolled into site A and polling. */
async function liveMachine(name: string) {
  const dir = path.join(stack.stateDir, name);
  const platform = new SimulatedPlatform(dir, () => newHostState(name, `${dir}:${name}`));
  const agent = new Agent({
    config: { apiUrl: stack.apiUrl, siteCode: stack.tenant.siteCode, enrollmentKey: key.key, stateDir: dir },
    platform,
    pollSeconds: 2,
  });
  const stop = new AbortController();
  const running = agent.run(stop.signal);
  while (agent.state === 'starting') await new Promise((r) => setTimeout(r, 50));
  return {
    agent,
    platform,
    async stop() {
      stop.abort();
      await running;
    },
  };
}

describe('1. machine takeover by re-enrollment', () => {
  it('never hands a live machine to a request that only knows its hardware facts, whatever site key it holds', async () => {
    const owner = await liveMachine('victim');
    const ownerId = owner.agent.machineId!;
    const ownerKey = (await owner.platform.loadProtected('agent-key'))!;
    // What any local user of the machine can read (and, before the fix, any viewer in the portal).
    const facts = owner.platform.snapshot.hardware;
    try {
      const attempts = [
        { ...facts, machineGuid: undefined },
        { ...facts, machineGuid: '00000000-0000-0000-0000-000000000000' },
        { ...facts, machineGuid: randomUUID() },
        facts, // even the same MachineGuid is no proof: it is readable by every local user
      ];
      const pendingIds = new Set<string>();
      for (const hw of attempts) {
        const source = newSource();
        const res = await enrollRaw(hw, {
          siteCode: siteB.code,
          key: siteB.key,
          hostname: 'ATTACKER',
          source,
        });
        expect(res.status).toBe(201);
        expect(res.body.status).toBe('pending');
        expect(res.body.machineId).not.toBe(ownerId);
        pendingIds.add(res.body.machineId!);
        // The attacker's key reaches nothing: a pending machine is offered no work.
        expect((await poll(res.body.agentKey!, 0)).status).toBe(204);
        const row = await machineRow(res.body.machineId!);
        expect(row).toMatchObject({ status: 'pending', replaces_machine_id: ownerId, site_id: siteB.id });
        expect(row.requested_by).toMatchObject({
          sourceIp: source,
          siteCode: siteB.code,
          hostname: 'ATTACKER',
        });
      }
      // The machine stayed where it was, with its own key, and keeps working.
      const owned = await machineRow(ownerId);
      expect(owned).toMatchObject({ site_id: stack.tenant.siteId, status: 'active' });
      const inventory = await startInventory(ownerId);
      expect(((await inventory.result()) as { hostname: string }).hostname).toBe(
        owner.platform.snapshot.hostname,
      );
      expect(owner.agent.state).toBe('enrolled');
      expect((await poll(ownerKey, 0)).status).toBe(204);
      // Each attempt raised an alert an operator sees, naming who asked.
      const alerts = await gql<{ alerts: { kind: string; machineId: string; message: string }[] }>(
        stack.app,
        stack.tenant.tenantId,
        '{ alerts(last: 100) { kind machineId message } }',
      );
      const raised = alerts.data!.alerts.filter((a) => pendingIds.has(a.machineId));
      expect(raised.length).toBe(pendingIds.size);
      for (const a of raised) expect(a.message).toContain(siteB.code);
    } finally {
      await owner.stop();
    }
  });

  it('shows no raw hardware identifier to a viewer', async () => {
    const owner = await liveMachine('viewed');
    try {
      await (await startInventory(owner.agent.machineId!)).result();
      const query = `query($s: ID) { machines(siteId: $s) { id inventoryJson autopilotHashCsv } }`;
      const asViewer = await gql<{ machines: { id: string; inventoryJson: string | null }[] }>(
        stack.app,
        stack.tenant.tenantId,
        query,
        { s: stack.tenant.siteId },
        'viewer',
      );
      const seen = JSON.stringify(asViewer.data!.machines.find((m) => m.id === owner.agent.machineId));
      const hw = owner.platform.snapshot.hardware;
      for (const identifier of [
        hw.smbiosUuid,
        hw.systemSerial,
        hw.baseboardSerial,
        hw.machineGuid,
        ...(hw.diskSerials ?? []),
      ])
        expect(seen).not.toContain(identifier!);
      expect(seen).toContain('hostname'); // the inventory is there, less its identifiers
      const asOperator = await gql<{ machines: { id: string; inventoryJson: string }[] }>(
        stack.app,
        stack.tenant.tenantId,
        query,
        { s: stack.tenant.siteId },
        'operator',
      );
      expect(JSON.stringify(asOperator.data!.machines)).toContain(hw.smbiosUuid!);
    } finally {
      await owner.stop();
    }
  });
});

/** A machine enrolled by hand (its key held by the test) with a collectInventory task claimed. */
async function claimedInventoryTask() {
  const enrolled = await enrollRaw(hardware());
  const agentKey = enrolled.body.agentKey!;
  const machineId = enrolled.body.machineId!;
  const handle = await startInventory(machineId);
  const res = await poll(agentKey, 10);
  const { task } = (await res.json()) as { task: { id: string; kind: string } };
  expect(task.kind).toBe('inventory.collect');
  return { agentKey, machineId, handle, taskId: task.id };
}

function postResult(agentKey: string, taskId: string, body: unknown) {
  return fetch(`${stack.apiUrl}/v1/agent/tasks/${taskId}/result`, {
    method: 'POST',
    headers: { ...bearer(agentKey), 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const inventoryResult = (autopilot: Record<string, unknown>) => ({
  ok: true,
  result: {
    hostname: 'H-CSV',
    os: { name: 'Windows 11 Pro', version: '10.0.26100', build: '26100' },
    hardware: { smbiosUuid: randomUUID() },
    autopilot,
  },
});

describe('2. Autopilot CSV injection', () => {
  it('refuses a result that does not fit its step, stores nothing, and quotes the CSV it exports', async () => {
    const { agentKey, machineId, handle, taskId } = await claimedInventoryTask();
    const hash = Buffer.from('T0 a hardware hash of sorts, base64 like the real one').toString('base64');
    const hostile = [
      { serial: 'SN1\r\nEVIL-SERIAL,,AAAA', productId: null, hardwareHash: hash }, // an extra device row
      { serial: '=HYPERLINK("http://evil.example","x")', productId: null, hardwareHash: hash },
      { serial: 'SN1', productId: '+cmd|calc', hardwareHash: hash },
      { serial: 'SN1', productId: null, hardwareHash: `${hash}\n"evil"` },
      { serial: 'SN1', productId: null, hardwareHash: hash, extra: 'unknown field' },
    ];
    for (const autopilot of hostile) {
      const res = await postResult(agentKey, taskId, inventoryResult(autopilot));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    }
    expect((await machineRow(machineId)).autopilot).toBeNull();
    const c = await stack.db.adminClient();
    const { rows } = await c.query('select status, result from agent_tasks where id = $1', [taskId]);
    expect(rows[0]).toMatchObject({ status: 'delivered', result: null });

    // The honest result goes through; the CSV quotes every field.
    const ok = await postResult(
      agentKey,
      taskId,
      inventoryResult({ serial: 'SN-42 A', productId: null, hardwareHash: hash }),
    );
    expect(ok.status).toBe(200);
    await handle.result();
    const query = `query($s: ID) { machines(siteId: $s) { id autopilotHashCsv } }`;
    const operator = await gql<{ machines: { id: string; autopilotHashCsv: string | null }[] }>(
      stack.app,
      stack.tenant.tenantId,
      query,
      { s: stack.tenant.siteId },
      'operator',
    );
    expect(operator.data!.machines.find((m) => m.id === machineId)!.autopilotHashCsv).toBe(
      `Device Serial Number,Windows Product ID,Hardware Hash\r\n"SN-42 A","","${hash}"\r\n`,
    );
    const viewer = await gql<{ machines: { id: string; autopilotHashCsv: string | null }[] }>(
      stack.app,
      stack.tenant.tenantId,
      query,
      { s: stack.tenant.siteId },
      'viewer',
    );
    expect(viewer.data!.machines.find((m) => m.id === machineId)!.autopilotHashCsv).toBeNull();
  });
});

describe('3. long-polls per agent key', () => {
  it('keeps one poll per key: a newer poll ends the older at once, and a key that keeps doing it is told to stop', async () => {
    const { body } = await enrollRaw(hardware());
    const agentKey = body.agentKey!;
    const first = poll(agentKey, 60);
    await new Promise((r) => setTimeout(r, 300));
    const second = poll(agentKey, 60);
    // The first poll answers 204 now, long before its 60 s: the second took over.
    const firstDone = await Promise.race([
      first.then((r) => r.status),
      new Promise((r) => setTimeout(() => r('still waiting'), 20_000)),
    ]);
    expect(firstDone).toBe(204);

    // A client opening poll after poll over its own open poll is throttled.
    const opened: Promise<Response>[] = [second];
    for (let i = 0; i < 30; i++) {
      opened.push(poll(agentKey, 60));
      await new Promise((r) => setTimeout(r, 20));
    }
    const statuses = await Promise.all(
      opened.map((p) =>
        Promise.race([p.then((r) => r.status), new Promise<number>((r) => setTimeout(() => r(0), 5_000))]),
      ),
    );
    expect(statuses).toContain(429);
    // At most one of all of them is still waiting.
    expect(statuses.filter((s) => s === 0).length).toBeLessThanOrEqual(1);
  });

  it('wakes one waiter of a machine per task notice, not all of them', async () => {
    const hub = new NotifyHub(stack.db.appUrl, stack.app.log);
    await hub.start();
    try {
      const machineId = randomUUID();
      const woken: string[] = [];
      const waits = ['k-old', 'k-new'].map((k) =>
        hub.wait(machineId, k, 30_000).then((reason) => {
          woken.push(`${k}:${reason}`);
          return reason;
        }),
      );
      const c = await stack.db.adminClient();
      await c.query(`select pg_notify($1, $2)`, [AGENT_CHANNEL, JSON.stringify({ t: 'task', m: machineId })]);
      await Promise.race(waits);
      await new Promise((r) => setTimeout(r, 300));
      expect(woken).toEqual(['k-new:task']);
      expect(hub.waiting).toBe(1);
    } finally {
      await hub.close();
    }
  });

  it('refuses sockets beyond API_MAX_CONNECTIONS, and serves again once they are gone', async () => {
    const limited = await buildTestApp(stack.orm, stack.temporal, stack.db.appUrl, stack.taskQueue, {
      API_MAX_CONNECTIONS: '32',
    });
    const port = await freePort();
    await limited.listen({ host: '127.0.0.1', port });
    try {
      expect(limited.server.maxConnections).toBe(32);
      const sockets = await Promise.all(Array.from({ length: 60 }, () => openSocket(port)));
      // Each socket sends a request line; the server answers the first 32 and closes the rest.
      const closedByServer = await Promise.all(sockets.map((s) => refusedWithoutAnswer(s)));
      expect(closedByServer.filter(Boolean).length).toBeGreaterThanOrEqual(60 - 32);
      for (const s of sockets) s.destroy();
      await new Promise((r) => setTimeout(r, 200));
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** True when the server closed the socket without a byte of answer to a request. */
function refusedWithoutAnswer(socket: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    let answered = false;
    socket.on('data', () => (answered = true));
    socket.on('error', () => resolve(!answered));
    socket.on('close', () => resolve(!answered));
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    setTimeout(() => resolve(false), 5_000);
  });
}

describe('4. unauthenticated GraphQL cost', () => {
  let prod: FastifyInstance;
  beforeAll(async () => {
    // Production: no identity at all. Every refusal below comes before one would be resolved.
    prod = await buildTestApp(stack.orm, stack.temporal, stack.db.appUrl, stack.taskQueue, {
      DRYDOCK_ENV: 'production',
      DRYDOCK_SECRET: 'a-production-secret-of-at-least-32-characters',
    });
  });
  afterAll(() => prod.close());

  const post = (app: FastifyInstance, payload: string) =>
    app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload });
  const codes = (body: string) =>
    ((JSON.parse(body) as { errors?: { extensions?: { code?: string } }[] }).errors ?? []).map(
      (e) => e.extensions?.code,
    );

  it('refuses a 1 MiB document before parsing it', async () => {
    const res = await post(prod, JSON.stringify({ query: `{ ${'tenant { id } '.repeat(80_000)} }` }));
    expect(res.statusCode).toBe(413);
    expect(codes(res.body)).toEqual(['QUERY_TOO_EXPENSIVE']);
  });

  it.each([
    ['too many tokens', `{ ${'__typename '.repeat(3000)} }`],
    ['too deep', deepQuery(12)],
    ['too many aliases', `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: tenant { id }`).join(' ')} }`],
    [
      'thousands of chained fragments',
      `{ ...F0 } ${Array.from({ length: 1500 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} }`).join(' ')} fragment F1500 on Query { __typename }`,
    ],
  ])('refuses a document with %s as QUERY_TOO_EXPENSIVE, not UNAUTHENTICATED or 500', async (what, query) => {
    const res = await post(prod, JSON.stringify({ query }));
    expect(res.statusCode).toBeLessThan(500);
    expect(codes(res.body)).toContain('QUERY_TOO_EXPENSIVE');
    expect(codes(res.body)).not.toContain('UNAUTHENTICATED');
  });

  it('gives no field suggestions in production', async () => {
    const res = await post(prod, JSON.stringify({ query: '{ tenan { id } }' }));
    expect(res.body).not.toMatch(/Did you mean/);
    const dev = await post(stack.app, JSON.stringify({ query: '{ tenan { id } }' }));
    expect(dev.body).toMatch(/Did you mean/);
  });

  it('caps the live run queries one request may make', async () => {
    const c = await stack.db.adminClient();
    const { rows } = await c.query<{ id: string }>(
      `insert into profiles (id, tenant_id, name, version, document, created_by)
       values (gen_random_uuid(), $1, 'Cost probe', 1, '{}'::jsonb, 'test') returning id`,
      [stack.tenant.tenantId],
    );
    await c.query(
      `insert into fleet_runs (id, tenant_id, workflow_id, profile_id, selection, concurrency, created_by)
       select g, $1, 'fleet-run:' || g, $2, '{}'::jsonb, 1, 'test' from (select gen_random_uuid() as g from generate_series(1, 60)) s`,
      [stack.tenant.tenantId, rows[0]!.id],
    );
    const res = await gql<{ fleetRuns: { id: string }[] }>(
      stack.app,
      stack.tenant.tenantId,
      '{ fleetRuns(first: 100) { id progress { state } } }',
    );
    expect(res.errors?.map((e) => e.extensions?.code)).toContain('QUERY_TOO_EXPENSIVE');
  });
});

/** `{ a { a { … } } }`, `depth` levels: the depth limit counts the document, valid fields or not. */
function deepQuery(depth: number): string {
  return `{ ${'a { '.repeat(depth)}b${' }'.repeat(depth)} }`;
}

describe('5. safe defaults', () => {
  const host = (h: string, extra: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: stack.port,
          path: '/graphql',
          method: 'POST',
          headers: { host: h, 'content-type': 'application/json', ...extra },
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ query: '{ __typename }' }));
    });

  it('answers /graphql only for its own host names (DNS rebinding)', async () => {
    expect((await host(`127.0.0.1:${stack.port}`)).status).toBe(200);
    expect((await host(`localhost:${stack.port}`)).status).toBe(200);
    const rebound = await host(`evil.example:${stack.port}`);
    expect(rebound.status).toBe(403);
    expect(rebound.body).toContain('FORBIDDEN_HOST');
  });

  it('reflects no foreign Origin, and allows only configured ones', async () => {
    const evil = await host(`127.0.0.1:${stack.port}`, { origin: 'https://evil.example' });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers['access-control-allow-credentials']).toBeUndefined();
    const allowing = await buildTestApp(stack.orm, stack.temporal, stack.db.appUrl, stack.taskQueue, {
      API_CORS_ORIGINS: 'https://portal.example',
    });
    try {
      const preflight = (origin: string) =>
        allowing.inject({
          method: 'OPTIONS',
          url: '/graphql',
          headers: { origin, 'access-control-request-method': 'POST' },
        });
      expect((await preflight('https://portal.example')).headers['access-control-allow-origin']).toBe(
        'https://portal.example',
      );
      expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).not.toBe(
        'https://evil.example',
      );
    } finally {
      await allowing.close();
    }
  });

  it('refuses requests a browser sends cross-site without a preflight (CSRF)', async () => {
    const mutation = 'mutation { createClient(name: "via CSRF") { id } }';
    for (const [method, headers, payload] of [
      ['POST', { 'content-type': 'text/plain' }, JSON.stringify({ query: mutation })],
      [
        'POST',
        { 'content-type': 'application/x-www-form-urlencoded' },
        `query=${encodeURIComponent(mutation)}`,
      ],
      ['GET', {}, undefined],
    ] as const) {
      const res = await stack.app.inject({
        method,
        url: method === 'GET' ? `/graphql?query=${encodeURIComponent('{ clients { id } }')}` : '/graphql',
        headers,
        payload,
      });
      // Refused either way: 415 (no parser for a form or text body), 403 (no CSRF header).
      expect([403, 415]).toContain(res.statusCode);
    }
    const c = await stack.db.adminClient();
    const { rows } = await c.query(`select 1 from clients where name = 'via CSRF'`);
    expect(rows).toHaveLength(0);
    // A script of the portal sets the header: then a GET query is fine.
    const ok = await stack.app.inject({
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent('{ __typename }')}`,
      headers: { 'x-drydock-csrf': '1' },
    });
    expect(ok.statusCode).toBe(200);
  });

  it('gives the old development identity headers to nobody, on this machine or any other', async () => {
    for (const remoteAddress of ['10.20.30.40', '127.0.0.1']) {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/graphql',
        remoteAddress,
        headers: {
          'content-type': 'application/json',
          'x-drydock-tenant': stack.tenant.tenantId,
          'x-drydock-role': 'admin',
        },
        payload: JSON.stringify({ query: '{ clients { id } }' }),
      });
      expect(codes(res.body)).toEqual(['UNAUTHENTICATED']);
    }
  });
});

const codes = (body: string) =>
  ((JSON.parse(body) as { errors?: { extensions?: { code?: string } }[] }).errors ?? []).map(
    (e) => e.extensions?.code,
  );

describe('6. enrollment guard', () => {
  it('locks out a source that guesses, whatever site codes it claims, with one row for it', async () => {
    const source = newSource();
    for (let i = 0; i < 10; i++) {
      const res = await enrollRaw(hardware(), {
        source,
        siteCode: `GUESS-${i}`,
        key: `dek_${randomUUID().replace(/-/g, '').slice(0, 16)}_${'A'.repeat(43)}`,
      });
      expect(res.status).toBe(401);
    }
    // Locked out now: a new claimed code changes nothing, nor does the right key.
    const locked = await enrollRaw(hardware(), { source, siteCode: 'GUESS-NEW' });
    expect(locked.status).toBe(429);
    expect(locked.body.error!.code).toBe('LOCKED_OUT');
    const valid = await enrollRaw(hardware(), { source });
    expect(valid.status).toBe(429);
    // Another source is not affected.
    expect((await enrollRaw(hardware())).status).toBe(201);

    const c = await stack.db.adminClient();
    const { rows } = await c.query('select source from enrollment_guard where source = $1', [source]);
    expect(rows).toHaveLength(1);
    // Once window and lockout are over the row carries nothing and is purged.
    await c.query(
      `update enrollment_guard set updated_at = now() - interval '1 day', locked_until = now() - interval '1 second' where source = $1`,
      [source],
    );
    expect(
      await purgeEnrollmentGuard(stack.orm, { lockoutFailures: 10, lockoutSeconds: 900 }),
    ).toBeGreaterThanOrEqual(1);
    expect((await c.query('select 1 from enrollment_guard where source = $1', [source])).rows).toHaveLength(
      0,
    );
  });

  it(`lets a site image ${SITE_BUDGET} machines behind one address at once, then holds its further enrollments for the minute`, async () => {
    const code = `IMG-${randomUUID().slice(0, 6).toUpperCase()}`;
    const site = await gql<{ createSite: { id: string } }>(
      stack.app,
      stack.tenant.tenantId,
      'mutation($i: CreateSiteInput!) { createSite(input: $i) { id } }',
      { i: { clientId: stack.tenant.clientId, code, name: 'Imaging room' } },
    );
    const imagingKey = (await stack.issueEnrollmentKey(site.data!.createSite.id)).key;
    const nat = newSource();
    const statuses: number[] = [];
    const queue = Array.from({ length: SITE_BUDGET }, () => hardware());
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let hw = queue.pop(); hw; hw = queue.pop())
          statuses.push((await enrollRaw(hw, { source: nat, siteCode: code, key: imagingKey })).status);
      }),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(SITE_BUDGET);
    const over = await enrollRaw(hardware(), { source: nat, siteCode: code, key: imagingKey });
    expect(over.status).toBe(429);
    expect(over.body.error!.code).toBe('RATE_LIMITED');
    // Another site behind the same address is not held up.
    expect((await enrollRaw(hardware(), { source: nat })).status).toBe(201);
  });
});

describe('7. smaller holes', () => {
  it('answers 400, never 500, to deep nesting or a NUL anywhere in a result', async () => {
    const { agentKey, taskId } = await claimedInventoryTask();
    const deep = `{"ok":true,"result":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`;
    let nul: unknown = 'x\u0000y';
    for (let i = 0; i < 40; i++) nul = { a: nul };
    for (const body of [deep, JSON.stringify({ ok: true, result: nul })]) {
      const res = await postResult(agentKey, taskId, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    }
  });

  it.each([
    ['fleetRuns(first: -1)', '{ fleetRuns(first: -1) { id } }'],
    ['fleetRuns(first: 0)', '{ fleetRuns(first: 0) { id } }'],
    ['alerts(last: 501)', '{ alerts(last: 501) { id } }'],
    ['auditEvents(last: -5)', '{ auditEvents(last: -5) { seq } }'],
  ])('refuses %s as bad input', async (_what, query) => {
    const res = await gql(stack.app, stack.tenant.tenantId, query);
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a fleet run that selects nothing, and answers a started one with its real total', async () => {
    const profile = await gql<{ profiles: { id: string }[] }>(
      stack.app,
      stack.tenant.tenantId,
      '{ profiles { id } }',
    );
    let profileId = profile.data!.profiles[0]?.id;
    if (!profileId) {
      const saved = await gql<{ saveProfile: { id: string } }>(
        stack.app,
        stack.tenant.tenantId,
        'mutation($d: String!) { saveProfile(name: "Empty probe", documentJson: $d) { id } }',
        { d: '{}' },
      );
      profileId = saved.data!.saveProfile.id;
    }
    const start = (machineIds: string[]) =>
      gql<{ startFleetRun: { id: string; total: number } }>(
        stack.app,
        stack.tenant.tenantId,
        'mutation($i: FleetRunStartInput!) { startFleetRun(input: $i) { id total } }',
        { i: { profileId, machineIds } },
      );
    const before = await countFleetRuns();
    const empty = await start([randomUUID()]);
    expect(empty.errors?.[0]?.extensions?.code).toBe('EMPTY_SELECTION');
    expect(await countFleetRuns()).toBe(before);
    const { body } = await enrollRaw(hardware());
    const one = await start([body.machineId!]);
    expect(one.errors).toBeUndefined();
    expect(one.data!.startFleetRun.total).toBe(1);
    await gql(
      stack.app,
      stack.tenant.tenantId,
      'mutation($id: ID!) { controlFleetRun(id: $id, action: CANCEL) { id } }',
      {
        id: one.data!.startFleetRun.id,
      },
    );
  });

  it('keeps every foreign key inside its tenant, even for the table owner', async () => {
    const other = await createTenant(stack.orm);
    const c = await stack.db.adminClient();
    const { rows } = await c.query<{ id: string }>(
      `insert into profiles (id, tenant_id, name, version, document, created_by)
       values (gen_random_uuid(), $1, 'FK probe', 1, '{}'::jsonb, 'test') returning id`,
      [stack.tenant.tenantId],
    );
    // A run of this tenant pointing at another tenant's site: refused by the composite key.
    await expect(
      c.query(
        `insert into machine_runs (id, tenant_id, machine_id, site_id, workflow_id, profile_id, created_by)
         select gen_random_uuid(), $1, m.id, $2, 'probe:' || gen_random_uuid(), $3, 'test'
           from machines m where m.tenant_id = $1 limit 1`,
        [stack.tenant.tenantId, other.siteId, rows[0]!.id],
      ),
    ).rejects.toThrow(/foreign key/);
  });

  it('resolves names in its functions from its own schema, whatever search_path the caller sets', async () => {
    const { body } = await enrollRaw(hardware());
    const keyId = body.agentKey!.split('_')[1]!;
    const admin = await stack.db.adminClient();
    await admin.query(`create schema if not exists shadow`);
    await admin.query(`create table if not exists shadow.agent_keys (like public.agent_keys)`);
    await admin.query(`insert into shadow.agent_keys select * from public.agent_keys where key_id = $1`, [
      keyId,
    ]);
    await admin.query(`update shadow.agent_keys set key_hash = 'forged'`);
    await admin.query(
      `grant usage on schema shadow to drydock_app; grant select on shadow.agent_keys to drydock_app`,
    );
    const app = new PgClient({ connectionString: stack.db.appUrl });
    await app.connect();
    try {
      await app.query('set search_path = shadow, public');
      const { rows } = await app.query<{ key_hash: string }>('select key_hash from agent_key_lookup($1)', [
        keyId,
      ]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.key_hash).not.toBe('forged');
    } finally {
      await app.end();
      await admin.query('drop schema shadow cascade');
    }
  });

  it('tells an unauthenticated caller of /healthz what is down, not where it is', async () => {
    const dead = new TemporalClient({ connection: Connection.lazy({ address: '127.0.0.1:9' }) });
    const app = await buildTestApp(stack.orm, dead, stack.db.appUrl, stack.taskQueue);
    try {
      const res = await app.inject('/healthz');
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: 'unavailable', temporal: { ok: false } });
      expect(res.body).not.toMatch(/127\.0\.0\.1|127\.0\.0\.1:9\b|ECONNREFUSED|connect/i);
    } finally {
      await app.close();
      await dead.connection.close();
    }
  });
});

async function countFleetRuns(): Promise<number> {
  const c = await stack.db.adminClient();
  const { rows } = await c.query<{ n: number }>(
    'select count(*)::int as n from fleet_runs where tenant_id = $1',
    [stack.tenant.tenantId],
  );
  return rows[0]!.n;
}
