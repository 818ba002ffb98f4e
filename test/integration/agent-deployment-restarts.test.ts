import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Harness } from '../../agent/harness/harness';
import { API_NODE_FLAGS } from '../../cli/processes';
import { repoRoot } from '../../infra/config/env';
import { setMachineRole, storeDomainCredential } from '../../infra/db/domain-credentials';
import { withTenant, type Orm } from '../../infra/db/orm';
import { generateKeyEntry, parseKeyring } from '../../infra/secrets/server-secrets';
import type { DeployAgentsProgress } from '../../workflows/deployment/contracts';
import { buildTestApp, gql } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { freePort } from '../helpers/shared';
import { seedSiteMsi, SimulatedAgentTarget } from '../helpers/simulated-agent-target';
import { testTemporalClient } from '../helpers/temporal';
import { WsManTestServer } from '../helpers/wsman-test-server';

/**
 * Issue 15 acceptance 2: agent push survives the worker, the API and the gateway agent being killed
 * (SIGKILL) mid-deployment and started again, and ends with every host deployed exactly once (each
 * target host counts its msiexec runs). The worker, the agents' API and the gateway agent are
 * processes of their own; the operator's GraphQL goes through an API of the test's own.
 */
jest.setTimeout(420_000);

const TASK_QUEUE = `deploy-restarts-${randomUUID()}`;
const PASSWORD = 'Restart-Passw0rd!';
const DOMAIN = 'drydock.test';
const USER = 'drydock-svc';
const keyEntry = generateKeyEntry('deploy2');
const ENV = {
  AGENT_POLL_MAX_SECONDS: '5',
  ENROLL_RATE_LIMIT_PER_MINUTE: '100000',
  DRYDOCK_SECRET_KEYS: keyEntry,
  DEPLOY_ENROLLMENT_CHECK_SECONDS: '2',
  DEPLOY_ENROLLMENT_WAIT_SECONDS: '240',
};

let db: TestDatabase;
let orm: Orm;
let temporal: Client;
let dir: string;
let control: FastifyInstance;
let tenant: TenantFixture;
let apiPort: number;
let winrmPort: number;
let api: ChildProcess | null = null;
let worker: ChildProcess | null = null;
let gateway: ChildProcess | null = null;
let gatewayLog = '';
let enrollment: { key: string; fingerprint: string; version: number };
const servers: WsManTestServer[] = [];
const installed: Harness[] = [];
const apiUrl = () => `http://127.0.0.1:${apiPort}`;

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DRYDOCK_ENV: 'test',
    LOG_LEVEL: 'error',
    DATABASE_APP_URL: db.appUrl,
    TEMPORAL_ADDRESS: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    ...ENV,
    ...extra,
  };
}

