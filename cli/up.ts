import path from 'node:path';
import { loadEnv, publicUrl, type Env } from '../infra/config/env';
import { issueApiToken } from '../api/auth/api-tokens';
import { DEMO_PASSWORD, DEMO_USERS } from '../infra/auth/demo-users';
import { spawnDevIdp } from '../infra/auth/dev-idp-process';
import { Role } from '../infra/db/entities';
import { StartupError } from '../infra/config/fatal';
import { createOrm } from '../infra/db/orm';
import { deriveAppUrl, migrate, DEV_APP_PASSWORD } from '../infra/db/database';
import { DEMO_SITE_CODE, seedDemoSignIn, seedDemoTenant } from '../infra/db/seed-demo';
import { rotateEnrollmentKey, type IssuedEnrollmentKey } from '../infra/db/enrollment-keys';
import { SiteSchema } from '../infra/db/entities';
import { withTenant } from '../infra/db/orm';
import { serverSecret } from '../infra/config/env';
import { resolvePostgres, type ResolvedPostgres } from '../infra/postgres/resolve';
import { ensureTemporalCli } from '../infra/temporal/cli';
import { connectTemporal } from '../infra/temporal/connection';
import { startDevServer } from '../infra/temporal/dev-server';
import {
  clientTlsEnv,
  ensureTemporalServer,
  ensureTemporalTls,
  setupTemporalSchemas,
  startProductionServer,
  startTemporalUi,
} from '../infra/temporal/production-server';
import { temporalSecurity } from '../infra/temporal/tls';
import { ensurePortalBuilt } from '../portal/build';
import { API_NODE_FLAGS, spawnEntry, stopChild } from './processes';
import { Supervised } from './supervise';
import { assertIdentitySafe } from '../infra/config/safety';

const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * `drydock up`: PostgreSQL, the Temporal dev server with its UI, migrations, the demo tenant,
 * the worker and the API; waits until all are healthy, prints the URLs, and on Ctrl-C stops
 * everything it started, in reverse order.
 */
