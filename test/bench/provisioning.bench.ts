import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { loadEnv, repoRoot, serverSecret } from '../../infra/config/env';
import { API_NODE_FLAGS, spawnEntry, stopChild } from '../../cli/processes';
import { DEV_APP_PASSWORD, deriveAppUrl, migrate, withDatabase } from '../../infra/db/database';
import { rotateEnrollmentKey, type IssuedEnrollmentKey } from '../../infra/db/enrollment-keys';
import { SiteSchema } from '../../infra/db/entities';
import { createOrm, withTenant } from '../../infra/db/orm';
import { mintApiToken } from '../helpers/auth';
import { resolvePostgres } from '../../infra/postgres/resolve';
import { buildPlan } from '../../infra/provisioning/plan';
import { resolveProfile, type ProfileLayer } from '../../infra/provisioning/profile';
import { ensureTemporalCli } from '../../infra/temporal/cli';
import { startDevServer } from '../../infra/temporal/dev-server';
import { TEMPORAL_SERVER_VERSION } from '../../infra/temporal/production-server';
import { temporalSecurity } from '../../infra/temporal/tls';
import { StepKind } from '../../infra/wire/agent-steps';
import { createTenant } from '../helpers/fixtures';
import { startTestProductionServer } from '../helpers/production-temporal';
import { dropDatabase, freePort } from '../helpers/shared';
import { startHarnessShards } from './harness-shards';

/**
 * Provisioning benchmark (issue 4): a fleet run of 1,000 simulated machines through the real stack
 * (API and worker as their own processes, PostgreSQL, the Temporal dev server, real agents over
 * HTTP), reported as machine-steps per second beside a bare no-op activity's rate on the same
 * server in the same run; then the history size of the largest fleetRun and provisionMachine runs.
 *
 * A machine-step is one agent task the run dispatched (a row in agent_tasks: plan steps, reboots,
 * boot-id checks). The baseline runs the same shape without Drydock: as many workflows as machines,
 * each running as many sequential no-op activities as a machine has steps, the same number at once.
 *
 * BENCH_MACHINES, BENCH_CONCURRENCY and BENCH_PROFILE (light | standard) change the run;
 * BENCH_CPU_PROFILE=<folder> writes the worker's and the API's V8 CPU profiles there (`--cpu-prof`).
 * The simulated machines run in BENCH_HARNESS_SHARDS processes of their own (one per 2,500 machines by
 * default), never in the bench's: the baseline's worker runs here. The baseline runs
 * BENCH_BASELINE_WORKFLOWS workflows (at most 1,000 by default): a rate, not the fleet's size.
 * BENCH_TEMPORAL=production runs it all (fleet run and baseline) on the production Temporal server
 * instead (issue 18: PostgreSQL persistence and visibility, mTLS), in databases of this run; the
 * PostgreSQL sizes at the end then include its two databases.
 */
const MACHINES = Number(process.env.BENCH_MACHINES ?? 1000);
const TEMPORAL = process.env.BENCH_TEMPORAL ?? 'dev';
if (TEMPORAL !== 'dev' && TEMPORAL !== 'production')
  throw new Error(`BENCH_TEMPORAL is dev or production, not ${TEMPORAL}`);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const SHARDS = Number(process.env.BENCH_HARNESS_SHARDS ?? Math.ceil(MACHINES / 2500));
/** At most this many machines enrolling at once across the fleet (BENCH_ENROLL_WAVE, as in the agent-channel bench). */
const ENROLL_WAVE = Number(process.env.BENCH_ENROLL_WAVE ?? 200);
const BASELINE_WORKFLOWS = Number(process.env.BENCH_BASELINE_WORKFLOWS ?? Math.min(MACHINES, 1000));
const PROFILE = process.env.BENCH_PROFILE ?? 'light';
/**
 * BENCH_POLL_SECONDS: how long the simulated agents' long-polls ask to wait (the agent's own default,
 * 25 s, unless set). An idle fleet's request rate is machines / this; the API's
 * AGENT_POLL_MAX_SECONDS is raised to match when it is longer than the default 30 s.
 */