async function startWorker(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'workers', 'main.ts')],
    {
      env: childEnv({ WORKFLOW_BUNDLE_PATH: process.env.DRYDOCK_TEST_BUNDLE! }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('polling task queue') && resolve());
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${stderr}`)));
  });
  return child;
}

/** The agents' API (one-time links point at it: INSTALLER_API_URL). */
async function startApi(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...API_NODE_FLAGS, '--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'api', 'main.ts')],
    {
      env: childEnv({ API_PORT: String(apiPort), INSTALLER_API_URL: apiUrl() }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  for (let n = 0; ; n++) {
    if (child.exitCode !== null) throw new Error(`API exited with ${child.exitCode}: ${output}`);
    const up = await fetch(`${apiUrl()}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return child;
    if (n > 600) throw new Error(`API did not come up: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The site's gateway: a simulated machine in a process of its own (`drydock harness --stay`), same state across restarts. */
function startGateway(): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'bin', 'drydock.js'),
      'harness',
      '--machines',
      '1',
      '--site',
      tenant.siteCode,
      '--api',
      apiUrl(),
      '--state',
      path.join(dir, 'gateway'),
      '--stay',
    ],
    {
      env: childEnv({
        DRYDOCK_ENROLLMENT_KEY: enrollment.key,
        DRYDOCK_ENROLLMENT_FINGERPRINT: enrollment.fingerprint,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d: Buffer) => (gatewayLog += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (gatewayLog += d.toString()));
  return child;
}

async function kill(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  ms = 120_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; gateway: ${gatewayLog.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  temporal = await testTemporalClient();
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-deploy-restarts-'));
  apiPort = await freePort();
  winrmPort = await freePort();
  control = await buildTestApp(orm, temporal, db.appUrl, TASK_QUEUE, ENV);
  tenant = await createTenant(orm);
  [worker, api] = await Promise.all([startWorker(), startApi()]);
  const key = await gql<{ rotateEnrollmentKey: { key: string; fingerprint: string; version: number } }>(
    control,
    tenant.tenantId,
    'mutation($s: ID!) { rotateEnrollmentKey(siteId: $s) { key fingerprint version } }',
    { s: tenant.siteId },
  );
  enrollment = key.data!.rotateEnrollmentKey;
  gateway = startGateway();
  const gatewayId = await until('the gateway to enroll', () =>
    withTenant(orm, tenant.tenantId, async (em) => {
      const [m] = await em.execute<{ id: string }[]>(
        `select id from machines where site_id = ? and hostname = 'SIM-0000' and status = 'active'`,
        [tenant.siteId],
      );
      return m?.id;
    }),
  );
  await withTenant(orm, tenant.tenantId, async (em) => {
    await setMachineRole(em, tenant.tenantId, gatewayId, 'gateway');
    await storeDomainCredential(em, parseKeyring(keyEntry), {
      tenantId: tenant.tenantId,
      siteId: tenant.siteId,
      domain: DOMAIN,
      user: USER,
      password: PASSWORD,
      actor: 'user:test',
    });
  });
  await seedSiteMsi(orm, {
    tenantId: tenant.tenantId,
    siteId: tenant.siteId,
    siteCode: tenant.siteCode,
    dir: path.join(dir, 'installers'),
    key: enrollment,
  });
});

afterAll(async () => {
  for (const h of installed) await h.stop();
  await Promise.all([gateway, api, worker].map(kill));
  for (const s of servers) await s.stop();
  await control?.close();
  await temporal?.connection.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

it('every host is deployed once although the gateway, the worker and the API are killed mid-deployment', async () => {
  const prefixes = ['wsa', 'wsb', 'wsc'];
  const hosts: { hostId: string; target: SimulatedAgentTarget; machine: Harness }[] = [];
  for (const [i, prefix] of prefixes.entries()) {
    // msiexec takes 6 s: the kills land while it runs on the hosts.
    const target = new SimulatedAgentTarget({ msiexecMs: 6000 });
    servers.push(
      await new WsManTestServer({
        users: { [`${DOMAIN}\\${USER}`]: PASSWORD },
        host: `127.0.25.${i + 1}`,
        httpPort: winrmPort,
        powershell: target.powershell,
      }).start(),
    );
    const machine = new Harness({
      apiUrl: apiUrl(),
      siteCode: tenant.siteCode,
      enrollmentKey: enrollment.key,
      fingerprint: enrollment.fingerprint,
      machines: 1,
      namePrefix: prefix,
      stateDir: path.join(dir, `host-${prefix}`),
      pollSeconds: 1,
    });
    installed.push(machine);
    target.onInstalled = () => machine.start();
    const added = await gql<{ addManualHost: { id: string } }>(
      control,
      tenant.tenantId,
      'mutation($i: AddManualHostInput!) { addManualHost(input: $i) { id } }',
      { i: { siteId: tenant.siteId, name: `${prefix.toUpperCase()}-0000`, dnsName: `127.0.25.${i + 1}` } },
      'operator',
    );
    hosts.push({ hostId: added.data!.addManualHost.id, target, machine });
  }
  const started = await gql<{ deployAgents: { workflowId: string } }>(
    control,
    tenant.tenantId,
    'mutation($i: DeployAgentsInput!) { deployAgents(input: $i) { workflowId } }',
    { i: { siteId: tenant.siteId, hostIds: hosts.map((h) => h.hostId), concurrency: 3, port: winrmPort } },
    'operator',
  );
  expect(started.errors).toBeUndefined();
  const window = temporal.workflow.getHandle(started.data!.deployAgents.workflowId);

  // The gateway dies while msiexec runs on the hosts (its WinRM receive loops die with it), and comes back.
  await until('an install to be running', async () => hosts.some((h) => h.target.installing));
  await kill(gateway);
  gateway = startGateway();
  // The worker dies and comes back.
  await kill(worker);
  worker = await startWorker();
  // The agents' API dies (a download, a result or an enrollment may be in flight) and comes back.
  await until('a host to be installed', async () => hosts.some((h) => h.target.service === 'Running'));
  await kill(api);
  await new Promise((r) => setTimeout(r, 500));
  api = await startApi();

  const result = (await window.result()) as DeployAgentsProgress;
  expect({ ...result, hosts: undefined }).toEqual({
    total: 3,
    inProgress: 0,
    deployed: 3,
    skipped: 0,
    failed: 0,
    hosts: undefined,
  });
  for (const [i, h] of hosts.entries()) {
    expect(h.target.installs).toBe(1);
    const outcome = result.hosts.find((o) => o.hostId === h.hostId);
    expect(outcome).toMatchObject({ outcome: 'deployed' });
    // Linked to the machine its agent holds, the only row of that name: an agent whose enrollment
    // answer was lost to the API's kill repeats the same attempt and lands on the row it made.
    const sameName = await withTenant(orm, tenant.tenantId, (em) =>
      em.execute<{ id: string }[]>(`select id from machines where lower(hostname) = lower(?)`, [
        `${prefixes[i]!.toUpperCase()}-0000`,
      ]),
    );
    expect(sameName.map((m) => m.id)).toEqual([outcome!.machineId]);
    expect(h.machine.machines[0]!.agent.machineId).toBe(outcome!.machineId);
  }
  // The host whose install the gateway's death interrupted was found installed by the next attempt
  // (check-before-act on the host), not installed again: one install script per host in all.
  expect(result.hosts.map((h) => h.reason)).toContain('the DrydockAgent service is installed and running');
  const installScripts = servers.flatMap((sv) =>
    sv.commands.filter((c) => c.script?.startsWith('# drydock:agent-install')),
  );
  expect(installScripts).toHaveLength(3);
  const rows = await withTenant(orm, tenant.tenantId, (em) =>
    em.execute<{ id: string; machine_id: string | null; deploy_state: string }[]>(
      `select id, machine_id, deploy_state from discovered_hosts where site_id = ?`,
      [tenant.siteId],
    ),
  );
  expect(rows.every((r) => r.machine_id !== null && r.deploy_state === 'deployed')).toBe(true);
  expect(new Set(rows.map((r) => r.machine_id)).size).toBe(3);
});
