import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StartupError } from '../config/fatal';
import { searchAttributeKeys } from '../../workflows/search-attributes';

export interface DevServerOptions {
  cliPath: string;
  port: number;
  uiPort?: number;
  /** SQLite file; omitted = in-memory (tests). */
  dbFile?: string;
  namespace?: string;
  ip?: string;
  headless?: boolean;
  /** Own process group, so a terminal's Ctrl-C does not reach it before its owner stops it. */
  detached?: boolean;
  /** Serve Prometheus metrics on this port (`/metrics`); none when omitted. */
  metricsPort?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

function supportsFlag(cliPath: string, flag: string): boolean {
  try {
    return execFileSync(cliPath, ['server', 'start-dev', '--help'], { encoding: 'utf8' }).includes(flag);
  } catch {
    return false;
  }
}

/** Dynamic config both Temporal servers get for Worker Deployment Versioning (ADR 0049). */
export const versioningDynamicConfig = [
  'system.enableDeploymentVersions',
  'frontend.workerVersioningWorkflowAPIs',
] as const;

export function devServerArgs(opts: DevServerOptions): string[] {
  const ip = opts.ip ?? '127.0.0.1';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(opts.port), '--log-level', 'error'];
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.metricsPort) args.push('--metrics-port', String(opts.metricsPort));
  if (opts.headless) args.push('--headless');
  else args.push('--ui-ip', ip, '--ui-port', String(opts.uiPort ?? opts.port + 1000));
  // v1.5.1 has no switch for the UI's news feed (the browser fetches it); newer CLIs do.
  if (!opts.headless && supportsFlag(opts.cliPath, '--ui-disable-news-fetch'))
    args.push('--ui-disable-news-fetch');
  // Registered with the namespace before the services start, so their caches load them cold...
  for (const key of searchAttributeKeys) args.push('--search-attribute', `${key.name}=${cliType[key.type]}`);
  // ...and need no re-read of the cluster metadata on every search-attribute read, which the CLI
  // turns on for attributes added at run time (Drydock adds none) and which costs the server a
  // database read per workflow task, start and upsert (ADR 0012).
  args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false');
  // Worker Deployment Versioning (ADR 0049): the 1.29 defaults, set so a changed default cannot
  // turn off what versioned workers and `drydock deploy` rely on.
  for (const setting of versioningDynamicConfig) args.push('--dynamic-config-value', `${setting}=true`);
  return args;
}

export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Starts `temporal server start-dev` and resolves once its gRPC port and (if any) UI port answer. */
export async function startDevServer(opts: DevServerOptions, readyTimeoutMs = 60_000): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  if (await portOpen(ip, opts.port)) {
    throw new StartupError(
      `port ${ip}:${opts.port} is already in use; stop what holds it or set TEMPORAL_PORT`,
    );
  }
  if (opts.dbFile) mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const child = spawn(opts.cliPath, devServerArgs(opts), {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: opts.detached ?? false,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + readyTimeoutMs;
  const uiPort = opts.headless ? undefined : (opts.uiPort ?? opts.port + 1000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new StartupError(
        `the Temporal dev server exited (${child.exitCode}): ${stderr.trim().split('\n').pop()}`,
      );
    }
    const grpc = await portOpen(ip, opts.port);
    const ui = uiPort === undefined || (await portOpen(ip, uiPort));
    if (grpc && ui) break;
    if (Date.now() > deadline) {
      await stop();
      throw new StartupError(
        `the Temporal dev server did not answer on ${ip}:${opts.port} within ${readyTimeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address: `${ip}:${opts.port}`,
    uiUrl: uiPort === undefined ? undefined : `http://${ip}:${uiPort}`,
    process: child,
    stop,
  };
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
