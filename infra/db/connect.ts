import type { Env } from '../config/env';
import { ConfigError } from '../config/env';
import { StartupError } from '../config/fatal';
import { connectOrExplain, deriveAppUrl, describeUrl } from './database';
import { createOrm, type Orm } from './orm';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/drydock';

/** The owner connection (migrations, maintenance). */
export function adminDatabaseUrl(env: Env): string {
  return env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
}

/** The app connection: DATABASE_APP_URL, or in development the app role on DATABASE_URL's server. */
export function appDatabaseUrl(env: Env): string {
  if (env.DATABASE_APP_URL) return env.DATABASE_APP_URL;
  if (env.DRYDOCK_ENV === 'production') {
    throw new ConfigError(
      'invalid DATABASE_APP_URL: required in production (a role that owns no tables, see docs/adr/0003)',
    );
  }
  return deriveAppUrl(adminDatabaseUrl(env));
}

/** Opens the ORM after checking PostgreSQL answers, so a bad URL is one clear line. */
export async function openAppOrm(url: string): Promise<Orm> {
  const probe = await connectOrExplain(url);
  const { rows } = await probe.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
    'select rolsuper, rolbypassrls from pg_roles where rolname = current_user',
  );
  await probe.end();
  if (rows[0]?.rolsuper || rows[0]?.rolbypassrls) {
    throw new StartupError(
      `the app connection to ${describeUrl(url)} uses a role that bypasses row-level security`,
    );
  }
  return createOrm(url);
}
