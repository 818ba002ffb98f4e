import { Client } from 'pg';
import { StartupError } from '../config/fatal';
import { createOrm } from './orm';
import { findRlsProblems } from './rls-check';
import { APP_ROLE } from './roles';

/** Development default for the app role's password when DATABASE_APP_URL is not given. */
export const DEV_APP_PASSWORD = 'drydock_app';

export function describeUrl(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
}

/** The app's connection: same server and database as DATABASE_URL, as the RLS-bound app role. */
export function deriveAppUrl(adminUrl: string, password = DEV_APP_PASSWORD): string {
  const u = new URL(adminUrl);
  u.username = APP_ROLE;
  u.password = password;
  return u.toString();
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** Connects or throws one StartupError line naming the server and the reason. */
export async function connectOrExplain(url: string): Promise<Client> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    return client;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new StartupError(
      `cannot reach PostgreSQL at ${describeUrl(url)}: ${e.message || e.code}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}`,
    );
  }
}

/** Creates the database named in `adminUrl` if it does not exist yet. */
export async function ensureDatabase(adminUrl: string, template?: string): Promise<void> {
  const name = databaseName(adminUrl);
  const client = await connectOrExplain(withDatabase(adminUrl, 'postgres'));
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) {
      const ident = client.escapeIdentifier(name);
      await client.query(
        `create database ${ident}${template ? ` template ${client.escapeIdentifier(template)}` : ''}`,
      );
    }
  } catch (err) {
    // Two processes racing to create the same database: the loser finds it there.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await client.end();
  }
}

export interface MigrateResult {
  applied: string[];
}

/**
 * Applies pending migrations as DATABASE_URL's role (the table owner), lets the app role log in
 * (with `appPassword` when given), then refuses to finish if any tenant table lacks forced RLS.
 */
export async function migrate(adminUrl: string, opts: { appPassword?: string } = {}): Promise<MigrateResult> {
  await ensureDatabase(adminUrl);
  const orm = await createOrm(adminUrl, { pool: { min: 0, max: 2 } });
  let applied: string[];
  try {
    applied = (await orm.getMigrator().up()).map((m) => m.name);
  } finally {
    await orm.close();
  }
  const client = await connectOrExplain(adminUrl);
  try {
    const db = client.escapeIdentifier(databaseName(adminUrl));
    if (opts.appPassword !== undefined) {
      await client.query(`alter role ${APP_ROLE} login password ${client.escapeLiteral(opts.appPassword)}`);
    }
    await client.query(`grant connect on database ${db} to ${APP_ROLE}`);
    const problems = await findRlsProblems(client);
    if (problems.length > 0) {
      throw new StartupError(
        `row-level security check failed: ${problems.map((p) => `${p.table} ${p.problem}`).join('; ')}`,
      );
    }
  } finally {
    await client.end();
  }
  return { applied };
}
