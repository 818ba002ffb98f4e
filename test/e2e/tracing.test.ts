import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { Harness } from '../../agent/harness/harness';
import { repoRoot } from '../../infra/config/env';
import { mintApiToken } from '../helpers/auth';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/shared';

/**
 * Tracing (ADR 0040) across real processes: `drydock api` and `drydock worker` export to an OTLP/HTTP
 * collector (a small receiver here), and one GraphQL request that starts a workflow is one trace —
 * the API's HTTP span, the Temporal client's start, the workflow and its activity, and for a step
 * on a machine the machine's work (an agent over real HTTP), from delivery to result.
 */
jest.setTimeout(300_000);

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}

let db: TestDatabase;
let tenant: TenantFixture;
let collector: Server;
const spans: Span[] = [];
const children: ChildProcess[] = [];
let apiPort: number;
let logs = '';
let token: string;
let harness: Harness | undefined;
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'drydock-tracing-'));

beforeAll(async () => {
  db = await createTestDatabase();
  const orm = await db.appOrm();
  tenant = await createTenant(orm);
  token = await mintApiToken(orm, tenant.tenantId, 'admin');
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] };
            scopeSpans: { spans: Omit<Span, 'service'>[] }[];
          }[];
        };
        for (const rs of doc.resourceSpans) {
          const service =
            rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const collectorPort = await freePort();
  await new Promise<void>((r) => collector.listen(collectorPort, '127.0.0.1', r));
  apiPort = await freePort();
  const taskQueue = `tracing-${randomUUID()}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DRYDOCK_ENV: 'development',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.adminUrl,
    TEMPORAL_ADDRESS: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: taskQueue,
    API_PORT: String(apiPort),
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
  };
  for (const command of ['worker', 'api']) {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'drydock.js'), command], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    children.push(child);
  }
  await until(() => logs.includes('polling task queue') && logs.includes(`${apiPort}`), 180_000);
});
afterAll(async () => {
  await harness?.stop();
  rmSync(stateDir, { recursive: true, force: true });
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)),
  );
  collector?.close();
  await db.drop();
});

async function until(ok: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not reached\n${whatCame()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * For a failure: the spans that arrived, and the processes' output without the idle long-polls
 * (an agent polling every 5 s would bury the rest).
 */
function whatCame(): string {
  const idle = (l: string) =>
    l.includes('"url":"/v1/agent/tasks?wait=') ||
    (l.includes('"statusCode":204') && Number(/"responseTime":(\d+)/.exec(l)?.[1] ?? 0) >= 1000);
  const lines = logs.split('\n').filter((l) => !idle(l));
  return [
    `spans: ${spans.map((s) => `${s.service} ${s.name} ${s.traceId.slice(0, 8)}`).join('; ')}`,
    `process output (idle polls left out):`,
    ...lines,
  ].join('\n');
}

/** A GraphQL operation against the API process, as the test tenant's admin. */
async function graphql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const answer = (await res.json()) as { data?: T; errors?: unknown };
  expect(answer.errors).toBeUndefined();
  return answer.data!;
}

/** Every span of the trace descends from its root. */
function expectOneTree(trace: Span[], root: Span): void {
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  for (const s of trace) {
    let at: Span | undefined = s;
    while (at?.parentSpanId) at = byId.get(at.parentSpanId);
    expect(at?.spanId).toBe(root.spanId);
  }
}

it('follows a GraphQL request into the workflow it starts and that workflow’s activity, in one trace', async () => {
  await until(
    async () => (await fetch(`http://127.0.0.1:${apiPort}/healthz`).catch(() => null))?.ok === true,
  );
  await graphql(
    'mutation($c: ID!) { createSite(input: { clientId: $c, code: "TRACED-1", name: "Traced" }) { id } }',
    { c: tenant.clientId },
  );

  // Each process exports in batches of its own: the API's request span may come after the worker's.
  const activity = () => spans.find((s) => s.name.startsWith('RunActivity:insertSite'));
  const traceOf = (span: Span) => spans.filter((s) => s.traceId === span.traceId);
  await until(() => {
    const a = activity();
    return (
      a !== undefined && traceOf(a).some((s) => s.service === 'drydock-api' && s.name.startsWith('POST'))
    );
  }, 90_000);
  const trace = traceOf(activity()!);
  const names = trace.map((s) => `${s.service} ${s.name}`);
  expect(names).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^drydock-api POST/),
      'drydock-api StartWorkflow:createSite',
      'drydock-worker RunWorkflow:createSite',
      'drydock-worker StartActivity:insertSite',
      'drydock-worker RunActivity:insertSite',
    ]),
  );
  // The HTTP span is the root: every other span of the trace descends from it.
  const root = trace.find((s) => s.service === 'drydock-api' && s.name.startsWith('POST'))!;
  expect(root.parentSpanId ?? '').toBe('');
  expectOneTree(trace, root);
  // The API's log lines of that request carry the trace's id.
  expect(logs).toContain(`"trace_id":"${root.traceId}"`);
});

it('puts the machine’s work on a step into the trace of the request that asked for it', async () => {
  const { rotateEnrollmentKey: key } = await graphql<{
    rotateEnrollmentKey: { key: string; fingerprint: string };
  }>('mutation($s: ID!) { rotateEnrollmentKey(siteId: $s) { key fingerprint } }', { s: tenant.siteId });
  harness = new Harness({
    apiUrl: `http://127.0.0.1:${apiPort}`,
    siteCode: tenant.siteCode,
    enrollmentKey: key.key,
    fingerprint: key.fingerprint,
    machines: 1,
    stateDir,
    pollSeconds: 5,
  });
  harness.start();
  expect((await harness.waitForEnrollment()).enrolled).toBe(1);
  const machineId = harness.machines[0]!.agent.machineId!;
  await graphql('mutation($m: ID!) { collectInventory(machineId: $m) }', { m: machineId });

  // The processes export in batches of their own: wait until the step's span and every ancestor
  // up to the request's have arrived.
  const rootOf = (span: Span | undefined): Span | undefined => {
    let at = span;
    while (at?.parentSpanId) at = spans.find((s) => s.spanId === at!.parentSpanId);
    return at;
  };
  await until(() => {
    const w = spans.find((s) => s.name === 'AgentTask:inventory.collect');
    return rootOf(w)?.name.startsWith('POST') === true;
  }, 90_000);
  const work = spans.find((s) => s.name === 'AgentTask:inventory.collect')!;
  await new Promise((r) => setTimeout(r, 2000)); // the rest of the trace's last batches
  const trace = spans.filter((s) => s.traceId === work.traceId);
  const root = trace.find((s) => s.service === 'drydock-api' && s.name.startsWith('POST'))!;
  expect(root).toBeDefined();
  expectOneTree(trace, root);
  // The machine's work hangs under the activity that dispatched the step.
  const parent = trace.find((s) => s.spanId === work.parentSpanId)!;
  expect(`${parent.service} ${parent.name}`).toBe('drydock-worker RunActivity:dispatchAgentTask');
  expect(work.service).toBe('drydock-api');
});
