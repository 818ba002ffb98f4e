import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Harness } from '../../agent/harness/harness';
import { simulatedDownloadSha256 } from '../../agent/platform/simulated/simulated-host';
import { API_NODE_FLAGS } from '../../cli/processes';
import { repoRoot } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';
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
import { testTemporalClient } from '../helpers/temporal';
import { freePort } from '../helpers/shared';
import type { Client } from '@temporalio/client';

/**
 * Replicas (issue 18, acceptance 4): two API processes and two worker processes serve one fleet
 * run; the agents reach the APIs through a round-robin proxy, so a machine's long-poll, its
 * progress and its result land on either replica. One API and one worker are killed (SIGKILL)
 * mid-run and started again: every machine finishes once and no step's side effect happens twice
 * (the simulated hosts count them) — nothing the run needs lives in one process only.
 */
jest.setTimeout(420_000);

const TASK_QUEUE = `replicas-${randomUUID()}`;
const TOOL_URL = 'https://downloads.example.com/drydock-tool-1.2.3.msi';
const ENV = {
  PROVISION_RETRY_BACKOFF_SECONDS: '1',
  PROVISION_OFFLINE_LIMIT_SECONDS: '300',
  AGENT_POLL_MAX_SECONDS: '5',
  ENROLL_RATE_LIMIT_PER_MINUTE: '100000',
};

let db: TestDatabase;
let orm: Orm;
let temporal: Client;
let dir: string;
let control: FastifyInstance;
let tenant: TenantFixture;
let harness: Harness;
const apiPorts: number[] = [];
const apis: (ChildProcess | null)[] = [null, null];
const workers: (ChildProcess | null)[] = [null, null];
let proxy: net.Server;
let proxyPort = 0;
const served = [0, 0];

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
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
    const late = setTimeout(() => reject(new Error(`worker not polling after 180 s: ${stderr}`)), 180_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('polling task queue')) {
        clearTimeout(late);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(late);
      reject(new Error(`worker exited with ${code}: ${stderr}`));
    });
  });
  return child;
}

async function startApi(i: number, attempt = 0): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...API_NODE_FLAGS, '--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'api', 'main.ts')],
    { env: childEnv({ API_PORT: String(apiPorts[i]) }), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  for (let n = 0; ; n++) {
    if (child.exitCode !== null) {
      // Its port was free when picked, but any outgoing connection of the suite may have taken it
      // since: pick another (the proxy reads apiPorts on each connection).
      if (output.includes('EADDRINUSE') && attempt < 3) {
        apiPorts[i] = await freePort();
        return startApi(i, attempt + 1);
      }
      throw new Error(`API ${i} exited with ${child.exitCode}: ${output}`);
    }
    const up = await fetch(`http://127.0.0.1:${apiPorts[i]}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return child;
    if (n > 600) throw new Error(`API ${i} did not come up: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function kill(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

/**
 * Each new connection goes to the next replica that accepts it (a dead one is skipped). It listens
 * on a port the kernel picks at once: a port found free earlier can be taken by any connection of
 * the suite before we bind it (seen as EADDRINUSE, which left a listen promise hanging).
 */
function startProxy(): Promise<void> {
  let next = 0;
  proxy = net.createServer((client) => {
    client.pause();
    const attempt = (tries: number) => {
      const i = next++ % 2;
      const upstream = net.connect(apiPorts[i]!, '127.0.0.1');
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        served[i]!++;
        client.pipe(upstream).pipe(client);
        client.resume();
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
      });
      upstream.on('error', () => {
        if (!connected && tries > 0) attempt(tries - 1);
        else client.destroy();
      });
    };
    client.on('error', () => undefined);
    attempt(1);
  });
  return new Promise((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(0, '127.0.0.1', () => {
      proxyPort = (proxy.address() as net.AddressInfo).port;
      resolve();
    });
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  temporal = await testTemporalClient();
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-replicas-'));
  apiPorts.push(await freePort(), await freePort());
  await startProxy();
  // The operator's side (GraphQL) goes through an API of the test's own; the agents never see it.
  control = await buildTestApp(orm, temporal, db.appUrl, TASK_QUEUE, ENV);
  tenant = await createTenant(orm);
  [workers[0], workers[1], apis[0], apis[1]] = await Promise.all([
    startWorker(),
    startWorker(),
    startApi(0),
    startApi(1),
  ]);
});

afterAll(async () => {
  await harness?.stop();
  await Promise.all([...apis, ...workers].map(kill));
  proxy?.close();
  await control?.close();
  await temporal?.connection.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

it('two APIs and two workers, one of each killed mid-run: every machine passes once, no effect twice', async () => {
  const stack = { app: control, tenant } as unknown as AgentStack;
  const key = await gql<{ rotateEnrollmentKey: { key: string; fingerprint: string } }>(
    control,
    tenant.tenantId,
    'mutation($s: ID!) { rotateEnrollmentKey(siteId: $s) { key fingerprint } }',
    { s: tenant.siteId },
  );
  harness = new Harness({
    apiUrl: `http://127.0.0.1:${proxyPort}`,
    siteCode: tenant.siteCode,
    enrollmentKey: key.data!.rotateEnrollmentKey.key,
    fingerprint: key.data!.rotateEnrollmentKey.fingerprint,
    machines: 12,
    stateDir: path.join(dir, 'fleet'),
    pollSeconds: 5,
    bootDelayMs: 200,
    faults: { crash: 0, network: 0, slowMs: 400, reboot: 0, midstep: 0, winget: 0 },
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

  // One API replica and one worker die mid-run: the agents' next connections go to the other API,
  // the other worker takes over the workflow and activity tasks; then both come back.
  expect(
    (await waitForFleet(stack, started.id, (f) => (f.progress?.passed ?? 0) >= 2)).progress!.passed,
  ).toBeLessThan(8);
  await Promise.all([kill(apis[0]!), kill(workers[0]!)]);
  await new Promise((r) => setTimeout(r, 1500));
  [apis[0], workers[0]] = await Promise.all([startApi(0), startWorker()]);

  const done = await waitForFleet(stack, started.id, (f) => f.status === 'completed', 300_000);
  const runs = await fleetMachineRuns(stack, started.id);
  expect(runs.filter((r) => r.status !== 'passed').map((r) => r.lastError)).toEqual([]);
  expect(done).toMatchObject({ status: 'completed', total: 12, passed: 12, failed: 0 });
  expect(repeatedEffects(harness)).toEqual([]);
  // Both replicas served the agents: the proxy alternates per connection, and the harness's agents
  // share one keep-alive pool, so one machine's poll, progress and result go over any connection.
  expect(Math.min(...served)).toBeGreaterThanOrEqual(3);
});
