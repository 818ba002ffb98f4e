import type { Client as TemporalClient } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Env } from '../infra/config/env';
import type { Orm } from '../infra/db/orm';
import { graphqlRoutes } from './routes/graphql';
import { healthzRoutes } from './routes/healthz';

export interface AppDeps {
  env: Env;
  orm: Orm;
  temporal: TemporalClient;
}

/** Builds the API without listening, so tests can use `app.inject`. */
export async function buildApp(deps: AppDeps, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.env.LOG_LEVEL, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    bodyLimit: 1024 * 1024,
    ...options,
  });
  await app.register(healthzRoutes, deps);
  await app.register(graphqlRoutes, deps);
  return app;
}
