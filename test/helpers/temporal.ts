import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import type { Env } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';
import { temporalSecurity, type TemporalSecurity } from '../../infra/temporal/tls';
import { createCoreWorker } from '../../workers/core-worker';

let runtimeInstalled = false;

/**
 * How tests reach the run's Temporal server: plain for the dev server; with the client certificate
 * when the run uses the production server (DRYDOCK_TEST_TEMPORAL=production, test/global-setup.ts,
 * which exports the TEMPORAL_TLS_* settings for child processes too).
 */
export function testTemporalSecurity(): TemporalSecurity {
  return temporalSecurity({
    TEMPORAL_TLS_CA: process.env.TEMPORAL_TLS_CA,
    TEMPORAL_TLS_CERT: process.env.TEMPORAL_TLS_CERT,
    TEMPORAL_TLS_KEY: process.env.TEMPORAL_TLS_KEY,
    TEMPORAL_TLS_SERVER_NAME: process.env.TEMPORAL_TLS_SERVER_NAME,
    TEMPORAL_API_KEY_FILE: undefined,
  });
}

/** A client connection to the run's Temporal server. */
export function testTemporalConnection(): Promise<Connection> {
  return Connection.connect({
    address: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS!,
    ...testTemporalSecurity(),
  });
}

export async function testTemporalClient(): Promise<Client> {
  return new Client({ connection: await testTemporalConnection(), namespace: 'default' });
}

/** A real core worker on the shared dev server, on a task queue of its own, with the prebuilt bundle. */
export async function startTestWorker(
  orm: Orm,
  env?: Env,
  /** Another server than the run's (a test's own production server), or a given task queue. */
  where: { address?: string; security?: TemporalSecurity; taskQueue?: string } = {},
): Promise<{ worker: Worker; taskQueue: string; stop(): Promise<void> }> {
  if (!runtimeInstalled) {
    Runtime.install({
      logger: new DefaultLogger(process.env.DRYDOCK_TEST_WORKER_LOG === '1' ? 'WARN' : 'ERROR'),
      shutdownSignals: [],
    });
    runtimeInstalled = true;
  }
  const taskQueue = where.taskQueue ?? `test-${randomUUID()}`;
  const { worker, connection } = await createCoreWorker({
    address: where.address ?? process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS!,
    namespace: 'default',
    taskQueue,
    orm,
    env,
    workflowBundle: { code: readFileSync(process.env.DRYDOCK_TEST_BUNDLE!, 'utf8') },
    security: where.security ?? testTemporalSecurity(),
  });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
