import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { StartupError } from '../infra/config/fatal';
import { firstLine } from '../infra/temporal/connection';

export const workflowsPath = require.resolve('../workflows');

export interface CoreWorkerOptions extends ActivityDeps {
  address: string;
  namespace: string;
  taskQueue: string;
  /** A prebuilt bundle (tests bundle once); otherwise the worker bundles `workflows/` at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/** The core worker: every workflow plus the server-side activities. */
export async function createCoreWorker(
  opts: CoreWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: opts.address });
  } catch (err) {
    throw new StartupError(`cannot reach Temporal at ${opts.address}: ${firstLine(err)}`);
  }
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: createActivities({ orm: opts.orm, env: opts.env }),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
  });
  return { worker, connection };
}
