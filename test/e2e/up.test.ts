import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { repoRoot } from '../../infra/config/env';
import { cachedCliPath } from '../../infra/temporal/cli';
import { portOpen } from '../../infra/temporal/dev-server';
import { demoTenantId } from '../../infra/db/seed-demo';
import { createSiteWorkflowId } from '../../workflows/sites/contracts';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { signInSession } from '../helpers/auth';
import { freePort } from '../helpers/shared';

jest.setTimeout(180_000);

let db: TestDatabase;
let dataDir: string;
let ports: { api: number; temporal: number; ui: number; idp: number };

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'drydock-up-'));
  // The CLI cache of this data folder holds the binary global setup found, as a first `up` would leave it.
  mkdirSync(path.dirname(cachedCliPath(dataDir)), { recursive: true });
  symlinkSync(process.env.DRYDOCK_TEST_TEMPORAL_CLI!, cachedCliPath(dataDir));
  ports = { api: await freePort(), temporal: await freePort(), ui: await freePort(), idp: await freePort() };
});
afterAll(async () => {
  await db.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Up {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startUp(): Up {
  let output = '';
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DRYDOCK_DATA_DIR: dataDir,
    DATABASE_URL: db.adminUrl,
    API_PORT: String(ports.api),
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    DEV_IDP_PORT: String(ports.idp),
  };
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'drydock.js'), 'up', '--dev-token'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(up: Up, text: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!up.output().includes(text)) {
    if (up.child.exitCode !== null) throw new Error(`drydock up exited early:\n${up.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${up.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The admin API token the running `drydock up --dev-token` printed. */
let token = '';
const tokenOf = (up: Up) => /Admin API token {2}(ddt_\S+)/.exec(up.output())?.[1] ?? '';

async function graphql(query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`http://127.0.0.1:${ports.api}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test reads arbitrary response shapes
  return (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
}

function leftovers(): string {
  try {
    return execFileSync('pgrep', ['-af', dataDir], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

async function stop(up: Up): Promise<void> {
  up.child.kill('SIGINT'); // what Ctrl-C sends
  const code = await up.exited;
  if (code !== 0) throw new Error(`drydock up exited with ${code} on Ctrl-C:\n${up.output().slice(-4000)}`);
  expect(up.output()).toContain('drydock: stopped');
  for (const port of [ports.api, ports.temporal, ports.ui, ports.idp])
    expect(await portOpen('127.0.0.1', port)).toBe(false);
  expect(leftovers()).toBe('');
}

describe('drydock up', () => {
  it('starts everything, serves the URLs, stops cleanly on Ctrl-C, and reuses the CLI and the data the second time', async () => {
    const first = startUp();
    await waitFor(first, 'Press Ctrl-C to stop everything.'); // the last line of the banner: the token is above it
    expect(first.output()).toContain(`Temporal UI      http://127.0.0.1:${ports.ui}`);
    expect(first.output()).toContain(`API + GraphiQL   http://127.0.0.1:${ports.api}/graphql`);
    expect(first.output()).toContain('(cache)');
    expect(first.output()).toContain('demo tenant "demo": seeded');
    // How to sign in as each demo user, and a token for scripts.
    expect(first.output()).toContain(`development OIDC provider http://127.0.0.1:${ports.idp}`);
    expect(first.output()).toMatch(/admin@demo\.test +admin \+ reveal secrets/);
    token = tokenOf(first);
    expect(token).toMatch(/^ddt_/);
    // A real sign-in through the development provider works against the started API.
    const signedIn = await signInSession(`http://127.0.0.1:${ports.api}`, 'operator@demo.test');
    const me = await fetch(`http://127.0.0.1:${ports.api}/auth/session`, {
      headers: { cookie: signedIn.cookie },
    });
    expect(await me.json()).toMatchObject({ role: 'operator', user: { email: 'operator@demo.test' } });
    // The demo fleet: simulated machines enrolled over real HTTP.
    await waitFor(first, 'harness: enrolled 5, pending 0, failed 0');
    const machines = await graphql('{ machines { hostname status } }');
    expect(machines.data!.machines).toHaveLength(5);

    const health = await fetch(`http://127.0.0.1:${ports.api}/healthz`);
    expect(health.status).toBe(200);
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
    expect(ui.status).toBe(200);
    const graphiql = await fetch(`http://127.0.0.1:${ports.api}/graphql`, {
      headers: { accept: 'text/html' },
    });
    expect(await graphiql.text()).toContain('<title>Drydock GraphiQL</title>');

    const fleet = await graphql('{ tenant { id clients { id sites { code } } } }');
    expect(fleet.data!.tenant.id).toBe(demoTenantId('demo'));
    const clientId = fleet.data!.tenant.clients[0].id;
    const created = await graphql('mutation($i: CreateSiteInput!) { createSite(input: $i) { code } }', {
      i: { clientId, code: 'PERSIST-1', name: 'Survives restarts' },
    });
    expect(created).toEqual({ data: { createSite: { code: 'PERSIST-1' } } });
    await stop(first);

    const second = startUp();
    await waitFor(second, 'Press Ctrl-C to stop everything.');
    token = tokenOf(second);
    expect(second.output()).toContain('(cache)');
    expect(second.output()).not.toContain('building the Temporal CLI');
    expect(second.output()).toContain('demo tenant "demo": present');
    expect(second.output()).toContain('migrations: up to date');
    // The same fleet comes back with its own agent keys: no new rows, though the site key rotated.
    await waitFor(second, 'harness: enrolled 5, pending 0, failed 0');
    const again = await graphql('{ machines { id } }');
    expect(again.errors).toBeUndefined();
    expect(again.data!.machines).toHaveLength(5);
    const sites = await graphql('{ sites { code } }');
    expect(sites.data!.sites.map((s: { code: string }) => s.code)).toContain('PERSIST-1');
    // Temporal kept its history in the data folder too.
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const description = await new Client({ connection }).workflow
        .getHandle(createSiteWorkflowId(demoTenantId('demo'), 'PERSIST-1'))
        .describe();
      expect(description.status.name).toBe('COMPLETED');
    } finally {
      await connection.close();
    }
    await stop(second);
  });
});

/** The pid `drydock up` printed for one of the processes it supervises (the newest). */
function pidOf(up: Up, name: string): number {
  const matches = [...up.output().matchAll(new RegExp(`drydock: ${name} running \\(pid (\\d+)\\)`, 'g'))];
  if (matches.length === 0) throw new Error(`no pid for ${name}:\n${up.output()}`);
  return Number(matches[matches.length - 1]![1]);
}

async function healthy(): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${ports.api}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => Promise<boolean>, up: Up, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (up.child.exitCode !== null) throw new Error(`drydock up exited:\n${up.output()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not happen:\n${up.output()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('drydock up supervises what it starts', () => {
  it('restarts a killed worker, API and Temporal dev server, and keeps running when the demo fleet exits', async () => {
    const up = startUp();
    try {
      await waitFor(up, 'Press Ctrl-C to stop everything.');
      token = tokenOf(up);
      await waitFor(up, 'harness: enrolled 5');

      // The simulated fleet ends (killed): the stack stays and says so.
      process.kill(pidOf(up, 'simulated fleet'), 'SIGKILL');
      await waitFor(up, 'the simulated fleet exited');
      expect(await healthy()).toBe(true);

      for (const name of ['worker', 'API', 'Temporal dev server']) {
        const before = up.output().split(`the ${name} is back`).length;
        process.kill(pidOf(up, name), 'SIGKILL');
        await waitFor(up, `the ${name} stopped`);
        await until(
          `${name} restart`,
          async () => up.output().split(`the ${name} is back`).length > before,
          up,
        );
      }
      // Everything answers again: the API is healthy (Temporal included) and a workflow runs on the worker.
      await until('health', healthy, up);
      const fleet = await graphql('{ tenant { clients { id } } }');
      const created = await graphql('mutation($i: CreateSiteInput!) { createSite(input: $i) { code } }', {
        i: { clientId: fleet.data!.tenant.clients[0].id, code: 'AFTER-KILLS', name: 'After the kills' },
      });
      expect(created).toEqual({ data: { createSite: { code: 'AFTER-KILLS' } } });
    } finally {
      await stop(up);
    }
  });
});
