import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { FastifyInstance } from 'fastify';
import { Harness } from '../../agent/harness/harness';
import type { FaultSpec } from '../../agent/harness/faults';
import { simulatedDownloadSha256 } from '../../agent/platform/simulated/simulated-host';
import { repoRoot } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';
import { describeDeployment, setCurrentVersion, workflowVersion } from '../../infra/temporal/deployments';
import { fleetRunWorkflowId } from '../../workflows/provisioning/contracts';
import { createCoreWorker } from '../../workers/core-worker';
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
import { testTemporalClient, testTemporalSecurity } from '../helpers/temporal';

/**
 * A deploy mid fleet run under Worker Deployment Versioning (issue 18 acceptance 5, ADR 0049):
 * build A runs a fleet run; build B — whose provisionMachine starts with a pause no patched()
 * guards, so A's histories cannot replay on it — starts mid-run and is made current. A's machine
 * runs stay pinned to A and finish there with no non-determinism; machine runs started after the
 * switch run on B; the fleet run (auto-upgrade) moves to B and completes with every machine
 * passed and no step's side effect twice. Runs on the dev server and on the production server
 * (`npm run test:production`).
 */
jest.setTimeout(420_000);

const TASK_QUEUE = `versioning-${randomUUID()}`;
const DEPLOYMENT = `drydock-test-${randomUUID().slice(0, 8)}`;
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
let app: FastifyInstance;
let apiUrl: string;
let tenant: TenantFixture;
let dir: string;
let harness: Harness | undefined;
let bundleA: string;
let bundleB: string;
const workers: { stop(): Promise<void> }[] = [];

async function startBuild(code: string): Promise<string> {
  const { worker, connection, version } = await createCoreWorker({
    address: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS!,
    namespace: 'default',
    taskQueue: TASK_QUEUE,
    orm,
    workflowBundle: { code },
    security: testTemporalSecurity(),
    // No build id given: derived from the bundle, as `drydock worker` does with WORKER_VERSIONING=on.
    versioning: { deploymentName: DEPLOYMENT },
  });
  const running = worker.run();
  workers.push({
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  });
  return version!.buildId;
}

beforeAll(async () => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  } catch {
    // installed by another file in this jest worker
  }
  db = await createTestDatabase();
  orm = await db.appOrm();
  temporal = await testTemporalClient();
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-versioning-'));
  app = await buildTestApp(orm, temporal, db.appUrl, TASK_QUEUE, ENV);
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  apiUrl = `http://127.0.0.1:${port}`;
  tenant = await createTenant(orm);
  bundleA = readFileSync(process.env.DRYDOCK_TEST_BUNDLE!, 'utf8');
  bundleB = (
    await bundleWorkflowCode({
      workflowsPath: path.join(repoRoot, 'test', 'fixtures', 'versioned-build-b'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    })
  ).code;
});

