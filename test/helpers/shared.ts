import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { repoRoot } from '../../infra/config/env';
import { withDatabase } from '../../infra/db/database';

export const TEMPLATE_PREFIX = 'drydock_test_template_';
export const TEST_DB_PREFIX = 'drydock_t_';
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

export async function dropTestDatabases(adminUrl: string): Promise<void> {
  const { rows } = await adminQuery<{ datname: string }>(
    adminUrl,
    `select datname from pg_database where datname like '${TEST_DB_PREFIX}%'`,
  );
  for (const row of rows) await dropDatabase(adminUrl, row.datname);
}
