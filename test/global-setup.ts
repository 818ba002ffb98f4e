import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadEnv } from '../infra/config/env';
import { migrate, withDatabase, ensureDatabase, DEV_APP_PASSWORD } from '../infra/db/database';
import { resolvePostgres } from '../infra/postgres/resolve';
import { ensureTemporalCli } from '../infra/temporal/cli';
import { portOpen, startDevServer } from '../infra/temporal/dev-server';
import {
  clientTlsEnv,
  ensureTemporalServer,
  ensureTemporalTls,
  setupTemporalSchemas,
  startProductionServer,
} from '../infra/temporal/production-server';
import { ensurePortalBuilt } from '../portal/build';
import { workflowsPath } from '../workers/core-worker';
import { dropDatabase, freePort, runDir, TEMPLATE_PREFIX } from './helpers/shared';

/**
 * Once per test run: a real Temporal dev server (in memory, on a free port), a migrated template
 * database that each test file copies, and the workflow bundle. Handed to test files through env.
 */
export default async function globalSetup(): Promise<void> {
  const env = loadEnv({ ...process.env, DRYDOCK_ENV: 'test' });
  const started = Date.now();
  mkdirSync(runDir, { recursive: true });

  const pg = await resolvePostgres(env);
  const template = `${TEMPLATE_PREFIX}${process.pid}`;
  const templateUrl = withDatabase(pg.adminUrl, template);
  await dropDatabase(pg.adminUrl, template);
  await ensureDatabase(templateUrl);
  await migrate(templateUrl, { appPassword: DEV_APP_PASSWORD });

  const cli = await ensureTemporalCli({
    dataDir: env.DRYDOCK_DATA_DIR,
    explicitPath: env.TEMPORAL_CLI_PATH,
    log: (line) => process.stdout.write(`\n${line}\n`),
  });
  // DRYDOCK_TEST_TEMPORAL=production: the production server on PostgreSQL with mTLS (issue 18),
  // in databases of this run, instead of the in-memory dev server.
  const production = process.env.DRYDOCK_TEST_TEMPORAL === 'production';
  const server = production
    ? await startTestProductionServer(env.DRYDOCK_DATA_DIR, pg.adminUrl, cli.path)
    : await startDevServer({ cliPath: cli.path, port: await freePort(), headless: true });

  // The browser tests load the portal the API serves: build it when missing or stale (ADR 0035).
  ensurePortalBuilt((line) => process.stdout.write(`\n${line}\n`));

  const bundle = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  const bundlePath = path.join(runDir, `workflow-bundle-${process.pid}.js`);
  writeFileSync(bundlePath, bundle.code);

  Object.assign(process.env, {
    DRYDOCK_TEST_ADMIN_URL: pg.adminUrl,
    DRYDOCK_TEST_TEMPLATE_DB: template,
    DRYDOCK_TEST_RUN: String(process.pid),
    DRYDOCK_TEST_TEMPORAL_ADDRESS: server.address,
    DRYDOCK_TEST_TEMPORAL_CLI: cli.path,
    DRYDOCK_TEST_BUNDLE: bundlePath,
  });
  (globalThis as Record<string, unknown>).__drydockTest = { server, pg, template, production };
  writeFileSync(path.join(runDir, 'setup.json'), JSON.stringify({ seconds: (Date.now() - started) / 1000 }));
}

/** A block of free ports: the production server uses its frontend port and a few above it. */
async function freePortBlock(): Promise<number> {
  for (;;) {
    // The server stores membership ports as a signed smallint: the whole block stays under 32768.
    const base = 20_000 + Math.floor(Math.random() * 4_000) * 3;
    const offsets = [0, 1, 2, 3, 10, 11, 12, 13, 20];
    const free = await Promise.all(offsets.map((o) => portOpen('127.0.0.1', base + o).then((open) => !open)));
    if (free.every(Boolean)) return base;
  }
}

async function startTestProductionServer(dataDir: string, adminUrl: string, cliPath: string) {
  const build = await ensureTemporalServer({ dataDir, log: (line) => process.stdout.write(`\n${line}\n`) });
  const url = new URL(adminUrl);
  const pgTarget = {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  const databases = { temporal: `temporal_t${process.pid}`, visibility: `temporal_vis_t${process.pid}` };
  await setupTemporalSchemas(build, pgTarget, databases);
  const tls = await ensureTemporalTls(path.join(runDir, 'temporal-tls'));
  const server = await startProductionServer({
    build,
    cliPath,
    dir: path.join(runDir, `temporal-production-${process.pid}`),
    pg: pgTarget,
    port: await freePortBlock(),
    tls,
    databases,
    namespace: 'default',
    // Test files open pools of their own on the same PostgreSQL (max_connections 100).
    maxConns: { store: 8, visibility: 2 },
  });
  // Test files and the processes they spawn (workers, APIs) connect with the client certificate.
  Object.assign(process.env, clientTlsEnv(tls));
  return {
    address: server.address,
    async stop() {
      await server.stop();
      for (const db of Object.values(databases)) await dropDatabase(adminUrl, db);
    },
  };
}

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string) => process.stderr.write(`${message}\n`),
};
