import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Harness } from '../../agent/harness/harness';
import { repoRoot, serverSecret, loadEnv } from '../../infra/config/env';
import { noticeSql } from '../../infra/db/agent-notices';
import { deriveAppUrl, migrate, withDatabase, DEV_APP_PASSWORD } from '../../infra/db/database';
import { rotateEnrollmentKey } from '../../infra/db/enrollment-keys';
import { SiteSchema } from '../../infra/db/entities';
import { createOrm, withTenant } from '../../infra/db/orm';
import { resolvePostgres } from '../../infra/postgres/resolve';
import { ensureTemporalCli } from '../../infra/temporal/cli';
import { startDevServer } from '../../infra/temporal/dev-server';
import { API_NODE_FLAGS } from '../../infra/cli/processes';
import { createTenant } from '../helpers/fixtures';
import { dropDatabase, freePort } from '../helpers/shared';

/**
 * Agent-channel benchmark (issue 3): enrollments per second for 1,000 simulated machines, then the
 * API's memory and task-dispatch latency (queued → delivered) with 2,000 idle long-polling agents.
 * Baselines from the same run: /healthz round trips at the same concurrency, and the API's memory
 * before any agent connected. Everything real: API process, PostgreSQL, HTTP on loopback.
 */
const ENROLL = 1000;
const POLLERS = 2000;
const DISPATCHES = 300;

const out = (line: string) => process.stdout.write(`${line}\n`);
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function main(): Promise<void> {
  const env = loadEnv({ ...process.env, DRYDOCK_ENV: 'test' });
  const pg = await resolvePostgres(env);
  const dbName = `drydock_bench_${process.pid}`;
  const adminUrl = withDatabase(pg.adminUrl, dbName);
  await dropDatabase(pg.adminUrl, dbName);
  await migrate(adminUrl, { appPassword: DEV_APP_PASSWORD });
  const cli = await ensureTemporalCli({ dataDir: env.DRYDOCK_DATA_DIR, explicitPath: env.TEMPORAL_CLI_PATH });
  const temporal = await startDevServer({ cliPath: cli.path, port: await freePort(), headless: true });
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'drydock-bench-'));
  const orm = await createOrm(deriveAppUrl(adminUrl), { pool: { min: 0, max: 4 } });

  // A tenant, a client, a site and its enrollment key.
  const { tenantId, siteId, siteCode } = await createTenant(orm, `bench-${process.pid}`);
  const key = await withTenant(orm, tenantId, async (em) =>
    rotateEnrollmentKey(em, await em.findOneOrFail(SiteSchema, { id: siteId }), 'bench', serverSecret(env)),
  );

  // The API as its own process, with the flags `drydock up` gives it, so its memory is its own.
  const port = await freePort();
  const api = spawn(
    process.execPath,
    [...API_NODE_FLAGS, '--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'api', 'main.ts')],
    {
      env: {
        ...process.env,
        DRYDOCK_ENV: 'test',
        LOG_LEVEL: 'warn',
        DATABASE_URL: adminUrl,
        TEMPORAL_ADDRESS: temporal.address,
        API_PORT: String(port),
        // Every simulated machine comes from 127.0.0.1: lift the per-address limit for the bench.
        ENROLL_RATE_LIMIT_PER_MINUTE: '100000000',
        AGENT_POLL_MAX_SECONDS: '30',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const apiUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${apiUrl}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 300) throw new Error('API did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const idleRss = rssMb(api.pid!);

  try {
    // Baseline: the same number of concurrent requests to /healthz.
    let started = performance.now();
    await Promise.all(Array.from({ length: ENROLL }, () => fetch(`${apiUrl}/healthz`).then((r) => r.text())));
    const healthRate = ENROLL / ((performance.now() - started) / 1000);

    const fleet = new Harness({
      apiUrl,
      siteCode,
      enrollmentKey: key.key,
      machines: ENROLL,
      stateDir: path.join(stateDir, 'a'),
      pollSeconds: 25,
      enrollTimeoutMs: 120_000,
    });
    started = performance.now();
    fleet.start();
    const report = await fleet.waitForEnrollment();
    const enrollSeconds = (performance.now() - started) / 1000;
    out(
      `enroll: ${report.enrolled}/${ENROLL} machines enrolled in ${enrollSeconds.toFixed(1)} s = ${(report.enrolled / enrollSeconds).toFixed(0)} enrollments/s (failed ${report.failed}) [target: all ${ENROLL} within 60 s]`,
    );
    out(
      `enroll baseline: ${healthRate.toFixed(0)} /healthz requests/s at the same concurrency; enrollment costs ${(healthRate / (report.enrolled / enrollSeconds)).toFixed(1)}× a bare round trip`,
    );

    const more = new Harness({
      apiUrl,
      siteCode,
      enrollmentKey: key.key,
      machines: POLLERS - ENROLL,
      stateDir: path.join(stateDir, 'b'),
      pollSeconds: 25,
      enrollTimeoutMs: 120_000,
    });
    more.start();
    await more.waitForEnrollment();
    await new Promise((r) => setTimeout(r, 5000)); // every agent checked in and waiting in a long-poll
    const machineIds = [...fleet.machines, ...more.machines].map((m) => m.agent.machineId!).filter(Boolean);
    const pollRss = rssMb(api.pid!);
    out(
      `memory: API RSS ${pollRss.toFixed(0)} MB with ${machineIds.length} idle long-polling agents; baseline ${idleRss.toFixed(0)} MB before any agent [target: under 500 MB]`,
    );

    // Dispatch: queue a task as the dispatch activity does (row + NOTIFY), to a random idle agent.
    const taskIds: string[] = [];
    for (let i = 0; i < DISPATCHES; i++) {
      const machineId = machineIds[Math.floor(Math.random() * machineIds.length)]!;
      const id = randomUUID();
      taskIds.push(id);
      await withTenant(orm, tenantId, async (em) => {
        await em.execute(
          `insert into agent_tasks (id, tenant_id, machine_id, kind, payload, idempotency_key, workflow_id, activity_id, created_at)
           values (?, ?, ?, 'inventory.collect', '{}', ?, 'bench', ?, clock_timestamp())`,
          [id, tenantId, machineId, `bench:${id}`, String(i)],
        );
        const n = noticeSql({ t: 'task', m: machineId });
        await em.execute(n.sql, n.params);
      });
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 3000));
    const latencies = await withTenant(orm, tenantId, (em) =>
      em.execute<{ ms: number }[]>(
        `select extract(epoch from (delivered_at - created_at)) * 1000 as ms from agent_tasks where workflow_id = 'bench' and delivered_at is not null`,
      ),
    );
    const sorted = latencies.map((r) => Number(r.ms)).sort((a, b) => a - b);
    const rtts: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await fetch(`${apiUrl}/healthz`).then((r) => r.text());
      rtts.push(performance.now() - t);
    }
    rtts.sort((a, b) => a - b);
    out(
      `dispatch: ${sorted.length}/${DISPATCHES} tasks delivered; queued → delivered p50 ${pct(sorted, 50).toFixed(1)} ms, p99 ${pct(sorted, 99).toFixed(1)} ms [target: p99 under 1000 ms]`,
    );
    out(
      `dispatch baseline: /healthz round trip under the same load p50 ${pct(rtts, 50).toFixed(1)} ms, p99 ${pct(rtts, 99).toFixed(1)} ms`,
    );
    await fleet.stop();
    await more.stop();
  } finally {
    api.kill('SIGTERM');
    await new Promise((r) => api.once('exit', r));
    await orm.close();
    await temporal.stop();
    await dropDatabase(pg.adminUrl, dbName);
    await pg.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