afterAll(async () => {
  await harness?.stop();
  for (const w of workers) await w.stop();
  await app?.close();
  await temporal?.connection.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('a deploy mid fleet run: pinned machine runs finish on their build, new ones and the fleet run move to the new one', async () => {
  const buildA = await startBuild(bundleA);
  expect(buildA).toMatch(/^\d+\.\d+\.\d+-[0-9a-f]{12}$/);
  // The first versioned build of a deployment is made current by hand too (docs/operations.md).
  await setCurrentVersion(temporal, DEPLOYMENT, buildA, { waitMs: 60_000 });

  const key = await gql<{ rotateEnrollmentKey: { key: string; fingerprint: string } }>(
    app,
    tenant.tenantId,
    'mutation($s: ID!) { rotateEnrollmentKey(siteId: $s) { key fingerprint } }',
    { s: tenant.siteId },
  );
  // Slow steps while the deploy happens, so A's first runs are mid-way when B becomes current.
  const faults: FaultSpec = { crash: 0, network: 0, slowMs: 2500, reboot: 0, midstep: 0, winget: 0 };
  harness = new Harness({
    apiUrl,
    siteCode: tenant.siteCode,
    enrollmentKey: key.data!.rotateEnrollmentKey.key,
    fingerprint: key.data!.rotateEnrollmentKey.fingerprint,
    machines: 6,
    stateDir: path.join(dir, 'fleet'),
    pollSeconds: 5,
    bootDelayMs: 200,
    faults,
  });
  harness.start();
  expect((await harness.waitForEnrollment()).enrolled).toBe(6);
  const stack = { app, tenant } as unknown as AgentStack;
  const profileId = await saveProfile(stack, 'Standard', {
    phases: {
      apps: {
        installers: [
          { name: 'DrydockTool', url: TOOL_URL, sha256: simulatedDownloadSha256(TOOL_URL), arguments: [] },
        ],
      },
    },
  });
  const started = await startFleetRun(stack, { profileId, concurrency: 2 });
  const deadline = Date.now() + 120_000;
  while ((await fleetMachineRuns(stack, started.id)).length < 2) {
    if (Date.now() > deadline) throw new Error('the fleet run started no machine runs');
    await new Promise((r) => setTimeout(r, 300));
  }

  // The deploy: build B's worker starts beside A's, and B is made current.
  const switchStart = Date.now();
  const buildB = await startBuild(bundleB);
  expect(buildB).not.toBe(buildA);
  const { previous } = await setCurrentVersion(temporal, DEPLOYMENT, buildB, { waitMs: 60_000 });
  const switchDone = Date.now();
  expect(previous).toBe(buildA);
  faults.slowMs = 300;

  const done = await waitForFleet(stack, started.id, (f) => f.status === 'completed', 300_000);
  const runs = await fleetMachineRuns(stack, started.id);
  expect(runs.filter((r) => r.status !== 'passed').map((r) => r.lastError)).toEqual([]);
  expect(done).toMatchObject({ status: 'completed', total: 6, passed: 6, failed: 0 });
  expect(repeatedEffects(harness)).toEqual([]);

  // Which build ran each machine run, by Temporal's own record of it.
  const seen = [];
  for (const run of runs) {
    const handle = temporal.workflow.getHandle(run.workflowId);
    const [described, versioning, history] = await Promise.all([
      handle.describe(),
      workflowVersion(temporal, run.workflowId),
      handle.fetchHistory(),
    ]);
    const events = history.events ?? [];
    seen.push({
      workflowId: run.workflowId,
      buildId: versioning.version?.buildId,
      behavior: versioning.behavior,
      startedAt: described.startTime.getTime(),
      closedAt: described.closeTime?.getTime() ?? Infinity,
      // No workflow task of any run failed (a non-determinism error fails the task, not the run).
      failedTasks: events.filter((e) => e.workflowTaskFailedEventAttributes).length,
      // B's change: its first command is the pause's timer.
      startsWithTimer: !!events[4]?.timerStartedEventAttributes,
      history,
    });
  }
  expect(seen.map((s) => [s.behavior, s.failedTasks])).toEqual(seen.map(() => ['PINNED', 0]));
  expect(seen.every((s) => s.buildId === buildA || s.buildId === buildB)).toBe(true);
  for (const s of seen) expect(s.startsWithTimer).toBe(s.buildId === buildB);
  // Started before the deploy: on A; after it: on B (in between, either: B was not current yet).
  for (const s of seen.filter((x) => x.startedAt < switchStart)) expect(s.buildId).toBe(buildA);
  for (const s of seen.filter((x) => x.startedAt > switchDone)) expect(s.buildId).toBe(buildB);
  const onA = seen.filter((s) => s.buildId === buildA);
  expect(onA.length).toBeGreaterThanOrEqual(2);
  expect(seen.filter((s) => s.buildId === buildB).length).toBeGreaterThanOrEqual(1);
  // At least one of A's runs was mid-way at the deploy, and finished on A after it.
  expect(onA.some((s) => s.closedAt > switchDone)).toBe(true);

  // Pinning was needed: A's history does not replay on B (and does on A).
  const aHistory = onA[0]!.history;
  await expect(
    Worker.runReplayHistory({ workflowBundle: { code: bundleA } }, aHistory),
  ).resolves.toBeUndefined();
  await expect(
    Worker.runReplayHistory({ workflowBundle: { code: bundleB } }, aHistory),
  ).rejects.toBeInstanceOf(DeterminismViolationError);

  // The fleet run auto-upgrades: its last tasks ran on B.
  expect(await workflowVersion(temporal, fleetRunWorkflowId(started.id))).toEqual({
    behavior: 'AUTO_UPGRADE',
    version: { deploymentName: DEPLOYMENT, buildId: buildB },
  });
  const deployment = await describeDeployment(temporal, DEPLOYMENT);
  expect(deployment.current).toBe(buildB);
  expect(deployment.versions.find((v) => v.buildId === buildA)?.status).toMatch(/^(draining|drained)$/);
});
