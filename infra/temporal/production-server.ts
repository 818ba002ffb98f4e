import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  cpSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { StartupError } from '../config/fatal';
import { searchAttributeKeys } from '../../workflows/search-attributes';
import { portOpen, versioningDynamicConfig } from './dev-server';

const run = promisify(execFile);

/**
 * A production Temporal server on PostgreSQL, built from Go modules like the CLI (issue 18,
 * ADR 0045): `temporal-server` and `temporal-sql-tool` of go.temporal.io/server at the version the
 * pinned CLI's dev server embeds, the schemas of that same version, a config with mTLS on the
 * frontend, and the namespace with Drydock's search attributes. Nothing is downloaded at run time
 * beyond what the Go module proxy serves for the one-time build.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';

export const TEMPORAL_UI_VERSION = 'v2.42.1';
export const TEMPORAL_UI_MODULE = 'github.com/temporalio/ui-server/v2';

export interface TemporalServerBuild {
  server: string;
  sqlTool: string;
  /** The Temporal UI server (the web UI the CLI's dev server embeds), of the CLI's version. */
  ui: string;
  /** schema/postgresql/v12 of the same version: temporal/ and visibility/, each with versioned/. */
  schemaDir: string;
}

const isExecutable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export function serverBinDir(dataDir: string): string {
  return path.join(dataDir, 'bin', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

const tail = (err: unknown) =>
  String((err as { stderr?: string }).stderr ?? (err as Error).message)
    .trim()
    .split('\n')
    .slice(-3)
    .join(' | ');

/** Builds (once) or finds the server, its SQL tool and its schemas under the data folder. */
export async function ensureTemporalServer(opts: {
  dataDir: string;
  log?: (line: string) => void;
  goLocations?: string[];
}): Promise<TemporalServerBuild> {
  const dir = serverBinDir(opts.dataDir);
  const build: TemporalServerBuild = {
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    ui: path.join(dir, 'temporal-ui-server'),
    schemaDir: path.join(dir, 'schema', 'postgresql', 'v12'),
  };
  if (
    isExecutable(build.server) &&
    isExecutable(build.sqlTool) &&
    isExecutable(build.ui) &&
    existsSync(build.schemaDir)
  )
    return build;
  const go = ['go', ...(opts.goLocations ?? ['/usr/local/go/bin/go'])].find(
    (g) => g === 'go' || isExecutable(g),
  )!;
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  opts.log?.(
    `building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool from Go modules (once; cached in ${dir})`,
  );
  const goEnv = {
    ...process.env,
    GOBIN: staging,
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOFLAGS: '-mod=mod',
  };
  try {
    await run(
      go,
      [
        'install',
        `${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`,
        `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
      ],
      { env: goEnv, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new StartupError(
      missing
        ? 'the Temporal server is built from Go modules: install Go 1.25 or newer so `go` is on PATH'
        : `building the Temporal server failed: ${tail(err)}`,
    );
  }
  renameSync(path.join(staging, 'server'), path.join(staging, 'temporal-server'));
  // The UI's command is also called `server`: built into a folder of its own, then renamed.
  const uiStaging = path.join(staging, 'ui');
  try {
    await run(go, ['install', `${TEMPORAL_UI_MODULE}/cmd/server@${TEMPORAL_UI_VERSION}`], {
      env: { ...goEnv, GOBIN: uiStaging },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new StartupError(`building the Temporal UI server failed: ${tail(err)}`);
  }
  renameSync(path.join(uiStaging, 'server'), path.join(staging, 'temporal-ui-server'));
  rmSync(uiStaging, { recursive: true, force: true });
  renameSync(path.join(staging, 'sql'), path.join(staging, 'temporal-sql-tool'));
  // The schemas of the same version, from the module the build just used.
  const { stdout } = await run(go, ['env', 'GOMODCACHE'], { env: goEnv });
  const moduleDir = path.join(stdout.trim(), `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`);
  cpSync(
    path.join(moduleDir, 'schema', 'postgresql', 'v12'),
    path.join(staging, 'schema', 'postgresql', 'v12'),
    {
      recursive: true,
    },
  );
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return build;
}

export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
}

/**
 * Creates the `temporal` and `temporal_visibility` databases when missing and brings both schemas
 * to the build's version (`update-schema` applies only what is new, so this runs on every start).
 */
export async function setupTemporalSchemas(
  build: TemporalServerBuild,
  pg: PostgresTarget,
  databases = { temporal: 'temporal', visibility: 'temporal_visibility' },
  log?: (line: string) => void,
): Promise<void> {
  const base = ['--plugin', 'postgres12', '--ep', pg.host, '-p', String(pg.port), '-u', pg.user];
  const env = { ...process.env, ...(pg.password ? { SQL_PASSWORD: pg.password } : {}) };
  const tool = (db: string, args: string[]) =>
    run(build.sqlTool, [...base, '--db', db, ...args], { env, maxBuffer: 16 * 1024 * 1024 });
  for (const [kind, db] of [
    ['temporal', databases.temporal],
    ['visibility', databases.visibility],
  ] as const) {
    await tool(db, ['create-database']).catch((err: unknown) => {
      if (!/already exists/i.test(tail(err)))
        throw new StartupError(`creating database ${db} failed: ${tail(err)}`);
    });
    // The version table is what setup-schema creates; a second setup would fail on it.
    await tool(db, ['setup-schema', '-v', '0.0']).catch((err: unknown) => {
      if (!/already exists/i.test(tail(err))) throw new StartupError(`setting up ${db} failed: ${tail(err)}`);
    });
    await tool(db, ['update-schema', '-d', path.join(build.schemaDir, kind, 'versioned')]).catch(
      (err: unknown) => {
        throw new StartupError(`updating the ${db} schema failed: ${tail(err)}`);
      },
    );
    log?.(`Temporal database ${db}: schema up to date`);
  }
}

export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * A private CA, a frontend certificate for 127.0.0.1/localhost and a client certificate, made once
 * with openssl (Debian's) into `dir`. For a single-host installation; a cluster uses its own PKI.
 */
export async function ensureTemporalTls(dir: string): Promise<TlsFiles> {
  const files: TlsFiles = {
    ca: path.join(dir, 'ca.pem'),
    serverCert: path.join(dir, 'frontend.pem'),
    serverKey: path.join(dir, 'frontend.key'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client.key'),
  };
  if (Object.values(files).every((f) => existsSync(f))) return files;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const openssl = (args: string[]) =>
    run('openssl', args).catch((err: unknown) => {
      throw new StartupError(`openssl failed (${args[0]}): ${tail(err)}`);
    });
  const caKey = path.join(dir, 'ca.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    caKey,
    '-out',
    files.ca,
    '-days',
    '3650',
    '-subj',
    '/CN=Drydock Temporal CA',
  ]);
  for (const [cert, key, cn, ext] of [
    [
      files.serverCert,
      files.serverKey,
      'localhost',
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth',
    ],
    [files.clientCert, files.clientKey, 'drydock', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    const csr = `${cert}.csr`;
    const extFile = `${cert}.ext`;
    writeFileSync(extFile, `${ext}\n`);
    await openssl(['req', '-new', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      files.ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '825',
      '-extfile',
      extFile,
    ]);
    rmSync(csr);
    rmSync(extFile);
  }
  return files;
}

export interface ProductionServerOptions {
  build: TemporalServerBuild;
  /** Where the config goes (and the server's working files). */
  dir: string;
  pg: PostgresTarget;
  /** The frontend's port; history, matching and worker use the next three, membership +10…+13, HTTP +20. */
  port: number;
  tls: TlsFiles;
  databases?: { temporal: string; visibility: string };
  numHistoryShards?: number;
  /** PostgreSQL connections of the server's pools (default 20 for the store, 4 for visibility). */
  maxConns?: { store: number; visibility: number };
  /** Serve the server's Prometheus metrics on 127.0.0.1:<port>/metrics; none when omitted. */
  metricsPort?: number;
}

const yamlString = (s: string) => JSON.stringify(s);

/** The server's config: PostgreSQL persistence and visibility, mTLS on the frontend, loopback only. */
export function productionConfig(opts: ProductionServerOptions): string {
  const db = opts.databases ?? { temporal: 'temporal', visibility: 'temporal_visibility' };
  const store = (name: string, conns: number) => `      sql:
        pluginName: "postgres12"
        databaseName: ${yamlString(name)}
        connectAddr: ${yamlString(`${opts.pg.host}:${opts.pg.port}`)}
        connectProtocol: "tcp"
        user: ${yamlString(opts.pg.user)}
        password: ${yamlString(opts.pg.password ?? '')}
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: "1h"`;
  const p = opts.port;
  const service = (grpc: number, membership: number, http?: number) => `    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnIP: "127.0.0.1"${http ? `\n      httpPort: ${http}` : ''}`;
  const tls = opts.tls;
  return `# Written by drydock (infra/temporal/production-server.ts); edit the code, not this file.
log:
  stdout: true
  level: warn

persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ${opts.numHistoryShards ?? 4}
  datastores:
    default:
${store(db.temporal, opts.maxConns?.store ?? 20)}
    visibility:
${store(db.visibility, opts.maxConns?.visibility ?? 4)}

global:${
    opts.metricsPort
      ? `
  metrics:
    prometheus:
      timerType: "histogram"
      listenAddress: "127.0.0.1:${opts.metricsPort}"`
      : ''
  }
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  tls:
    # Services present the internode certificate to each other, and to the frontend (which asks
    # every client for one): it is a client certificate too.
    internode:
      server:
        certFile: ${yamlString(tls.serverCert)}
        keyFile: ${yamlString(tls.serverKey)}
        requireClientAuth: true
        clientCaFiles: [${yamlString(tls.ca)}]
      client:
        serverName: "localhost"
        rootCaFiles: [${yamlString(tls.ca)}]
    frontend:
      server:
        certFile: ${yamlString(tls.serverCert)}
        keyFile: ${yamlString(tls.serverKey)}
        requireClientAuth: true
        clientCaFiles: [${yamlString(tls.ca)}]
      client:
        serverName: "localhost"
        rootCaFiles: [${yamlString(tls.ca)}]

services:
  frontend:
${service(p, p + 10, p + 20)}
  history:
${service(p + 1, p + 11)}
  matching:
${service(p + 2, p + 12)}
  worker:
${service(p + 3, p + 13)}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "localhost:${p}"
      httpAddress: "localhost:${p + 20}"

dcRedirectionPolicy:
  policy: "noop"

archival:
  history:
    state: "disabled"
  visibility:
    state: "disabled"

namespaceDefaults:
  archival:
    history:
      state: "disabled"
    visibility:
      state: "disabled"

dynamicConfigClient:
  filepath: ${yamlString(path.join(opts.dir, 'dynamicconfig.yaml'))}
  pollInterval: "60s"
`;
}

export interface ProductionServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Environment for Drydock's processes to reach this server with its client certificate. */
export function clientTlsEnv(tls: TlsFiles): Record<string, string> {
  return {
    TEMPORAL_TLS_CA: tls.ca,
    TEMPORAL_TLS_CERT: tls.clientCert,
    TEMPORAL_TLS_KEY: tls.clientKey,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
  };
}

/** The CLI's flags for this server (namespace and search attributes are set up with it). */
export function cliTlsArgs(tls: TlsFiles): string[] {
  return [
    '--tls-ca-path',
    tls.ca,
    '--tls-cert-path',
    tls.clientCert,
    '--tls-key-path',
    tls.clientKey,
    '--tls-server-name',
    'localhost',
  ];
}

/**
 * Starts the server on its config and resolves once the frontend answers; then makes sure the
 * namespace exists with Drydock's search attributes (idempotent: on every start).
 */
export async function startProductionServer(
  opts: ProductionServerOptions & { cliPath: string; namespace: string; retentionDays?: number },
  readyTimeoutMs = 120_000,
): Promise<ProductionServer> {
  mkdirSync(opts.dir, { recursive: true });
  // Cluster membership keeps ports in a PostgreSQL smallint: the block (port … port+20) must fit.
  if (opts.port + 20 > 32767)
    throw new StartupError(
      `TEMPORAL_PORT=${opts.port} is too high for the production server: it uses ports up to TEMPORAL_PORT+20, which must stay below 32768`,
    );
  if (await portOpen('127.0.0.1', opts.port))
    throw new StartupError(
      `port 127.0.0.1:${opts.port} is already in use; stop what holds it or set TEMPORAL_PORT`,
    );
  // The server reads <root>/config/<env>.yaml.
  mkdirSync(path.join(opts.dir, 'config'), { recursive: true });
  writeFileSync(path.join(opts.dir, 'config', 'production.yaml'), productionConfig(opts), { mode: 0o600 });
  const dynamic = path.join(opts.dir, 'dynamicconfig.yaml');
  // As the dev server is run (ADR 0012): no cluster-metadata read on every search-attribute read.
  // Worker Deployment Versioning (ADR 0049), explicit as on the dev server.
  writeFileSync(
    dynamic,
    'system.forceSearchAttributesCacheRefreshOnRead:\n  - value: false\n' +
      versioningDynamicConfig.map((setting) => `${setting}:\n  - value: true\n`).join(''),
  );
  const args = ['--root', opts.dir, '--config', 'config', '--env', 'production', '--allow-no-auth', 'start'];
  const child = spawn(opts.build.server, args, {
    cwd: opts.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // Its log goes to stdout (config: log.stdout); kept for the error if it exits.
  let stderr = '';
  const keep = (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const cli = (args: string[]) =>
    run(opts.cliPath, [...args, '--address', `127.0.0.1:${opts.port}`, ...cliTlsArgs(opts.tls)], {
      maxBuffer: 4 * 1024 * 1024,
    });
  const deadline = Date.now() + readyTimeoutMs;
  // The frontend answers before its namespace registry has loaded, and a new namespace reaches its
  // cache a few seconds after it was created: retry the whole (idempotent) setup until it holds.
  for (;;) {
    if (child.exitCode !== null)
      throw new StartupError(
        `the Temporal server exited (${child.exitCode}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
      );
    try {
      if (!(await portOpen('127.0.0.1', opts.port))) throw new Error('the frontend port is not open yet');
      await ensureNamespace(cli, opts.namespace, opts.retentionDays ?? 3);
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new StartupError(
          `the Temporal server did not become ready within ${readyTimeoutMs} ms: ${tail(err)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return { address: `127.0.0.1:${opts.port}`, process: child, stop };
}

/** The namespace with Drydock's search attributes (keywords the workflows set: ADR 0012). */
async function ensureNamespace(
  cli: (args: string[]) => Promise<{ stdout: string }>,
  namespace: string,
  retentionDays: number,
): Promise<void> {
  await cli(['operator', 'namespace', 'describe', '--namespace', namespace]).catch(async (err: unknown) => {
    if (!/not found|NotFound/i.test(tail(err))) throw err;
    await cli([
      'operator',
      'namespace',
      'create',
      '--namespace',
      namespace,
      '--retention',
      `${retentionDays * 24}h`,
    ]);
  });
  const { stdout } = await cli([
    'operator',
    'search-attribute',
    'list',
    '--namespace',
    namespace,
    '-o',
    'json',
  ]);
  for (const key of searchAttributeKeys) {
    if (stdout.includes(`"${key.name}"`)) continue;
    await cli([
      'operator',
      'search-attribute',
      'create',
      '--namespace',
      namespace,
      '--name',
      key.name,
      '--type',
      cliType[key.type]!,
    ]);
  }
  // Stored is not yet usable: the frontend's search-attribute cache learns new keys a few seconds
  // later (a workflow started meanwhile fails "Failed to start Workflow"). A query naming every key
  // is refused until the cache has them all: until then the server is not ready.
  await cli([
    'workflow',
    'list',
    '--namespace',
    namespace,
    '--limit',
    '1',
    '--query',
    searchAttributeKeys.map((key) => `${key.name} = "readiness-check"`).join(' AND '),
  ]);
}

/**
 * The Temporal UI on `port`, talking to the frontend with the client certificate; loopback only
 * (put it behind the MSP's own sign-in proxy to expose it: docs/operations.md).
 */
export async function startTemporalUi(
  opts: {
    build: TemporalServerBuild;
    dir: string;
    frontendPort: number;
    port: number;
    tls: TlsFiles;
    namespace: string;
  },
  readyTimeoutMs = 60_000,
): Promise<ProductionServer> {
  mkdirSync(path.join(opts.dir, 'config'), { recursive: true });
  writeFileSync(
    path.join(opts.dir, 'config', 'production.yaml'),
    `# Written by drydock (infra/temporal/production-server.ts).
temporalGrpcAddress: ${yamlString(`127.0.0.1:${opts.frontendPort}`)}
host: "127.0.0.1"
port: ${opts.port}
enableUi: true
defaultNamespace: ${yamlString(opts.namespace)}
notifyOnNewVersion: false
tls:
  caFile: ${yamlString(opts.tls.ca)}
  certFile: ${yamlString(opts.tls.clientCert)}
  keyFile: ${yamlString(opts.tls.clientKey)}
  serverName: "localhost"
  enableHostVerification: true
`,
  );
  const child = spawn(
    opts.build.ui,
    ['--root', opts.dir, '--config', 'config', '--env', 'production', 'start'],
    {
      cwd: opts.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await portOpen('127.0.0.1', opts.port))) {
    if (child.exitCode !== null)
      throw new StartupError(
        `the Temporal UI server exited (${child.exitCode}): ${stderr.trim().split('\n').pop()}`,
      );
    if (Date.now() > deadline) {
      await stop();
      throw new StartupError(`the Temporal UI server did not answer on 127.0.0.1:${opts.port}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return { address: `http://127.0.0.1:${opts.port}`, process: child, stop };
}

const cliType: Record<string, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};
