import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { StartupError } from '../infra/config/fatal';
import { firstLine } from '../infra/temporal/connection';
import type { TemporalSecurity } from '../infra/temporal/tls';
import { temporalTracing } from '../infra/observability/temporal-tracing';
import type { Tracing } from '../infra/observability/tracing';

export const workflowsPath = require.resolve('../workflows');

export interface CoreWorkerOptions extends ActivityDeps {
  address: string;
  namespace: string;
  taskQueue: string;
  /** A prebuilt bundle (tests bundle once); otherwise the worker bundles `workflows/` at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** TLS or an API key for a Temporal cluster or Temporal Cloud (infra/temporal/tls.ts). */
  security?: TemporalSecurity;
  /** OpenTelemetry (ADR 0040): workflow, activity and client spans, exported by this processor. */
  tracing?: Tracing;
}

/** The core worker: every workflow plus the server-side activities. */
export async function createCoreWorker(
  opts: CoreWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: opts.address, ...opts.security });
  } catch (err) {
    throw new StartupError(`cannot reach Temporal at ${opts.address}: ${firstLine(err)}`);
  }
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: createActivities({ orm: opts.orm, env: opts.env }),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    // Heartbeats carry progress people watch (installerBuild's percent and stage). The SDK sends
    // them at most every 0.8 × heartbeatTimeout, capped at 60 s by default: a 2-minute timeout
    // then showed a whole build as its first stage. 5 s keeps progress live at a small cost.
    maxHeartbeatThrottleInterval: '5 seconds',
    ...(opts.tracing ? { plugins: [temporalTracing(opts.tracing)] } : {}),
  });
  return { worker, connection };
}
