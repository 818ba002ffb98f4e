import type { Client as TemporalClient } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { serverSecret, type Env } from '../infra/config/env';
import { defaultMaxConnections } from '../infra/config/limits';
import type { Orm } from '../infra/db/orm';
import type { ApiMetrics } from '../infra/observability/metrics';
import { traceFields } from '../infra/observability/tracing';
import { DeliverySweep } from './agent-channel/delivery-sweep';
import { NotifyHub } from './agent-channel/notify-hub';
import { registerCsrfCheck } from './auth/csrf';
import { authRoutes } from './routes/auth';
import { graphqlRoutes } from './routes/graphql';
import { v1Routes } from './routes/v1';
import { healthzRoutes } from './routes/healthz';
import { installerDownloadRoutes } from './routes/installer-downloads';
import { portalRoutes } from './routes/portal';

export interface AppInput {
  env: Env;
  orm: Orm;
  temporal: TemporalClient;
  /** The app role's URL, for the LISTEN connection that wakes long-polls. */
  databaseUrl: string;
  /** Prometheus instruments (served by api/main.ts on API_METRICS_ADDRESS); none in most tests. */
  metrics?: ApiMetrics;
  /** Where log lines go (default stdout); tests read them to prove what is never logged. */
  logStream?: NodeJS.WritableStream;
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
  const { env } = input;
  const app = Fastify({
    logger: {
      level: env.LOG_LEVEL,
      ...(input.logStream ? { stream: input.logStream } : {}),
      redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-drydock-csrf"]'],
      // Each line carries the active trace's ids (none unless tracing is on: ADR 0040).
      mixin: traceFields,
      // The sign-in callback's query carries the authorization code and state, a one-time installer
      // link its token (ADR 0043): never logged.
      serializers: {
        req: (req: { method: string; url: string; hostname?: string; ip?: string }) => ({
          method: req.method,
          url: req.url.startsWith('/auth/callback')
            ? '/auth/callback?<redacted>'
            : req.url.startsWith('/installers/once/')
              ? `${req.url.split('?', 1)[0]}?<redacted>`
              : req.url,
          host: req.hostname,
          remoteAddress: req.ip,
        }),
      },
    },
    // Routes set their own, smaller limits (/v1 64 KiB, /graphql 64 KiB); nothing needs more.
    bodyLimit: 64 * 1024,
    // Idle keep-alive sockets (agents between polls) must not hold up a shutdown.
    forceCloseConnections: true,
    // Slow clients: the whole request (headers and body) within 30 s; a socket silent for longer
    // than the longest long-poll plus a margin is closed (docs/SECURITY.md).
    requestTimeout: 30_000,
    connectionTimeout: (env.AGENT_POLL_MAX_SECONDS + 30) * 1000,
    keepAliveTimeout: 65_000,
    // The client address is the socket's unless a proxy is named (the enrollment guard counts it).
    trustProxy: env.API_TRUST_PROXY ? env.API_TRUST_PROXY.split(',').map((p) => p.trim()) : false,
    // Validate, never repair: no silent type coercion, unknown fields are an error, not dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Malformed URLs are refused by the router before any plugin: answer them in /v1's format too.
    frameworkErrors: (error, request, reply) => {
      const status = (error as { statusCode?: number }).statusCode ?? 400;
      const body = request.url.startsWith('/v1/')
        ? { error: { code: 'BAD_REQUEST', message: 'malformed request URL' } }
        : { error: 'Bad Request', message: 'malformed request URL' };
      void (reply as FastifyReply).code(status).type('application/json').send(body);
    },
    ...options,
  });
  // Sockets beyond this are refused at once: a flood can never use up the descriptors the API
  // needs for PostgreSQL and Temporal, and /healthz keeps answering (docs/SECURITY.md).
  app.server.maxConnections = env.API_MAX_CONNECTIONS ?? defaultMaxConnections();
  app.server.headersTimeout = 10_000;
  const hub = new NotifyHub(input.databaseUrl, app.log);
  await hub.start();
  const deps: AppDeps = { ...input, hub };
  const sweep = new DeliverySweep({
    orm: input.orm,
    temporal: input.temporal,
    log: app.log,
    intervalMs: env.AGENT_DELIVERY_SWEEP_SECONDS * 1000,
  });
  sweep.start();
  const { metrics } = input;
  if (metrics) metrics.longPollsOpen = () => hub.waiting;
  if (metrics)
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      metrics.requests.inc({ route, method, status: `${Math.floor(reply.statusCode / 100)}xx` });
      if (route !== '/v1/agent/tasks')
        metrics.requestSeconds.observe({ route, method }, reply.elapsedTime / 1000);
    });
  // Before any route: a state-changing request on the session cookie needs its CSRF token.
  registerCsrfCheck(app, serverSecret(env));
  await app.register(healthzRoutes, deps);
  await app.register(authRoutes, deps);
  await app.register(graphqlRoutes, deps);
  await app.register(v1Routes, { ...deps, prefix: '/v1' });
  await app.register(installerDownloadRoutes, deps);
  // The portal at `/` (and its client routes), on the root instance, after every API route.
  await portalRoutes(app, env);
  // Before the server stops accepting: end the long-polls (they answer 204 and the agents poll again).
  app.addHook('preClose', async () => {
    await sweep.stop();
    await deps.hub.close();
  });
  return app;
}
