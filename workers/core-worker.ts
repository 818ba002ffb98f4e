import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { createActivities, type ActivityDeps } from '../activities';
import { StartupError } from '../infra/config/fatal';
import { repoRoot } from '../infra/config/env';
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
  /**
   * Worker Deployment Versioning (ADR 0049): poll as this version of this deployment. Machine runs
   * (pinnedWhenVersioned) stay on the build that started them; everything else auto-upgrades to
   * the deployment's current version. `buildId` omitted = derived from the bundle (buildIdFor).
   */
  versioning?: { deploymentName: string; buildId?: string };
}

/** The package version and the first 12 hex of the bundle's SHA-256: changed workflow code, new build. */
export function buildIdFor(bundleCode: string): string {
  const { version } = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { version: string };
  return `${version}-${createHash('sha256').update(bundleCode).digest('hex').slice(0, 12)}`;
}

/** The core worker: every workflow plus the server-side activities. */
export async function createCoreWorker(
  opts: CoreWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection; version?: WorkerDeploymentVersion }> {
  const plugins = opts.tracing ? [temporalTracing(opts.tracing)] : [];
  let bundle: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = opts.workflowBundle
    ? { workflowBundle: opts.workflowBundle }
    : { workflowsPath };
  let version: WorkerDeploymentVersion | undefined;
  if (opts.versioning) {
    let buildId = opts.versioning.buildId;
    if (!buildId) {
      // The build id names the code: bundle here (with the tracing interceptors) to hash it.
      const given = opts.workflowBundle;
      const code = !given
        ? (await bundleWorkflowCode({ workflowsPath, plugins, logger: quietBundlerLogger })).code
        : 'code' in given
          ? given.code
          : readFileSync(given.codePath, 'utf8');
      bundle = { workflowBundle: { code } };
      buildId = buildIdFor(code);
    }
    version = { deploymentName: opts.versioning.deploymentName, buildId };
  }
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
    ...bundle,
    // Heartbeats carry progress people watch (installerBuild's percent and stage). The SDK sends
    // them at most every 0.8 × heartbeatTimeout, capped at 60 s by default: a 2-minute timeout
    // then showed a whole build as its first stage. 5 s keeps progress live at a small cost.
    maxHeartbeatThrottleInterval: '5 seconds',
    ...(plugins.length > 0 ? { plugins } : {}),
    ...(version
      ? {
          workerDeploymentOptions: {
            useWorkerVersioning: true,
            version,
            // Workflows not marked pinned (fleet runs, sites, discovery, schedules) move to the
            // current version at their next task; their changes go behind patched() (ADR 0016).
            defaultVersioningBehavior: 'AUTO_UPGRADE',
          },
        }
      : {}),
  });
  return { worker, connection, ...(version ? { version } : {}) };
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string) => process.stderr.write(`${message}\n`),
};
