import type { Client as TemporalClient } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { loadEnv } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';

export async function buildTestApp(
  orm: Orm,
  temporal: TemporalClient,
  databaseUrl: string,
  taskQueue = 'core',
  extraEnv: Record<string, string> = {},
): Promise<FastifyInstance> {
  const env = loadEnv({
    DRYDOCK_ENV: 'test',
    LOG_LEVEL: 'silent',
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...extraEnv,
  });
  return buildApp({ env, orm, temporal, databaseUrl });
}

/** POST a GraphQL operation as a tenant (the development identity honours x-drydock-tenant). */
export async function gql<T = Record<string, unknown>>(
  app: FastifyInstance,
  tenantId: string,
  query: string,
  variables: Record<string, unknown> = {},
  role?: 'viewer' | 'operator' | 'engineer' | 'admin',
): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: {
      'content-type': 'application/json',
      'x-drydock-tenant': tenantId,
      ...(role ? { 'x-drydock-role': role } : {}),
    },
    payload: { query, variables },
  });
  return res.json();
}
