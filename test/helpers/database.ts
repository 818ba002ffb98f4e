import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { deriveAppUrl, withDatabase } from '../../infra/db/database';
import { createOrm, type Orm } from '../../infra/db/orm';
import { adminQuery, dropDatabase, testDbPrefix } from './shared';

export interface TestDatabase {
  name: string;
  /** The table owner's connection (superuser here): bypasses RLS, used to arrange and tamper. */
  adminUrl: string;
  /** The app role's connection: RLS applies. */
  appUrl: string;
  appOrm(): Promise<Orm>;
  adminClient(): Promise<Client>;
  drop(): Promise<void>;
}

/** A fresh database per test file, copied from the migrated template made in global setup. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DRYDOCK_TEST_ADMIN_URL!;
  const template = process.env.DRYDOCK_TEST_TEMPLATE_DB!;
  const name = `${testDbPrefix(process.env.DRYDOCK_TEST_RUN!)}${randomBytes(6).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(serverUrl, `create database "${name}" template "${template}"`);
      break;
    } catch (err) {
      // Two files copying the template at the same instant: PostgreSQL refuses one; try again.
      if (attempt > 20 || !String((err as Error).message).includes('is being accessed by other users'))
        throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  await adminQuery(serverUrl, `grant connect on database "${name}" to drydock_app`);
  const adminUrl = withDatabase(serverUrl, name);
  const orms: Orm[] = [];
  const clients: Client[] = [];
  return {
    name,
    adminUrl,
    appUrl: deriveAppUrl(adminUrl),
    async appOrm() {
      const orm = await createOrm(deriveAppUrl(adminUrl), { pool: { min: 0, max: 25 } });
      orms.push(orm);
      return orm;
    },
    async adminClient() {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      clients.push(client);
      return client;
    },
    async drop() {
      await Promise.all(orms.map((o) => o.close()));
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
      await dropDatabase(serverUrl, name);
    },
  };
}
