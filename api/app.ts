import type { Client as TemporalClient } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Env } from '../infra/config/env';
import type { Orm } from '../infra/db/orm';
import { NotifyHub } from './agent-channel/notify-hub';
import { graphqlRoutes } from './routes/graphql';
import { v1Routes } from './routes/v1';
import { healthzRoutes } from './routes/healthz';

export interface AppInput {
  env: Env;
  orm: Orm;
  temporal: TemporalClient;
  /** The app role's URL, for the LISTEN connection that wakes long-polls. */
  databaseUrl: string;
}

export interface AppDeps extends AppInput {
  /** Wakes long-polls on task and revocation notices (one LISTEN connection per process). */
  hub: NotifyHub;
}

/** Builds the API without listening, so tests can use `app.inject`. */
export async function buildApp(
  input: AppInput,
  options: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: input.env.LOG_LEVEL, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    bodyLimit: 1024 * 1024,
    // Idle keep-alive sockets (agents between polls) must not hold up a shutdown.
    forceCloseConnections: true,
    ...options,
  });
  const hub = new NotifyHub(input.databaseUrl, app.log);
  await hub.start();
  const deps: AppDeps = { ...input, hub };
  await app.register(healthzRoutes, deps);
  await app.register(graphqlRoutes, deps);
  await app.register(v1Routes, { ...deps, prefix: '/v1' });
  // Before the server stops accepting: end the long-polls (they answer 204 and the agents poll again).
  app.addHook('preClose', async () => deps.hub.close());
  return app;
}
