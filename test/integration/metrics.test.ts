import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Harness } from '../../agent/harness/harness';
import { buildApp } from '../../api/app';
import { loadEnv } from '../../infra/config/env';
import { noticeSql } from '../../infra/db/agent-notices';
import { withTenant } from '../../infra/db/orm';
import { runCounts } from '../../infra/db/run-counts';
import { ApiMetrics, serveMetrics } from '../../infra/observability/metrics';
import { createMachineRun } from '../../infra/provisioning/machine-runs';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { saveProfile } from '../helpers/provisioning';
import { freePort } from '../helpers/shared';

/**
 * The API's Prometheus metrics (issue 18) on a real API with agents long-polling it: served on
 * their own address only, and each figure follows what happens.
 */
jest.setTimeout(120_000);

let stack: AgentStack;
let app: FastifyInstance;
let apiUrl: string;
let metricsServer: Server;
let metricsUrl: string;
let harness: Harness;
beforeAll(async () => {
  stack = await startAgentStack();
  const env = loadEnv({
    DRYDOCK_ENV: 'test',
    LOG_LEVEL: 'silent',
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    AGENT_POLL_MAX_SECONDS: '5',
  });
  const metrics = new ApiMetrics({ runCounts: runCounts(stack.orm, 0) });
  app = await buildApp({
    env,
    orm: stack.orm,
    temporal: stack.temporal,
    databaseUrl: stack.db.appUrl,
    metrics,
  });
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  apiUrl = `http://127.0.0.1:${port}`;
  const metricsPort = await freePort();
  metricsServer = await serveMetrics(`127.0.0.1:${metricsPort}`, metrics.registry);
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
});
afterAll(async () => {
  await harness?.stop();
  metricsServer?.close();
  await app?.close();
  await stack.close();
});

const scrape = () => fetch(metricsUrl).then((r) => r.text());
const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};
async function until(series: string, ok: (v: number | undefined) => boolean): Promise<number | undefined> {
  for (let i = 0; i < 200; i++) {
    const v = value(await scrape(), series);
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${series} never became right: ${value(await scrape(), series)}`);
}

it('counts requests, open long-polls, deliveries and runs, and is not on the public listener', async () => {
  const key = await stack.issueEnrollmentKey();
  harness = new Harness({
    apiUrl,
    siteCode: stack.tenant.siteCode,
    enrollmentKey: key.key,
    machines: 2,
    stateDir: path.join(stack.stateDir, 'metrics'),
    pollSeconds: 5,
  });
  harness.start();
  await harness.waitForEnrollment();
  await until('drydock_agent_long_polls_open', (v) => v === 2);

  for (let i = 0; i < 3; i++) await fetch(`${apiUrl}/healthz`);
  const text = await scrape();
  expect(value(text, 'drydock_http_requests_total{route="/healthz",method="GET",status="2xx"}')).toBe(3);
  expect(value(text, 'drydock_http_requests_total{route="/v1/enroll",method="POST",status="2xx"}')).toBe(2);
  expect(value(text, 'drydock_http_request_duration_seconds_count{route="/healthz",method="GET"}')).toBe(3);
  expect(text).toContain('drydock_api_process_resident_memory_bytes');

  // A task for a waiting machine: the notice wakes its poll, which delivers it.
  const machineId = harness.machines[0]!.agent.machineId!;
  const tenantId = stack.tenant.tenantId;
  await withTenant(stack.orm, tenantId, async (em) => {
    await em.execute(
      `insert into agent_tasks (id, tenant_id, machine_id, kind, idempotency_key, workflow_id, activity_id)
       values (?, ?, ?, 'inventory.collect', ?, 'metrics-test', '1')`,
      [randomUUID(), tenantId, machineId, `metrics:${randomUUID()}`],
    );
    const n = noticeSql({ t: 'task', m: machineId });
    await em.execute(n.sql, n.params);
  });
  await until('drydock_agent_tasks_delivered_total{kind="inventory.collect"}', (v) => v === 1);
  expect(value(await scrape(), 'drydock_agent_task_wake_to_delivery_seconds_count')).toBe(1);

  const profileId = await saveProfile(stack, 'Metrics', {});
  await withTenant(stack.orm, tenantId, (em) =>
    createMachineRun(em, { tenantId, machineId, siteId: stack.tenant.siteId, profileId, createdBy: 'test' }),
  );
  expect(value(await scrape(), 'drydock_runs{kind="machine",status="queued"}')).toBe(1);

  expect((await fetch(`${apiUrl}/metrics`)).status).toBe(404);
});

/** One enrolled machine's long-poll, by hand (the harness stopped), and tasks queued for it. */
async function machineChannel(index: number) {
  const machine = harness.machines[index]!;
  const machineId = machine.agent.machineId!;
  const tenantId = stack.tenant.tenantId;
  const agentKey = (await machine.platform.loadProtected('agent-key'))!;
  const poll = (wait: number) =>
    fetch(`${apiUrl}/v1/agent/tasks?wait=${wait}`, { headers: { authorization: `Bearer ${agentKey}` } });
  /** A task row for the machine, announced (as the product always does) or not. */
  const queue = (notify: boolean) =>
    withTenant(stack.orm, tenantId, async (em) => {
      const id = randomUUID();
      await em.execute(
        `insert into agent_tasks (id, tenant_id, machine_id, kind, idempotency_key, workflow_id, activity_id)
         values (?, ?, ?, 'inventory.collect', ?, 'metrics-test', '1')`,
        [id, tenantId, machineId, `metrics:${id}`],
      );
      if (notify) {
        const n = noticeSql({ t: 'task', m: machineId });
        await em.execute(n.sql, n.params);
      }
      return id;
    });
  /** Done, so that it is not delivered again. */
  const finish = (id: string) =>
    withTenant(stack.orm, tenantId, (em) =>
      em.execute(`update agent_tasks set status = 'completed', finished_at = now() where id = ?`, [id]),
    );
  /** The machine's (failed) result of a task, with `wait`: then its next task, as the agent posts. */
  const report = (id: string, wait: number) =>
    fetch(`${apiUrl}/v1/agent/tasks/${id}/result?wait=${wait}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ok: false, error: { type: 'Test', message: 'metrics test', retryable: false } }),
    });
  return { machineId, poll, queue, finish, report };
}

