import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import type { Env } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';
import { createCoreWorker } from '../../workers/core-worker';

let runtimeInstalled = false;

export async function testTemporalClient(): Promise<Client> {
  const connection = await Connection.connect({ address: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS! });
  return new Client({ connection, namespace: 'default' });
}

/** A real core worker on the shared dev server, on a task queue of its own, with the prebuilt bundle. */
export async function startTestWorker(
  orm: Orm,
  env?: Env,
): Promise<{ worker: Worker; taskQueue: string; stop(): Promise<void> }> {
  if (!runtimeInstalled) {
    Runtime.install({
      logger: new DefaultLogger(process.env.DRYDOCK_TEST_WORKER_LOG === '1' ? 'WARN' : 'ERROR'),
      shutdownSignals: [],
    });
    runtimeInstalled = true;
  }
  const taskQueue = `test-${randomUUID()}`;
  const { worker, connection } = await createCoreWorker({
    address: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS!,
    namespace: 'default',
    taskQueue,
    orm,
    env,
    workflowBundle: { code: readFileSync(process.env.DRYDOCK_TEST_BUNDLE!, 'utf8') },
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
