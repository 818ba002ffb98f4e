import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadEnv } from '../infra/config/env';
import { migrate, withDatabase, ensureDatabase, DEV_APP_PASSWORD } from '../infra/db/database';
import { resolvePostgres } from '../infra/postgres/resolve';
import { ensureTemporalCli } from '../infra/temporal/cli';
import { startDevServer } from '../infra/temporal/dev-server';
import { ensurePortalBuilt } from '../portal/build';
import { workflowsPath } from '../workers/core-worker';
import { startTestProductionServer } from './helpers/production-temporal';
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
  let server: { address: string; stop(): Promise<void> };
  if (production) {
    const productionServer = await startTestProductionServer({
      dataDir: env.DRYDOCK_DATA_DIR,
      adminUrl: pg.adminUrl,
      cliPath: cli.path,
      dir: runDir,
      id: String(process.pid),
      // Test files open pools of their own on the same PostgreSQL (max_connections 100).
      maxConns: { store: 8, visibility: 2 },
      log: (line) => process.stdout.write(`\n${line}\n`),
    });
    // Test files and the processes they spawn (workers, APIs) connect with the client certificate.
    Object.assign(process.env, productionServer.tlsEnv);
    server = productionServer;
  } else server = await startDevServer({ cliPath: cli.path, port: await freePort(), headless: true });

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

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string) => process.stderr.write(`${message}\n`),
};
