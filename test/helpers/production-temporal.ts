import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { portOpen } from '../../infra/temporal/dev-server';
import {
  clientTlsEnv,
  ensureTemporalServer,
  ensureTemporalTls,
  setupTemporalSchemas,
  startProductionServer,
} from '../../infra/temporal/production-server';
import { dropDatabase } from './shared';

/** A block of free ports: the production server uses its frontend port and a few above it. */
export async function freePortBlock(): Promise<number> {
  for (;;) {
    // The server stores membership ports as a signed smallint: the whole block stays under 32768.
    const base = 20_000 + Math.floor(Math.random() * 4_000) * 3;
    const offsets = [0, 1, 2, 3, 10, 11, 12, 13, 20];
    const free = await Promise.all(offsets.map((o) => portOpen('127.0.0.1', base + o).then((open) => !open)));
    if (free.every(Boolean)) return base;
  }
}

export interface TestProductionTemporal {
  address: string;
  process: ChildProcess;
  /** TEMPORAL_TLS_* for Drydock's processes (and this one) to connect with the client certificate. */
  tlsEnv: Record<string, string>;
  /** The server's two PostgreSQL databases (dropped by stop()). */
  databases: { temporal: string; visibility: string };
  stop(): Promise<void>;
}

/**
 * The production Temporal server (issue 18) for a test run or a bench: built once from Go modules,
 * on PostgreSQL databases of its own (`<prefix>_<id>` and `<prefix>_vis_<id>`), with mTLS, on a free
 * port block. Used by test/global-setup.ts (DRYDOCK_TEST_TEMPORAL=production) and by
 * test/bench/provisioning.bench.ts (BENCH_TEMPORAL=production).
 */
export async function startTestProductionServer(opts: {
  dataDir: string;
  adminUrl: string;
  cliPath: string;
  /** Folder for its config, working files and certificates. */
  dir: string;
  /** Distinguishes this server's databases from other runs' (a pid). */
  id: string;
  /** PostgreSQL connections per pool (max_connections is shared with whatever else runs). */
  maxConns: { store: number; visibility: number };
  /** Serve the server's Prometheus metrics on 127.0.0.1:<port>/metrics. */
  metricsPort?: number;
  /** The frontend's port (the block above it too): a restart of the same server. Default: a free block. */
  port?: number;
  log?: (line: string) => void;
}): Promise<TestProductionTemporal> {
  const build = await ensureTemporalServer({ dataDir: opts.dataDir, log: opts.log });
  const url = new URL(opts.adminUrl);
  const pgTarget = {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  const databases = { temporal: `temporal_t${opts.id}`, visibility: `temporal_vis_t${opts.id}` };
  await setupTemporalSchemas(build, pgTarget, databases);
  const tls = await ensureTemporalTls(path.join(opts.dir, 'temporal-tls'));
  const server = await startProductionServer({
    build,
    cliPath: opts.cliPath,
    dir: path.join(opts.dir, `temporal-production-${opts.id}`),
    pg: pgTarget,
    port: opts.port ?? (await freePortBlock()),
    tls,
    databases,
    namespace: 'default',
    maxConns: opts.maxConns,
    ...(opts.metricsPort ? { metricsPort: opts.metricsPort } : {}),
  });
  return {
    address: server.address,
    process: server.process,
    tlsEnv: clientTlsEnv(tls),
    databases,
    async stop() {
      await server.stop();
      for (const db of Object.values(databases)) await dropDatabase(opts.adminUrl, db);
    },
  };
}
