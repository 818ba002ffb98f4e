import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Harness } from '../../agent/harness/harness';
import { simulatedDownloadSha256 } from '../../agent/platform/simulated/simulated-host';
import { repoRoot } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';
import { startDevServer, type DevServer } from '../../infra/temporal/dev-server';
import type { AgentStack } from '../helpers/agent-stack';
import { buildTestApp, gql } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import {
  fleetMachineRuns,
  repeatedEffects,
  saveProfile,
  startFleetRun,
  waitForFleet,
} from '../helpers/provisioning';
import { freePort } from '../helpers/shared';

/**
 * Acceptance 2: a fleet run survives its worker process being killed (SIGKILL) and started again,
 * the API restarting, and the Temporal dev server restarting (SQLite file kept) — and finishes with
 * every machine PASS and no side effect done twice. Its own dev server and a real worker process.
 */
jest.setTimeout(420_000);

const TASK_QUEUE = 'restarts';
const TOOL_URL = 'https://downloads.example.com/drydock-tool-1.2.3.msi';
const ENV = {
  PROVISION_RETRY_BACKOFF_SECONDS: '1',
  PROVISION_OFFLINE_LIMIT_SECONDS: '300',
  AGENT_POLL_MAX_SECONDS: '5',
  ENROLL_RATE_LIMIT_PER_MINUTE: '100000',
};

let db: TestDatabase;
let orm: Orm;
let dir: string;
let temporalPort: number;
let server: DevServer;
let temporal: Client;
let worker: ChildProcess | null = null;
let app: FastifyInstance;
let apiPort: number;
let tenant: TenantFixture;
let harness: Harness;

const startServer = () =>
  startDevServer({
    cliPath: process.env.DRYDOCK_TEST_TEMPORAL_CLI!,
    port: temporalPort,
    dbFile: path.join(dir, 'temporal.sqlite'),
    headless: true,
  });

async function startWorker(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'workers', 'main.ts')],
    {
      env: {
        ...process.env,
        DRYDOCK_ENV: 'test',
        LOG_LEVEL: 'error',
        DATABASE_APP_URL: db.appUrl,
        TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
        TEMPORAL_TASK_QUEUE: TASK_QUEUE,
        WORKFLOW_BUNDLE_PATH: process.env.DRYDOCK_TEST_BUNDLE!,
        ...ENV,
      },
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

async function startApi(): Promise<FastifyInstance> {
  const api = await buildTestApp(orm, temporal, db.appUrl, TASK_QUEUE, ENV);
  await api.listen({ host: '127.0.0.1', port: apiPort });
  return api;
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-restarts-'));
  temporalPort = await freePort();
  apiPort = await freePort();
  server = await startServer();
  temporal = new Client({ connection: await Connection.connect({ address: server.address }) });
  worker = await startWorker();
  app = await startApi();
  tenant = await createTenant(orm);
});

afterAll(async () => {
  await harness?.stop();
  worker?.kill('SIGKILL');
  await app?.close();
  await temporal?.connection.close();
  await server?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

it('a fleet run finishes with nothing lost or repeated across worker kill, API restart and Temporal restart', async () => {
  // The shape the helpers expect; the API is this test's own.
  const stack = {
    get app() {
      return app;
    },
    tenant,
  } as unknown as AgentStack;
  const key = await gql<{ rotateEnrollmentKey: { key: string; fingerprint: string } }>(
    app,
    tenant.tenantId,
    'mutation($s: ID!) { rotateEnrollmentKey(siteId: $s) { key fingerprint } }',
    { s: tenant.siteId },
  );
  harness = new Harness({
    apiUrl: `http://127.0.0.1:${apiPort}`,
    siteCode: tenant.siteCode,
    enrollmentKey: key.data!.rotateEnrollmentKey.key,
    fingerprint: key.data!.rotateEnrollmentKey.fingerprint,
    machines: 12,
    stateDir: path.join(dir, 'fleet'),
    pollSeconds: 5,
    bootDelayMs: 200,
    // Slow steps: the restarts land in the middle of the run.
    faults: { crash: 0, network: 0, slowMs: 250, reboot: 0, midstep: 0, winget: 0 },
  });
  harness.start();
  expect((await harness.waitForEnrollment()).enrolled).toBe(12);

  const profileId = await saveProfile(stack, 'Standard', {
    phases: {
      apps: {
        installers: [
          { name: 'DrydockTool', url: TOOL_URL, sha256: simulatedDownloadSha256(TOOL_URL), arguments: [] },
        ],
      },
    },
  });
  const started = await startFleetRun(stack, { profileId, concurrency: 4 });

  // 1. Kill the worker process mid-run (no goodbye), then start a new one.
  expect(
    (await waitForFleet(stack, started.id, (f) => (f.progress?.passed ?? 0) >= 2)).progress!.passed,
  ).toBeLessThan(12);
  worker!.kill('SIGKILL');
  await new Promise((r) => worker!.once('exit', r));
  await new Promise((r) => setTimeout(r, 1500));
  worker = await startWorker();

  // 2. Restart the API (agents lose their long-polls and results wait in their journals).
  expect(
    (await waitForFleet(stack, started.id, (f) => (f.progress?.passed ?? 0) >= 5)).progress!.passed,
  ).toBeLessThan(12);
  await app.close();
  await new Promise((r) => setTimeout(r, 1500));
  app = await startApi();

  // 3. Restart the Temporal dev server on the same SQLite file.
  expect(
    (await waitForFleet(stack, started.id, (f) => (f.progress?.passed ?? 0) >= 8)).progress!.passed,
  ).toBeLessThan(12);
  await server.stop();
  await new Promise((r) => setTimeout(r, 1000));
  server = await startServer();

  const done = await waitForFleet(stack, started.id, (f) => f.status === 'completed', 300_000);
  const runs = await fleetMachineRuns(stack, started.id);
  expect(runs.filter((r) => r.status !== 'passed').map((r) => r.lastError)).toEqual([]);
  expect(done).toMatchObject({ status: 'completed', total: 12, passed: 12, failed: 0 });
  expect(repeatedEffects(harness)).toEqual([]);
  expect(new Set(harness.machines.map((m) => m.platform.snapshot.hostname)).size).toBe(12);
});
