import closeWithGrace from 'close-with-grace';
import { loadEnv } from '../infra/config/env';
import { exitOnStartupError } from '../infra/config/fatal';
import { appDatabaseUrl, openAppOrm } from '../infra/db/connect';
import { temporalClient } from '../infra/temporal/connection';
import { temporalSecurity } from '../infra/temporal/tls';
import { buildApp } from './app';
import { startTracing } from '../infra/observability/tracing';
import { temporalTracing } from '../infra/observability/temporal-tracing';
import { ApiMetrics, serveMetrics } from '../infra/observability/metrics';
import { runCounts } from '../infra/db/run-counts';
import { assertIdentitySafe } from '../infra/config/safety';

/** The API process: `drydock api`. */
export async function runApi(): Promise<void> {
  const env = loadEnv();
  assertIdentitySafe(env);
  const tracing = startTracing('drydock-api', env);
  const databaseUrl = appDatabaseUrl(env);
  const orm = await openAppOrm(databaseUrl);
  const temporal = await temporalClient(
    env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.TEMPORAL_PORT}`,
    env.TEMPORAL_NAMESPACE,
    tracing ? [temporalTracing(tracing)] : [],
    temporalSecurity(env),
  ).catch(async (err) => {
    await orm.close();
    throw err;
  });
  const metrics = env.API_METRICS_ADDRESS ? new ApiMetrics({ runCounts: runCounts(orm) }) : undefined;
  const app = await buildApp({ env, orm, temporal, databaseUrl, ...(metrics ? { metrics } : {}) });
  const metricsServer =
    metrics && env.API_METRICS_ADDRESS
      ? await serveMetrics(env.API_METRICS_ADDRESS, metrics.registry)
      : undefined;
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    metricsServer?.close();
    await app.close();
    await temporal.connection.close();
    await orm.close();
    await tracing?.shutdown();
  });
  try {
    await app.listen({ host: env.API_HOST, port: env.API_PORT });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(
      e.code === 'EADDRINUSE'
        ? `port ${env.API_HOST}:${env.API_PORT} is already in use; set API_PORT`
        : e.message,
    );
  }
}

if (require.main === module) runApi().catch((err) => exitOnStartupError('api', err));