export async function up(opts: {
  demo: boolean;
  fleet: number;
  devToken?: boolean;
  production?: boolean;
}): Promise<void> {
  const env = loadEnv();
  assertIdentitySafe(env);
  const started: { stop(): Promise<void>; name: string }[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('drydock: stopping…');
    for (const item of started.reverse()) {
      try {
        await item.stop();
      } catch (err) {
        say(`drydock: stopping ${item.name} failed: ${(err as Error).message}`);
      }
    }
    say('drydock: stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  process.on('SIGHUP', () => void stopAll(0));

  try {
    const pg: ResolvedPostgres = await resolvePostgres(env, say);
    started.push({ name: 'PostgreSQL', stop: pg.stop });
    say(`drydock: PostgreSQL: ${pg.source}`);
    const appPassword = env.DATABASE_APP_URL ? undefined : DEV_APP_PASSWORD;
    const { applied } = await migrate(pg.adminUrl, { appPassword });
    say(`drydock: migrations: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}`);

    if (opts.production && env.TEMPORAL_ADDRESS)
      throw new StartupError(
        '--production starts its own Temporal server: unset TEMPORAL_ADDRESS, or leave out --production',
      );
    let temporalTls: Record<string, string> = {};
    let temporalAddress: string;
    if (opts.production) {
      const production = await startProductionTemporal(env, pg.adminUrl, started);
      temporalAddress = production.address;
      temporalTls = production.tlsEnv;
    } else {
      temporalAddress = env.TEMPORAL_ADDRESS ?? (await startTemporal(env, started));
      if (env.TEMPORAL_ADDRESS)
        await (await connectTemporal(env.TEMPORAL_ADDRESS, 5000, temporalSecurity(env))).close();
    }

    // Outside production, with no provider configured: the development OIDC provider and its demo users.
    let devIssuer: string | undefined;
    if (!env.OIDC_ISSUER && env.DRYDOCK_ENV !== 'production') {
      const idp = await spawnDevIdp({
        port: env.DEV_IDP_PORT,
        redirectUris: [`${publicUrl(env)}/auth/callback`],
        log: (line) => say(`[dev-idp] ${line}`),
      });
      started.push({ name: 'development OIDC provider', stop: idp.stop });
      devIssuer = idp.issuer;
      say(`drydock: development OIDC provider: ${devIssuer}`);
    }

    let demoKey: IssuedEnrollmentKey | undefined;
    let devToken: string | undefined;
    if (opts.demo || devIssuer) {
      const orm = await createOrm(env.DATABASE_APP_URL ?? deriveAppUrl(pg.adminUrl), {
        pool: { min: 0, max: 2 },
      });
      try {
        const { created, tenantId } = await seedDemoTenant(orm, env.DRYDOCK_DEMO_TENANT);
        // The demo users sign in to the demo tenant (and a second one) through the development provider.
        if (devIssuer) await seedDemoSignIn(orm, env.DRYDOCK_DEMO_TENANT, devIssuer);
        if (opts.devToken && env.DRYDOCK_ENV !== 'production')
          devToken = await withTenant(orm, tenantId, async (em) => {
            const issued = await issueApiToken(em, serverSecret(env), {
              tenantId,
              name: `drydock up ${new Date().toISOString()}`,
              role: Role.Admin,
              canRevealSecrets: true,
              expiresAt: new Date(Date.now() + 24 * 3600 * 1000),
              createdBy: 'system:drydock-up',
            });
            return issued.token;
          });
        say(`drydock: demo tenant "${env.DRYDOCK_DEMO_TENANT}": ${created ? 'seeded' : 'present'}`);
        // A fresh key for the demo site each start; the simulated fleet keeps its agent keys.
        if (opts.demo)
          demoKey = await withTenant(orm, tenantId, async (em) =>
            rotateEnrollmentKey(
              em,
              await em.findOneOrFail(SiteSchema, { code: DEMO_SITE_CODE }),
              'system:drydock-up',
              serverSecret(env),
            ),
          );
      } finally {
        await orm.close();
      }
    }

    // The portal the API serves at `/`: built here when missing or older than its sources.
    ensurePortalBuilt((line) => say(`drydock: ${line}`));

    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: pg.adminUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      ...temporalTls,
      DRYDOCK_ENV: env.DRYDOCK_ENV,
      ...(devIssuer ? { OIDC_ISSUER: devIssuer } : {}),
    };
    const fatal = () => void stopAll(1);
    const entry =
      (name: string, file: string, env: NodeJS.ProcessEnv, flags: string[] = []) =>
      async () => {
        const child = spawnEntry(name, file, env, say, flags);
        return { process: child, stop: () => stopChild(child) };
      };
    // Supervised: a crashed worker or API comes back with back-off; the stack does not stop.
    const worker = new Supervised('worker', entry('worker', 'workers/main.ts', childEnv), {
      say,
      restart: true,
      onFatal: fatal,
    });
    await worker.run();
    started.push({ name: 'worker', stop: () => worker.stop() });
    const api = new Supervised('API', entry('api', 'api/main.ts', childEnv, API_NODE_FLAGS), {
      say,
      restart: true,
      onFatal: fatal,
    });
    await api.run();
    started.push({ name: 'API', stop: () => api.stop() });

    const base = `http://${env.API_HOST}:${env.API_PORT}`;
    await waitHealthy(`${base}/healthz`, 120_000);
    if (demoKey && opts.fleet > 0) {
      // The demo's simulated machines: if they stop (a rotated key before they enrolled, say), the
      // stack keeps running and says so.
      const fleet = new Supervised(
        'simulated fleet',
        entry('fleet', 'cli/harness-entry.ts', {
          ...childEnv,
          DRYDOCK_ENROLLMENT_KEY: demoKey.key,
          DRYDOCK_ENROLLMENT_FINGERPRINT: demoKey.fingerprint,
          DRYDOCK_HARNESS_ARGS: JSON.stringify([
            '--machines',
            String(opts.fleet),
            '--site',
            DEMO_SITE_CODE,
            '--stay',
          ]),
        }),
        { say, restart: false },
      );
      await fleet.run();
      started.push({ name: 'simulated fleet', stop: () => fleet.stop() });
    }
    say('');
    say('Drydock is up.');
    say(`  Portal           ${publicUrl(env)}/  (sign in: ${publicUrl(env)}/auth/login)`);
    say(`  API + GraphiQL   ${base}/graphql  (signed in, or with an API token)`);
    say(`  Health           ${base}/healthz`);
    say(
      `  Temporal UI      ${env.TEMPORAL_ADDRESS ? '(your cluster’s)' : `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`}`,
    );
    say(
      `  Temporal gRPC    ${temporalAddress}${opts.production ? ' (production server on PostgreSQL, mTLS)' : ''}`,
    );
    if (opts.production)
      say(
        `  Temporal TLS     ${Object.entries(temporalTls)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    say(`  PostgreSQL       ${redact(pg.adminUrl)}`);
    if (demoKey)
      say(
        `  Demo site        ${DEMO_SITE_CODE}, enrollment key ${demoKey.fingerprint}, ${opts.fleet} simulated machine(s)`,
      );
    if (devIssuer) {
      say(`  Sign in          development OIDC provider ${devIssuer}, password "${DEMO_PASSWORD}" for all:`);
      for (const user of DEMO_USERS)
        say(
          `                     ${user.email.padEnd(20)} ${user.role}${user.canRevealSecrets ? ' + reveal secrets' : ''}${user.scoped ? ', one client only' : ''}${user.idpTenant === 'other' ? ' (tenant "other")' : ''}`,
        );
    }
    if (devToken)
      say(`  Admin API token  ${devToken}  (24 h; curl -H "Authorization: Bearer …" ${base}/graphql)`);
    say('Press Ctrl-C to stop everything.');
  } catch (err) {
    say(`drydock: ${(err as Error).message.split('\n')[0]}`);
    await stopAll(1);
  }
}

async function startTemporal(env: Env, started: { stop(): Promise<void>; name: string }[]): Promise<string> {
  const cli = await ensureTemporalCli({
    dataDir: env.DRYDOCK_DATA_DIR,
    explicitPath: env.TEMPORAL_CLI_PATH,
    log: say,
  });
  say(`drydock: Temporal CLI: ${cli.path} (${cli.source})`);
  const options = {
    cliPath: cli.path,
    port: env.TEMPORAL_PORT,
    uiPort: env.TEMPORAL_UI_PORT,
    dbFile: path.join(env.DRYDOCK_DATA_DIR, 'temporal', 'dev.sqlite'),
    namespace: env.TEMPORAL_NAMESPACE,
    detached: true,
  };
  // Supervised like the worker and the API: a dead dev server comes back on its SQLite file (the
  // worker and the API reconnect by themselves), instead of leaving an unhealthy API behind.
  const temporal = new Supervised('Temporal dev server', () => startDevServer(options), {
    say,
    restart: true,
  });
  await temporal.run();
  started.push({ name: 'Temporal dev server', stop: () => temporal.stop() });
  const server = { address: `127.0.0.1:${env.TEMPORAL_PORT}` };
  // The gRPC port opens before the frontend serves; wait until a client really connects.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await (await connectTemporal(server.address, 2000)).close();
      return server.address;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * `--production`: the Temporal server built from Go modules, on this PostgreSQL (databases
 * `temporal` and `temporal_visibility`), mTLS on its frontend with certificates made once in the
 * data folder; supervised like the dev server.
 */
async function startProductionTemporal(
  env: Env,
  adminUrl: string,
  started: { stop(): Promise<void>; name: string }[],
): Promise<{ address: string; tlsEnv: Record<string, string> }> {
  const cli = await ensureTemporalCli({
    dataDir: env.DRYDOCK_DATA_DIR,
    explicitPath: env.TEMPORAL_CLI_PATH,
    log: say,
  });
  const build = await ensureTemporalServer({ dataDir: env.DRYDOCK_DATA_DIR, log: say });
  say(`drydock: Temporal server: ${build.server}`);
  const url = new URL(adminUrl);
  const pgTarget = {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  await setupTemporalSchemas(build, pgTarget, undefined, (line) => say(`drydock: ${line}`));
  const tls = await ensureTemporalTls(path.join(env.DRYDOCK_DATA_DIR, 'temporal-production', 'tls'));
  const options = {
    build,
    cliPath: cli.path,
    dir: path.join(env.DRYDOCK_DATA_DIR, 'temporal-production'),
    pg: pgTarget,
    port: env.TEMPORAL_PORT,
    tls,
    namespace: env.TEMPORAL_NAMESPACE,
  };
  const temporal = new Supervised('Temporal server', () => startProductionServer(options), {
    say,
    restart: true,
  });
  await temporal.run();
  started.push({ name: 'Temporal server', stop: () => temporal.stop() });
  const ui = new Supervised(
    'Temporal UI',
    () =>
      startTemporalUi({
        build,
        dir: path.join(env.DRYDOCK_DATA_DIR, 'temporal-production', 'ui'),
        frontendPort: env.TEMPORAL_PORT,
        port: env.TEMPORAL_UI_PORT,
        tls,
        namespace: env.TEMPORAL_NAMESPACE,
      }),
    { say, restart: true },
  );
  await ui.run();
  started.push({ name: 'Temporal UI', stop: () => ui.stop() });
  return { address: `127.0.0.1:${env.TEMPORAL_PORT}`, tlsEnv: clientTlsEnv(tls) };
}

async function waitHealthy(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new StartupError(`the API did not become healthy within ${timeoutMs / 1000} s (${last})`);
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
