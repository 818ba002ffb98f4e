import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadEnv } from '../infra/config/env';
import { exitOnStartupError } from '../infra/config/fatal';
import { appDatabaseUrl, openAppOrm } from '../infra/db/connect';
import { temporalClient } from '../infra/temporal/connection';
import { temporalSecurity } from '../infra/temporal/tls';
import { ensureRetentionSchedule } from '../infra/temporal/schedules';
import { createCoreWorker } from './core-worker';
import { startTracing } from '../infra/observability/tracing';

/** The worker process: `drydock worker`. Shuts down cleanly on SIGINT/SIGTERM (Temporal's Runtime handles them). */
export async function runWorker(): Promise<void> {
  const env = loadEnv();
  const tracing = startTracing('drydock-worker', env);
  Runtime.install({
    logger: new DefaultLogger(env.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN'),
    ...(env.WORKER_METRICS_ADDRESS
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: env.WORKER_METRICS_ADDRESS } } } }
      : {}),
  });
  const security = temporalSecurity(env);
  const orm = await openAppOrm(appDatabaseUrl(env));
  const address = env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.TEMPORAL_PORT}`;
  const { worker, connection, version } = await createCoreWorker({
    address,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    orm,
    env,
    ...(env.WORKFLOW_BUNDLE_PATH ? { workflowBundle: { codePath: env.WORKFLOW_BUNDLE_PATH } } : {}),
    ...(tracing ? { tracing } : {}),
    security,
    ...(env.WORKER_VERSIONING === 'on'
      ? {
          versioning: {
            deploymentName: env.WORKER_DEPLOYMENT_NAME,
            ...(env.DRYDOCK_BUILD_ID ? { buildId: env.DRYDOCK_BUILD_ID } : {}),
          },
        }
      : {}),
  });
  const client = await temporalClient(address, env.TEMPORAL_NAMESPACE, [], security);
  try {
    const schedule = await ensureRetentionSchedule(client, env);
    if (schedule !== 'unchanged')
      process.stdout.write(
        `drydock worker: retention schedule ${schedule} (every ${env.RETENTION_INTERVAL_MINUTES} min)\n`,
      );
  } finally {
    await client.connection.close();
  }
  // The build id is printed: it is what `drydock deploy set-current` takes (ADR 0049).
  const as = version ? ` as ${version.deploymentName} build ${version.buildId}` : ' (unversioned)';
  process.stdout.write(`drydock worker: polling task queue ${env.TEMPORAL_TASK_QUEUE} on ${address}${as}\n`);
  try {
    await worker.run();
  } finally {
    await connection.close();
    await orm.close();
    await tracing?.shutdown();
    process.stdout.write('drydock worker: stopped\n');
  }
}

if (require.main === module) runWorker().catch((err) => exitOnStartupError('worker', err));
