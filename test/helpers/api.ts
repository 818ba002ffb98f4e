import type { Client as TemporalClient } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { loadEnv, serverSecret } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';
import { mintApiToken } from './auth';

type RoleName = 'viewer' | 'operator' | 'engineer' | 'admin';

/** What `gql` needs to mint tokens for an app built here: its database and its server secret. */
const appCredentials = new WeakMap<
  FastifyInstance,
  { orm: Orm; secret: string; tokens: Map<string, Promise<string>> }
>();

export async function buildTestApp(
  orm: Orm,
  temporal: TemporalClient,
  databaseUrl: string,
  taskQueue = 'core',
  extraEnv: Record<string, string> = {},
  /** Where the API's log goes (a test that reads it); none by default (LOG_LEVEL silent). */
  logStream?: NodeJS.WritableStream,
): Promise<FastifyInstance> {
  const env = loadEnv({
    DRYDOCK_ENV: 'test',
    LOG_LEVEL: 'silent',
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...extraEnv,
  });
  const app = await buildApp({ env, orm, temporal, databaseUrl, ...(logStream ? { logStream } : {}) });
  appCredentials.set(app, { orm, secret: serverSecret(env), tokens: new Map() });
  return app;
}

/**
 * A bearer token for a tenant and role on an app built by buildTestApp: a real API token, minted
 * once per (tenant, role) and reused. Admin tokens also reveal secrets (as the tests' admin did).
 */
export function tokenFor(app: FastifyInstance, tenantId: string, role: RoleName = 'admin'): Promise<string> {
  const creds = appCredentials.get(app);
  if (!creds) throw new Error('gql needs an app built by buildTestApp');
  const key = `${tenantId}:${role}`;
  let token = creds.tokens.get(key);
  if (!token) {
    token = mintApiToken(creds.orm, tenantId, role, { secret: creds.secret });
    creds.tokens.set(key, token);
  }
  return token;
}

/** POST a GraphQL operation as a tenant with a role (default admin), authenticated by an API token. */
export async function gql<T = Record<string, unknown>>(
  app: FastifyInstance,
  tenantId: string,
  query: string,
  variables: Record<string, unknown> = {},
  role?: RoleName,
): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await tokenFor(app, tenantId, role)}`,
    },
    payload: { query, variables },
  });
  return res.json();
}
