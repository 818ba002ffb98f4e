import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { createActivities } from '../../activities';
import { testTemporalConnection, testTemporalSecurity } from './temporal';

/** Every activity the core worker registers, by name and signature: what a fake must look like. */
export type Activities = ReturnType<typeof createActivities>;

let runtimeInstalled = false;

/**
 * A worker on the shared Temporal dev server with the real workflow bundle and fake activities, on a
 * task queue of its own: workflow tests without a database or agents (STYLE habit 12). The fakes are
 * typed against the real activities, so a changed signature fails the type check, not the test.
 */
export async function startFakeWorker(activities: Partial<Activities>, options: { taskQueue?: string } = {}) {
  if (!runtimeInstalled) {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
    } catch {
      // Installed already by another helper in this process.
    }
    runtimeInstalled = true;
  }
  const address = process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS!;
  // A given queue: a second worker taking over from one that was stopped (a killed worker).
  const taskQueue = options.taskQueue ?? `fake-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address, ...testTemporalSecurity() });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    activities,
    workflowBundle: { code: readFileSync(process.env.DRYDOCK_TEST_BUNDLE!, 'utf8') },
  });
  const running = worker.run();
  const clientConnection = await testTemporalConnection();
  const client = new Client({ connection: clientConnection, namespace: 'default' });
  let stopping: Promise<void> | undefined;
  return {
    client,
    taskQueue,
    /** Stops the worker (once: a second call waits for the first). */
    stop() {
      return (stopping ??= (async () => {
        worker.shutdown();
        await running;
        await connection.close();
        await clientConnection.close();
      })());
    },
  };
}

/** Waits until `read` gives a value `ok` accepts (no fixed sleeps in tests); the last value either way. */
export async function eventually<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > deadline)
      throw new Error(`not reached within ${timeoutMs} ms; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}