const POLL_SECONDS = Number(process.env.BENCH_POLL_SECONDS ?? 25);
const CPU_PROFILE_FLAGS = process.env.BENCH_CPU_PROFILE
  ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROFILE)}`]
  : [];
/** {SEQ3} names run out at 999 per site: the fleet is spread over sites of at most this many. */
const PER_SITE = 500;
/** BENCH_FLEET_TIMEOUT_MINUTES: on a busy shared machine a fleet run takes longer. */
const FLEET_TIMEOUT_MS = Number(process.env.BENCH_FLEET_TIMEOUT_MINUTES ?? 15) * 60_000;
/** Issue 18's goal: a machine-step costs at most 1.5× a bare no-op activity on the same server. */
const TARGET_RATIO = 1.5;
const EVENT_LIMIT = 51_200;
const BYTE_LIMIT = 50 * 1024 * 1024;

/**
 * Light (the default, to fit 1,000 machines into minutes on two cores): every kind of orchestration
 * the Standard profile has — a check, a rename with its reboot, an install, inventory with a database
 * write, validation — with one app instead of three and without the tweaks and locale steps.
 */
const PROFILES: Record<string, ProfileLayer> = {
  standard: {},
  light: {
    phases: {
      apps: { winget: [{ id: '7zip.7zip' }] },
      tweaks: { enabled: false },
      locale: { enabled: false },
    },
  },
};

/** Colour codes in the worker's (Temporal core's) log lines. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const out = (line: string) => process.stdout.write(`${line}\n`);
const secs = (ms: number) => (ms / 1000).toFixed(1);
const pct = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(3);
/** The machine's load (1, 5, 15 min): on a shared machine, what else competed for the cores. */
const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Last CPU seconds seen per postgres process, and what processes seen before and gone since had used. */
const postgresSeen = new Map<number, number>();
let postgresGone = 0;

/**
 * Every postgres process on the machine (the server may be shared: an upper bound for this run).
 * Kept monotonic: a backend that exits (a pool closing a connection) takes its counter with it, so
 * its last reading stays in the sum; read often (the fleet run's sampler does) to lose little.
 */
function postgresCpuSeconds(): number {
  const live = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres')
        live.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  for (const [pid, seconds] of postgresSeen) if (!live.has(pid)) postgresGone += seconds;
  postgresSeen.clear();
  for (const [pid, seconds] of live) postgresSeen.set(pid, seconds);
  return postgresGone + [...live.values()].reduce((a, b) => a + b, 0);
}

type Cpu = Record<'worker' | 'api' | 'temporal' | 'postgres' | 'agents' | 'bench', number>;
type Pids = { api?: number; worker?: number; temporal?: number; agents: (number | undefined)[] };

/** CPU seconds so far of each process of the stack (`bench` is this process: the baseline's worker, GraphQL polls). */
function cpuNow(pids: Pids): Cpu {
  const own = process.cpuUsage();
  return {
    worker: cpuSeconds(pids.worker),
    api: cpuSeconds(pids.api),
    temporal: cpuSeconds(pids.temporal),
    agents: pids.agents.reduce<number>((n, pid) => n + cpuSeconds(pid), 0),
    postgres: postgresCpuSeconds(),
    bench: (own.user + own.system) / 1e6,
  };
}

function cpuSince(before: Cpu, pids: Pids): Cpu {
  const now = cpuNow(pids);
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k as keyof Cpu]])) as Cpu;
}

/** CPU per unit of work, by process: where the time goes. */
function cpuPer(cpu: Cpu, units: number): string {
  const ms = (s: number) => ((s * 1000) / units).toFixed(1);
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  return `${ms(total)} ms (worker ${ms(cpu.worker)}, API ${ms(cpu.api)}, Temporal ${ms(cpu.temporal)}, PostgreSQL ${ms(cpu.postgres)}, agents ${ms(cpu.agents)}, bench process ${ms(cpu.bench)})`;
}

/** The Temporal server's requests so far, by API and persistence operation (its Prometheus counters). */
async function serverRequests(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m =
      /^(service_requests|persistence_requests|visibility_persistence_requests)\{(.*)\} ([0-9.e+]+)$/.exec(
        line,
      );
    if (!m) continue;
    const operation = /(?:^|,)operation="([^"]+)"/.exec(m[2]!)?.[1] ?? '?';
    const key = `${m[1] === 'service_requests' ? 'api' : m[1] === 'persistence_requests' ? 'db' : 'visibility'}:${operation}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(m[3]));
  }
  return counts;
}

/** The worker's histogram sums and counts by metric (labels summed), and its gauges (its Prometheus exporter). */
async function workerMetrics(address: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || /_bucket$/.test(m[1]!)) continue;
    const slotType = /worker_type="([^"]+)"/.exec(m[2] ?? '')?.[1];
    const key = slotType ? `${m[1]}{${slotType}}` : m[1]!;
    values.set(key, (values.get(key) ?? 0) + Number(m[3]));
  }
  return values;
}

/** Mean latencies (ms) of the worker's task histograms between two readings. */
function workerLatencies(before: Map<string, number>, after: Map<string, number>): string {
  return [...after.keys()]
    .filter((k) => k.endsWith('_latency_count'))
    .map((k) => {
      const name = k.slice(0, -'_count'.length);
      const n = after.get(k)! - (before.get(k) ?? 0);
      const sum = (after.get(`${name}_sum`) ?? 0) - (before.get(`${name}_sum`) ?? 0);
      return n > 0 ? `${name} ${(sum / n).toFixed(1)} ms × ${n}` : '';
    })
    .filter(Boolean)
    .join(', ');
}

/** The operations that grew between two readings, per unit of work, largest first. */
function requestsPer(
  before: Map<string, number>,
  after: Map<string, number>,
  units: number,
  top = 40,
): string {
  return [...after]
    .map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / units] as const)
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

interface HistoryFigures {
  /** The run this one continued as new from, if any. */
  continuedFrom?: string;
  events: number;
  bytes: number;
  activities: Map<string, number>;
  /** From the start to its first workflow task starting: how long a new run waited for a worker. */
  firstTaskSeconds: number;
  /** From the first event to the last. */
  lifetimeSeconds: number;
  /** Each workflow task's wait in the task queue (scheduled → started), seconds. */
  taskWaits: number[];
  /** Each child's start: the start command's event → the child started (seconds). */
  childStartWaits: number[];
}