const claims = async () => {
  const text = await scrape();
  return {
    empty: value(text, 'drydock_agent_claims_total{outcome="empty"}') ?? 0,
    busy: value(text, 'drydock_agent_claims_total{outcome="busy"}') ?? 0,
    skipped: value(text, 'drydock_agent_claims_total{outcome="skipped"}') ?? 0,
    claimed: value(text, 'drydock_agent_claims_total{outcome="claimed"}') ?? 0,
  };
};

it('makes no claim query for a machine known to have no task, and a task notice ends that at once', async () => {
  await harness.stop();
  const { poll, queue, finish } = await machineChannel(1);

  const before = await claims();
  for (let i = 0; i < 4; i++) expect((await poll(1)).status).toBe(204);
  const idle = await claims();
  // At most the first of these waiting polls asked the database (the harness's last may have).
  expect(idle.empty - before.empty).toBeLessThanOrEqual(1);
  expect(idle.skipped - before.skipped).toBeGreaterThanOrEqual(3);

  // A row nobody announced is not looked for by a waiting poll: every way the product queues a
  // task sends the notice. A poll that does not wait always asks, and finds it.
  const unannounced = await queue(false);
  expect((await poll(1)).status).toBe(204);
  const looked = await poll(0);
  expect(looked.status).toBe(200);
  expect(((await looked.json()) as { task: { id: string } }).task.id).toBe(unannounced);
  await finish(unannounced);
  expect((await poll(1)).status).toBe(204);

  // A notice clears the mark and wakes the waiting poll at once.
  const waiting = poll(10);
  await new Promise((r) => setTimeout(r, 300));
  const began = performance.now();
  const announced = await queue(true);
  const delivered = await waiting;
  expect(delivered.status).toBe(200);
  expect(((await delivered.json()) as { task: { id: string } }).task.id).toBe(announced);
  expect(performance.now() - began).toBeLessThan(5_000);
  expect((await claims()).claimed - idle.claimed).toBe(2);
  await finish(announced);
});

it('marks nothing when its claim passed over a task row another transaction held, and delivers that task soon after', async () => {
  const { poll, queue, finish } = await machineChannel(1);
  // Marked idle: a claim found nothing.
  expect((await poll(1)).status).toBe(204);

  // An announced task whose row a transaction holds when the poll claims, as a progress report or
  // the trace recorded on a task just dispatched does: SKIP LOCKED passes it over, and no notice
  // comes when the lock goes.
  const locker = await stack.db.adminClient();
  try {
    await locker.query('begin');
    const before = await claims();
    const held = await queue(true);
    await locker.query('select 1 from agent_tasks where id = $1 for update', [held]);
    const waiting = poll(10);
    await until('drydock_agent_claims_total{outcome="busy"}', (v) => (v ?? 0) > before.busy);
    await locker.query('commit');
    const delivered = await waiting;
    // Looked again shortly, and got it in the same poll (marked idle, it would wait the poll out: 204).
    expect(delivered.status).toBe(200);
    expect(((await delivered.json()) as { task: { id: string } }).task.id).toBe(held);
    await finish(held);
  } finally {
    await locker.end();
  }
});

it('makes no claim after a result when the machine has no other task open, and claims at once when it has', async () => {
  const { poll, queue, report } = await machineChannel(1);
  const first = await queue(true);
  const took = await poll(0);
  expect(((await took.json()) as { task: { id: string } }).task.id).toBe(first);

  // Nothing else open: the result's poll waits for the next dispatch's notice without a claim query.
  const before = await claims();
  const reported = report(first, 10);
  await until('drydock_agent_claims_total{outcome="skipped"}', (v) => (v ?? 0) > before.skipped);
  const next = await queue(true);
  const answer = await reported;
  expect(answer.status).toBe(200);
  expect(((await answer.json()) as { task?: { id: string } }).task?.id).toBe(next);
  const after = await claims();
  expect(after.empty - before.empty).toBe(0);
  expect(after.claimed - before.claimed).toBe(1);

  // Another task open (queued before the result): claimed by the result's poll at once, no wait.
  const queued = await queue(true);
  const began = performance.now();
  const again = await report(next, 10);
  expect(((await again.json()) as { task?: { id: string } }).task?.id).toBe(queued);
  expect(performance.now() - began).toBeLessThan(5_000);
  expect((await claims()).claimed - after.claimed).toBe(1);
  await report(queued, 0);
});
