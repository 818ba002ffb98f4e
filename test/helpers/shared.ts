import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { repoRoot } from '../../infra/config/env';
import { withDatabase } from '../../infra/db/database';

export const TEMPLATE_PREFIX = 'drydock_test_template_';
/** Test databases of this run: `drydock_t_<run>_<random>`, so concurrent runs never touch each other's. */
export const testDbPrefix = (run: string) => `drydock_t_${run}_`;
export const runDir = path.join(repoRoot, '.drydock', 'test-run');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function adminQuery<T extends object = Record<string, unknown>>(
  adminUrl: string,
  sql: string,
  params: unknown[] = [],
) {
  const client = new Client({ connectionString: withDatabase(adminUrl, 'postgres') });
  await client.connect();
  try {
    return await client.query<T>(sql, params);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await adminQuery(adminUrl, `drop database if exists "${name.replace(/"/g, '')}" with (force)`);
}

export async function dropTestDatabases(adminUrl: string, run: string): Promise<void> {
  // starts_with, not LIKE: `_` is a LIKE wildcard and would match other runs' names.
  const { rows } = await adminQuery<{ datname: string }>(
    adminUrl,
    'select datname from pg_database where starts_with(datname, $1)',
    [testDbPrefix(run)],
  );
  for (const row of rows) await dropDatabase(adminUrl, row.datname);
}