const eventSeconds = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds ?? 0) + (t?.nanos ?? 0) / 1e9;

async function historyOf(client: Client, workflowId: string, runId?: string): Promise<HistoryFigures> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const activities = new Map<string, number>();
  for (const event of history.events ?? []) {
    if (event.eventType !== proto.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) continue;
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
    activities.set(name, (activities.get(name) ?? 0) + 1);
  }
  const events = history.events ?? [];
  const continuedFrom =
    events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  const firstTask = events.find(
    (e) => e.eventType === proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  );
  const scheduledAt = new Map<string, number>();
  const taskWaits: number[] = [];
  const childStartWaits: number[] = [];
  for (const e of events) {
    if (e.eventType === proto.api.enums.v1.EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
      scheduledAt.set(`child:${String(e.eventId)}`, eventSeconds(e.eventTime));
    if (e.eventType === proto.api.enums.v1.EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED) {
      const at = scheduledAt.get(
        `child:${String(e.childWorkflowExecutionStartedEventAttributes?.initiatedEventId)}`,
      );
      if (at !== undefined) childStartWaits.push(eventSeconds(e.eventTime) - at);
    }
    if (e.eventType === proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
      scheduledAt.set(String(e.eventId), eventSeconds(e.eventTime));
    else if (e.eventType === proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) {
      const at = scheduledAt.get(String(e.workflowTaskStartedEventAttributes?.scheduledEventId));
      if (at !== undefined) taskWaits.push(eventSeconds(e.eventTime) - at);
    }
  }
  return {
    continuedFrom,
    taskWaits,
    childStartWaits,
    firstTaskSeconds: eventSeconds(firstTask?.eventTime) - eventSeconds(events[0]?.eventTime),
    lifetimeSeconds: eventSeconds(events[events.length - 1]?.eventTime) - eventSeconds(events[0]?.eventTime),
    events: history.events?.length ?? 0,
    bytes: proto.api.history.v1.History.encode(history).finish().length,
    activities,
  };
}

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const cleanup: { name: string; run: () => Promise<unknown> }[] = [];
  // The worker's and the API's log lines: printed while the bench runs; while they stop, errors
  // (requests cut off by the shutdown) are only counted.
  let stopping = false;
  let stopErrors = 0;
  const childLine = (line: string) => {
    if (!stopping) out(line.replace(ANSI, ''));
    else if (/\bERROR\b/.test(line)) stopErrors++;
  };
  const atExit = (name: string, run: () => Promise<unknown>) => cleanup.push({ name, run });
  const runCleanup = async () => {
    stopping = true;
    for (const item of cleanup.splice(0).reverse()) {
      try {
        await item.run();
      } catch (err) {
        process.stderr.write(`bench cleanup: ${item.name}: ${(err as Error).message}\n`);
      }
    }
  };
  // Interrupted (Ctrl-C, a kill): the servers, agents and databases go as they do at the end.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      out(`bench: ${signal}: stopping`);
      void runCleanup().finally(() => process.exit(130));
    });
  try {
    const env = loadEnv({ ...process.env, DRYDOCK_ENV: 'test' });
    const pg = await resolvePostgres(env);
    atExit('PostgreSQL', () => pg.stop());
    const dbName = `drydock_bench_prov_${process.pid}`;
    const adminUrl = withDatabase(pg.adminUrl, dbName);
    await dropDatabase(pg.adminUrl, dbName);
    atExit('bench database', () => dropDatabase(pg.adminUrl, dbName));
    await migrate(adminUrl, { appPassword: DEV_APP_PASSWORD });
    const cli = await ensureTemporalCli({
      dataDir: env.DRYDOCK_DATA_DIR,
      explicitPath: env.TEMPORAL_CLI_PATH,
    });
    // Both servers serve their Prometheus counters (the requests per step below).
    const metricsPort = await freePort();
    const production =
      TEMPORAL === 'production'
        ? await startTestProductionServer({
            dataDir: env.DRYDOCK_DATA_DIR,
            adminUrl: pg.adminUrl,
            cliPath: cli.path,
            dir: path.join(repoRoot, '.drydock', 'bench'),
            id: `bench${process.pid}`,
            // Its own default is 20 + 4 per service; the machine's PostgreSQL is shared (100 connections).
            maxConns: { store: 10, visibility: 3 },
            metricsPort,
            log: out,
          })
        : undefined;
    const server =
      production ??
      (await startDevServer({
        cliPath: cli.path,
        port: await freePort(),
        headless: true,
        metricsPort,
      }));
    const temporalRequests = () => serverRequests(metricsPort);
    atExit(`Temporal ${TEMPORAL} server`, () => server.stop());
    // The client certificate (production: mTLS on the frontend) for this process and its children.
    const tlsEnv = production?.tlsEnv ?? {};
    const security = temporalSecurity({ ...tlsEnv, TEMPORAL_API_KEY_FILE: undefined });
    out(
      production
        ? `temporal: the production server ${TEMPORAL_SERVER_VERSION} (PostgreSQL persistence and visibility in ${production.databases.temporal} / ${production.databases.visibility}, mTLS) at ${server.address}`
        : `temporal: the dev server (the CLI's, SQLite in memory) at ${server.address}`,
    );
    // Each simulated machine's disk (its journal, its host state) is its own in reality; here they
    // would all write to the server's one disk, so they live in memory (tmpfs) where there is one.
    const stateDir = mkdtempSync(
      path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'drydock-bench-prov-'),
    );
    atExit('state folder', async () => rmSync(stateDir, { recursive: true, force: true }));
    const orm = await createOrm(deriveAppUrl(adminUrl), { pool: { min: 0, max: 4 } });
    atExit('ORM', () => orm.close());
    const sql = new PgClient({ connectionString: adminUrl });
    await sql.connect();
    atExit('SQL client', () => sql.end());
    /** Bytes of each database of the run: Drydock's, and the production server's two. */
    const databaseSizes = async () => {
      const names = [
        dbName,
        ...(production ? [production.databases.temporal, production.databases.visibility] : []),
      ];
      const { rows } = await sql.query<{ name: string; bytes: string }>(
        'select datname as name, pg_database_size(datname) as bytes from pg_database where datname = any($1)',
        [names],
      );
      return new Map(rows.map((r) => [r.name, Number(r.bytes)]));
    };
    const connection = await Connection.connect({ address: server.address, ...security });
    atExit('Temporal client', () => connection.close());
    const client = new Client({ connection, namespace: 'default' });
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });

    // A tenant, its sites (a {SEQ3} name template has 999 names per site) and their keys.
    const sites = Math.ceil(MACHINES / PER_SITE);
    const tenant = await createTenant(orm, `bench-prov-${process.pid}`);
    const siteRows = await withTenant(orm, tenant.tenantId, async (em) => {
      const rows = [await em.findOneOrFail(SiteSchema, { id: tenant.siteId })];
      for (let i = 1; i < sites; i++) {
        rows.push(
          em.create(SiteSchema, {
            id: randomUUID(),
            tenantId: tenant.tenantId,
            clientId: tenant.clientId,
            code: `${tenant.siteCode}-${i}`,
            name: `Site ${i}`,
            createdAt: new Date(),
          }),
        );
      }
      await em.flush();
      const keys: IssuedEnrollmentKey[] = [];
      for (const site of rows) keys.push(await rotateEnrollmentKey(em, site, 'bench', serverSecret(env)));
      return rows.map((site, i) => ({ id: site.id, code: site.code, key: keys[i]! }));
    });

    // The worker and the API as their own processes, as `drydock up` runs them.
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      DRYDOCK_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: adminUrl,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: 'core',
      ...tlsEnv,
    };
    const workerMetricsAddress = `127.0.0.1:${await freePort()}`;
    let workerReady: () => void = () => {};
    const workerUp = new Promise<void>((resolve) => (workerReady = resolve));
    const worker: ChildProcess = spawnEntry(
      'worker',
      'workers/main.ts',
      { ...childEnv, WORKER_METRICS_ADDRESS: workerMetricsAddress },
      (line) => {
        if (line.includes('polling task queue')) workerReady();
        else if (!line.endsWith('drydock worker: stopped')) childLine(line);
      },
      CPU_PROFILE_FLAGS,
    );
    atExit('worker', () => stopChild(worker));
    const apiPort = await freePort();
    const api: ChildProcess = spawnEntry(
      'api',
      'api/main.ts',
      {
        ...childEnv,
        API_PORT: String(apiPort),
        AGENT_POLL_MAX_SECONDS: String(Math.max(30, POLL_SECONDS)),
        PROVISION_RETRY_BACKOFF_SECONDS: '1',
        PROVISION_OFFLINE_LIMIT_SECONDS: '600',
        PROVISION_FAILED_HOLD_SECONDS: '600',
      },
      childLine,
      [...API_NODE_FLAGS, ...CPU_PROFILE_FLAGS],
    );
    atExit('API', () => stopChild(api));
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${apiUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 600) throw new Error('API did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The worker bundles the workflows before it polls.
    let workerTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      workerUp,
      new Promise((_r, reject) => {
        workerTimer = setTimeout(() => reject(new Error('worker did not start')), 180_000);
      }),
    ]).finally(() => clearTimeout(workerTimer));

    const benchToken = await mintApiToken(orm, tenant.tenantId, 'admin');
    const gql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
      const res = await fetch(`${apiUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${benchToken}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: T; errors?: unknown[] };
      if (!body.data || body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
      return body.data;
    };

    // The simulated fleet: real agents over HTTP, no faults, quick reboots.
    let started = performance.now();
    const fleet = startHarnessShards(
      siteRows.map((site, i) => ({
        apiUrl,
        siteCode: site.code,
        enrollmentKey: site.key.key,
        fingerprint: site.key.fingerprint,
        machines: Math.floor(MACHINES / sites) + (i < MACHINES % sites ? 1 : 0),
        stateDir: path.join(stateDir, site.code),
        pollSeconds: POLL_SECONDS,
        bootDelayMs: 100,
        enrollTimeoutMs: 900_000,
        // Imaging waves, not all of the fleet at the same moment (docs/operations.md, known
        // limits: an enrollment storm is not what this bench measures).
        enrollConcurrency: Math.max(1, Math.floor(ENROLL_WAVE / sites)),
      })),
      SHARDS,
      childLine,
    );
    atExit('simulated machines', () => fleet.stop());
    const report = await fleet.enrolled;
    const enrolled = report.enrolled;
    if (enrolled !== MACHINES)
      throw new Error(`only ${enrolled}/${MACHINES} machines enrolled: ${JSON.stringify(report)}`);
    out(
      `setup: ${enrolled} simulated machines enrolled in ${secs(performance.now() - started)} s across ${sites} site(s) (a {SEQ3} name template has 999 names per site) by ${fleet.processes.length} agent process(es), at most ${ENROLL_WAVE} enrolling at once; agents long-poll ${POLL_SECONDS} s, reboot in 100 ms`,
    );

    // The profile, saved through GraphQL; its plan, for the baseline's shape.
    const layer = PROFILES[PROFILE]!;
    const { saveProfile } = await gql<{ saveProfile: { id: string } }>(
      'mutation($n: String!, $d: String!) { saveProfile(name: $n, documentJson: $d) { id } }',
      { n: `Bench ${PROFILE}`, d: JSON.stringify(layer) },
    );
    const resolved = resolveProfile([layer]);
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.errors));
    const plan = buildPlan(resolved.profile, { hostname: 'BENCH-001' });
    const reboots = plan.filter((s) => s.kind === StepKind.Rename).length;
    const stepsPerMachine = plan.length + reboots;
    out(
      `profile: ${PROFILE} (Standard${PROFILE === 'standard' ? '' : ` ⊕ ${JSON.stringify(layer)}`}): ${plan.length} plan steps [${plan.map((s) => s.key).join(', ')}] + ${reboots} reboot = ${stepsPerMachine} agent tasks per machine`,
    );
    out(
      `settings: fleet concurrency ${CONCURRENCY}, fleet batch size ${env.PROVISION_FLEET_BATCH_SIZE} (continue-as-new after that many machines), retry backoff 1 s; worker and API each their own process; ${os.cpus().length} CPU core(s), load average ${loadAverage()}`,
    );
    // The server's own settings that change these figures: a production database vacuums (the
    // development machine's CI configuration turns autovacuum off), and commits wait for the disk.
    const settings = (
      await sql.query<{ name: string; setting: string }>(
        `select name, current_setting(name) as setting from pg_settings
          where name in ('autovacuum', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')
          order by name`,
      )
    ).rows;
    out(`postgres settings: ${settings.map((r) => `${r.name}=${r.setting}`).join(', ')}`);

    // Baseline: bare no-op activities on the same server, in the fleet's shape — once before the
    // fleet run and once after it (the server then holds the fleet's histories too); the ratio
    // uses their mean, so a drift of the machine during the run weighs on both sides alike.
    const pids: Pids = {
      api: api.pid,
      worker: worker.pid,
      temporal: server.process.pid,
      agents: fleet.processes.map((p) => p.pid),
    };
    const baseline = async (label: 'before' | 'after') => {
      const nativeConnection = await NativeConnection.connect({ address: server.address, ...security });
      const noopWorker = await Worker.create({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue: 'bench-noop',
        workflowsPath: require.resolve('./noop-workflows'),
        activities: { noop: async () => {} },
      });
      const running = noopWorker.run();
      try {
        // Warm up (the first workflow tasks load the bundle into the sandbox).
        await client.workflow.execute('noopSteps', {
          taskQueue: 'bench-noop',
          workflowId: `noop-warmup-${label}`,
          args: [1],
        });
        let next = 0;
        const cpuBefore = cpuNow(pids);
        const requestsBefore = await temporalRequests();
        const began = performance.now();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < BASELINE_WORKFLOWS) {
              const i = next++;
              await client.workflow.execute('noopSteps', {
                taskQueue: 'bench-noop',
                workflowId: `noop-${label}-${i}`,
                args: [stepsPerMachine],
              });
            }
          }),
        );
        const seconds = (performance.now() - began) / 1000;
        const rate = (BASELINE_WORKFLOWS * stepsPerMachine) / seconds;
        out(
          `baseline (${label} the fleet run): ${BASELINE_WORKFLOWS} workflows × ${stepsPerMachine} sequential no-op activities, ${CONCURRENCY} at once (worker in the bench process): ${BASELINE_WORKFLOWS * stepsPerMachine} activities in ${seconds.toFixed(1)} s = ${rate.toFixed(0)} activities/s`,
        );
        return {
          rate,
          seconds,
          cpu: cpuSince(cpuBefore, pids),
          requests: requestsPer(
            requestsBefore,
            await temporalRequests(),
            BASELINE_WORKFLOWS * stepsPerMachine,
          ),
        };
      } finally {
        noopWorker.shutdown();
        await running;
        await nativeConnection.close();
      }
    };
    const bareBefore = await baseline('before');

    // The fleet run, started and watched as an operator would: GraphQL. Its status (a row) is read
    // every 500 ms; its live progress (a Temporal query on the fleet workflow) only for the log lines.
    const FLEET = 'id status total passed failed cancelled';
    const PROGRESS = 'progress { running passed failed batches }';
    type Fleet = {
      id: string;
      status: string;
      total: number;
      passed: number;
      failed: number;
      cancelled: number;
      progress?: { running: number; passed: number; failed: number; batches: number } | null;
    };
    const sizesBefore = await databaseSizes();
    const cpuBefore = cpuNow(pids);
    const requestsBefore = await temporalRequests();
    const workerBefore = await workerMetrics(workerMetricsAddress);
    // The worker's free slots, sampled while the fleet runs (what a full worker waits for).
    const slotSamples = new Map<string, number[]>();
    const slotSampler = setInterval(() => {
      postgresCpuSeconds();
      void workerMetrics(workerMetricsAddress).then(
        (m) => {
          for (const [k, v] of m)
            if (k.includes('task_slots_available')) slotSamples.set(k, [...(slotSamples.get(k) ?? []), v]);
        },
        () => undefined,
      );
    }, 1000);
    started = performance.now();
    const { startFleetRun } = await gql<{ startFleetRun: Fleet }>(
      `mutation($i: FleetRunStartInput!) { startFleetRun(input: $i) { ${FLEET} } }`,
      { i: { profileId: saveProfile.id, concurrency: CONCURRENCY, siteIds: siteRows.map((s) => s.id) } },
    );
    let view = startFleetRun;
    let lastPrint = performance.now();
    while (view.status !== 'completed') {
      if (performance.now() - started > FLEET_TIMEOUT_MS)
        throw new Error(
          `the fleet run did not finish in ${FLEET_TIMEOUT_MS / 60_000} min: ${JSON.stringify(view)}`,
        );
      await new Promise((r) => setTimeout(r, 500));
      const print = performance.now() - lastPrint > 20_000;
      view = (
        await gql<{ fleetRun: Fleet }>(
          `query($id: ID!) { fleetRun(id: $id) { ${FLEET} ${print ? PROGRESS : ''} } }`,
          { id: view.id },
        )
      ).fleetRun;
      if (print && view.status !== 'completed') {
        lastPrint = performance.now();
        const p = view.progress;
        out(
          `fleet: ${secs(performance.now() - started)} s: passed ${p?.passed ?? view.passed}, failed ${p?.failed ?? view.failed}, running ${p?.running ?? '?'}, batch ${p?.batches ?? '?'}`,
        );
      }
    }
    const fleetSeconds = (performance.now() - started) / 1000;
    const cpu = cpuSince(cpuBefore, pids);
    const requestsAfter = await temporalRequests();
    clearInterval(slotSampler);
    const workerAfter = await workerMetrics(workerMetricsAddress);
    const sizesAfter = await databaseSizes();

    const [tasks] = (
      await sql.query<{
        total: string;
        completed: string;
        reboots: string;
        bootids: string;
        deliveries: string;
      }>(
        `select count(*) as total, count(*) filter (where status = 'completed') as completed,
                count(*) filter (where kind = $2) as reboots, count(*) filter (where kind = $3) as bootids,
                coalesce(sum(deliveries), 0) as deliveries
           from agent_tasks where tenant_id = $1`,
        [tenant.tenantId, StepKind.Reboot, StepKind.BootId],
      )
    ).rows;
    const machineSteps = Number(tasks!.total);
    const stepRate = machineSteps / fleetSeconds;
    const runs = (
      await sql.query<{ workflow_id: string; status: string; seconds: number; error: string | null }>(
        `select workflow_id, status, extract(epoch from (finished_at - started_at))::float8 as seconds,
                last_error->>'type' as error
           from machine_runs where fleet_run_id = $1`,
        [view.id],
      )
    ).rows;
    const durations = runs
      .map((r) => Number(r.seconds))
      .filter((s) => Number.isFinite(s))
      .sort((a, b) => a - b);
    out(
      `fleet: ${view.total} machines, ${view.passed} passed, ${view.failed} failed, ${view.cancelled} cancelled, in ${fleetSeconds.toFixed(1)} s (startFleetRun → completed); one machine's run p50 ${pct(durations, 50).toFixed(1)} s, p99 ${pct(durations, 99).toFixed(1)} s`,
    );
    if (view.failed > 0) {
      const errors = new Map<string, number>();
      for (const r of runs.filter((r) => r.status !== 'passed'))
        errors.set(r.error ?? r.status, (errors.get(r.error ?? r.status) ?? 0) + 1);
      out(`fleet: failures by type: ${JSON.stringify(Object.fromEntries(errors))}`);
    }
    out(
      `fleet: ${machineSteps} machine-steps (agent tasks: ${tasks!.completed} completed, ${tasks!.reboots} reboots, ${tasks!.bootids} boot-id checks, ${tasks!.deliveries} deliveries) = ${stepRate.toFixed(1)} machine-steps/s`,
    );
    // Tasks delivered more than once: the first delivery went to a long-poll whose agent was gone
    // (restarted); the machine waits until the task is offered again, so they are listed with timings.
    const redelivered = (
      await sql.query<{ kind: string; queued: number; finished: number; previous: string | null }>(
        `select t.kind, extract(epoch from (t.delivered_at - t.created_at))::float8 as queued,
                extract(epoch from (t.finished_at - t.created_at))::float8 as finished,
                (select p.kind from agent_tasks p where p.machine_id = t.machine_id and p.created_at < t.created_at
                  order by p.created_at desc limit 1) as previous
           from agent_tasks t where t.tenant_id = $1 and t.deliveries > 1 order by t.created_at`,
        [tenant.tenantId],
      )
    ).rows;
    if (redelivered.length > 0)
      out(
        `fleet: ${redelivered.length} task(s) delivered more than once (an earlier delivery went to a poll that was gone): ${redelivered
          .slice(0, 5)
          .map(
            (r) =>
              `${r.kind} after ${r.previous ?? 'nothing'}, finished ${Number(r.finished).toFixed(1)} s after queued`,
          )
          .join('; ')}`,
      );
    // A reboot the run did not hear of (no boot-id signal in time): it asked the machine instead.
    const unheard = (
      await sql.query<{ waited: number }>(
        `select extract(epoch from (b.created_at - (select max(r.finished_at) from agent_tasks r
                  where r.workflow_id = b.workflow_id and r.kind = $2 and r.created_at < b.created_at)))::float8 as waited
           from agent_tasks b where b.tenant_id = $1 and b.kind = $3 order by waited`,
        [tenant.tenantId, StepKind.Reboot, StepKind.BootId],
      )
    ).rows.map((r) => Number(r.waited));
    if (unheard.length > 0)
      out(
        `fleet: ${unheard.length} reboot(s) not signalled to the run: it asked the machine for its boot id ${pct(unheard, 50).toFixed(1)} s (median) after the reboot task finished`,
      );
    const bareAfter = await baseline('after');
    const bareRate = (bareBefore.rate + bareAfter.rate) / 2;
    const bareCpu = Object.fromEntries(
      Object.keys(bareBefore.cpu).map((k) => [
        k,
        bareBefore.cpu[k as keyof Cpu] + bareAfter.cpu[k as keyof Cpu],
      ]),
    ) as Cpu;
    const bareSeconds = bareBefore.seconds + bareAfter.seconds;
    const ratio = bareRate / stepRate;
    out(
      `ratio: a bare no-op activity runs ${ratio.toFixed(2)}× the machine-step rate (${bareRate.toFixed(0)} /s, the mean of ${bareBefore.rate.toFixed(0)} before and ${bareAfter.rate.toFixed(0)} after, vs ${stepRate.toFixed(1)} /s) [target: ≤ ${TARGET_RATIO}×] — ${ratio <= TARGET_RATIO ? 'MET' : 'NOT MET'}`,
    );
    out(
      `cpu: fleet run ${(Object.values(cpu).reduce((a, b) => a + b, 0) / fleetSeconds).toFixed(2)} of ${os.cpus().length} cores busy; per machine-step ${cpuPer(cpu, machineSteps)}`,
    );
    out(
      `cpu: baseline ${(Object.values(bareCpu).reduce((a, b) => a + b, 0) / bareSeconds).toFixed(2)} of ${os.cpus().length} cores busy; per bare activity ${cpuPer(bareCpu, 2 * BASELINE_WORKFLOWS * stepsPerMachine)} [PostgreSQL: every backend on the server]`,
    );

    out(
      `temporal: requests per machine-step (api: the server's gRPC API; db/visibility: its persistence): ${requestsPer(requestsBefore, requestsAfter, machineSteps)}`,
    );
    out(`temporal: requests per bare activity: ${bareBefore.requests}`);
    out(`worker: mean latencies during the fleet run: ${workerLatencies(workerBefore, workerAfter)}`);
    out(
      `worker: free slots while the fleet ran (min / median): ${[...slotSamples]
        .map(([k, v]) => {
          const sorted = [...v].sort((a, b) => a - b);
          return `${k.replace(/^.*task_slots_available/, '')} ${sorted[0]} / ${pct(sorted, 50)}`;
        })
        .join(', ')}`,
    );

    // History sizes: every run of the fleet workflow (it continues as new), every machine's run.
    const fleetWorkflowId = `fleet-run:${view.id}`;
    // The chain of runs, newest to oldest: each run's first event names the run it continued.
    const fleetHistories: HistoryFigures[] = [];
    for (
      let runId: string | undefined = (await client.workflow.getHandle(fleetWorkflowId).describe()).runId;
      runId;
      runId = fleetHistories[fleetHistories.length - 1]!.continuedFrom
    )
      fleetHistories.push(await historyOf(client, fleetWorkflowId, runId));
    const biggestFleet = fleetHistories.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const machineHistories = await mapLimit(runs, 8, (r) => historyOf(client, r.workflow_id));
    const byBytes = [...machineHistories].sort((a, b) => a.bytes - b.bytes);
    const biggestMachine = byBytes[byBytes.length - 1]!;
    const within = (h: HistoryFigures) =>
      `${((h.events / EVENT_LIMIT) * 100).toFixed(2)}% of the event limit, ${((h.bytes / BYTE_LIMIT) * 100).toFixed(3)}% of the size limit`;
    out(
      `history: fleetRun, largest of its ${fleetHistories.length} run(s): ${biggestFleet.events} events, ${mb(biggestFleet.bytes)} MB (${within(biggestFleet)}) [limit: ${EVENT_LIMIT} events / 50 MB]`,
    );
    out(
      `history: provisionMachine, largest of ${machineHistories.length}: ${biggestMachine.events} events, ${mb(biggestMachine.bytes)} MB (${within(biggestMachine)}); median ${pct(
        machineHistories.map((h) => h.events).sort((a, b) => a - b),
        50,
      )} events, ${mb(
        pct(
          byBytes.map((h) => h.bytes),
          50,
        ),
      )} MB [limit: ${EVENT_LIMIT} events / 50 MB]`,
    );
    const sortedBy = (f: (h: HistoryFigures) => number) => machineHistories.map(f).sort((a, b) => a - b);
    const firstTasks = sortedBy((h) => h.firstTaskSeconds);
    const lifetimes = sortedBy((h) => h.lifetimeSeconds);
    out(
      `history: provisionMachine timings: start → first workflow task p50 ${pct(firstTasks, 50).toFixed(2)} s, p99 ${pct(firstTasks, 99).toFixed(2)} s; start → close p50 ${pct(lifetimes, 50).toFixed(1)} s, p99 ${pct(lifetimes, 99).toFixed(1)} s`,
    );
    // How full the window really was: machines' runs open at once on average, against the window;
    // and how long workflow tasks waited for the worker (the fleet's own tasks gate every refill).
    const openAtOnce = lifetimes.reduce((a, b) => a + b, 0) / fleetSeconds;
    const waits = (hs: HistoryFigures[]) => hs.flatMap((h) => h.taskWaits).sort((a, b) => a - b);
    const fleetWaits = waits(fleetHistories);
    const machineWaits = waits(machineHistories);
    out(
      `window: ${openAtOnce.toFixed(1)} machine runs open at once on average (window ${CONCURRENCY}); workflow task wait for a worker: fleetRun p50 ${(pct(fleetWaits, 50) * 1000).toFixed(0)} ms, p99 ${(pct(fleetWaits, 99) * 1000).toFixed(0)} ms (${fleetWaits.length} tasks); provisionMachine p50 ${(pct(machineWaits, 50) * 1000).toFixed(0)} ms, p99 ${(pct(machineWaits, 99) * 1000).toFixed(0)} ms (${(machineWaits.length / machineHistories.length).toFixed(1)} tasks per run)`,
    );
    const childStarts = fleetHistories.flatMap((h) => h.childStartWaits).sort((a, b) => a - b);
    if (childStarts.length > 0)
      out(
        `window: a child's start command → the child started p50 ${(pct(childStarts, 50) * 1000).toFixed(0)} ms, p99 ${(pct(childStarts, 99) * 1000).toFixed(0)} ms`,
      );
    const activityTotals = new Map<string, number>();
    for (const h of [...machineHistories, ...fleetHistories])
      for (const [name, n] of h.activities) activityTotals.set(name, (activityTotals.get(name) ?? 0) + n);
    const allActivities = [...activityTotals.values()].reduce((a, b) => a + b, 0);
    out(
      `activities: the fleet scheduled ${allActivities} Temporal activities (${(allActivities / MACHINES).toFixed(1)} per machine: ${[
        ...activityTotals,
      ]
        .map(([name, n]) => `${name} ${n}`)
        .join(
          ', ',
        )}) = ${(allActivities / fleetSeconds).toFixed(1)} activities/s, ${(bareRate / (allActivities / fleetSeconds)).toFixed(2)}× below the bare rate`,
    );
    // PostgreSQL: each database now (after both baselines too), and what the fleet run alone added.
    const sizesEnd = await databaseSizes();
    const kinds = new Map([
      [dbName, 'Drydock'],
      ...(production
        ? [
            [production.databases.temporal, 'Temporal'],
            [production.databases.visibility, 'Temporal visibility'],
          ]
        : []),
    ] as [string, string][]);
    out(
      `postgres: ${[...kinds]
        .map(([db, kind]) => {
          const grew = (sizesAfter.get(db) ?? 0) - (sizesBefore.get(db) ?? 0);
          return `${kind} (${db}) ${mb(sizesEnd.get(db) ?? 0)} MB, the fleet run added ${mb(grew)} MB = ${(grew / 1024 / MACHINES).toFixed(1)} kB per machine`;
        })
        .join(
          '; ',
        )}${production ? '' : '; the dev server keeps Temporal in memory (SQLite): no Temporal database'}`,
    );
  } finally {
    await runCleanup();
    if (stopErrors > 0) out(`bench: the API and worker logged ${stopErrors} error(s) while stopping`);
    out(`bench: done in ${secs(performance.now() - benchStarted)} s; load average now ${loadAverage()}`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
