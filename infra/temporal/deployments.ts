import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';

/**
 * Worker Deployment Versioning for operators (ADR 0049, docs/operations.md "Deploying a new worker
 * build"): what a deployment's versions are and which one takes new work, and the two moves of a
 * deploy — make a build current, or ramp a share of new work to it first.
 */

/** The proto's enums as the operator reads them (numbers on the wire). */
const VERSION_STATUS = ['unspecified', 'inactive', 'current', 'ramping', 'draining', 'drained', 'created'];
const DRAINAGE_STATUS = ['unspecified', 'draining', 'drained'];

export interface DeploymentVersionView {
  buildId: string;
  /** inactive, current, ramping, draining (pinned runs still open), drained (safe to stop). */
  status: string;
  /** The server's drainage check (refreshed every few minutes, not live). */
  drainage: string | null;
  createdAt: string | null;
}

export interface DeploymentView {
  name: string;
  current: string | null;
  ramping: string | null;
  rampingPercent: number;
  versions: DeploymentVersionView[];
}

const iso = (t: { seconds?: unknown } | null | undefined): string | null =>
  t?.seconds != null ? new Date(Number(t.seconds) * 1000).toISOString() : null;

export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentView> {
  const res = await client.workflowService.describeWorkerDeployment({
    namespace: client.options.namespace,
    deploymentName,
  });
  const info = res.workerDeploymentInfo;
  const routing = info?.routingConfig;
  return {
    name: deploymentName,
    current: routing?.currentDeploymentVersion?.buildId || null,
    ramping: routing?.rampingDeploymentVersion?.buildId || null,
    rampingPercent: routing?.rampingVersionPercentage ?? 0,
    versions: (info?.versionSummaries ?? []).map((v) => ({
      buildId: v.deploymentVersion?.buildId ?? '',
      status: VERSION_STATUS[v.status ?? 0] ?? String(v.status),
      drainage: v.drainageInfo?.status ? (DRAINAGE_STATUS[v.drainageInfo.status] ?? null) : null,
      createdAt: iso(v.createTime),
    })),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a versioning call failed only because the build's workers have not polled everywhere yet. */
export function notRegisteredYet(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /not found|no worker deployment found|does not exist|no pollers|not.*registered|missing (active )?task queues?/i.test(
    message,
  );
}

/**
 * Retries while the version is not known yet: a new build's workers register it with their first
 * polls, a few seconds after they start ("no Worker Deployment found", "does not exist", "no
 * pollers"), one task queue at a time: until it has polled every queue the current version serves,
 * the server refuses to make it current ("proposed current version is missing active task queues
 * from the current version"). Other errors (a wrong name, a conflict) are thrown at once.
 */
async function whenRegistered<T>(waitMs: number, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!notRegisteredYet(err) || Date.now() >= deadline) throw err;
      await sleep(1000);
    }
  }
}

/**
 * Makes `buildId` the deployment's current version: new workflows and every auto-upgrade workflow
 * go to its workers from their next task; pinned runs stay where they are. Waits up to `waitMs`
 * for the build's workers to have polled. Returns the build that was current before.
 */
export async function setCurrentVersion(
  client: Client,
  deploymentName: string,
  buildId: string,
  opts: { waitMs?: number; identity?: string } = {},
): Promise<{ previous: string | null }> {
  const res = await whenRegistered(opts.waitMs ?? 0, () =>
    client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace: client.options.namespace,
      deploymentName,
      buildId,
      identity: opts.identity ?? 'drydock deploy',
    }),
  );
  return { previous: res.previousDeploymentVersion?.buildId || null };
}

/**
 * Sends `percent` of new workflows (and of auto-upgrade workflows' tasks, by workflow id) to
 * `buildId`, the rest to the current version; 0 with no build id stops ramping.
 */
export async function setRampingVersion(
  client: Client,
  deploymentName: string,
  buildId: string | null,
  percent: number,
  opts: { waitMs?: number; identity?: string } = {},
): Promise<void> {
  await whenRegistered(opts.waitMs ?? 0, () =>
    client.workflowService.setWorkerDeploymentRampingVersion({
      namespace: client.options.namespace,
      deploymentName,
      buildId: buildId ?? '',
      percentage: buildId ? percent : 0,
      identity: opts.identity ?? 'drydock deploy',
    }),
  );
}

/** Which build ran a workflow's last task, and whether it is pinned there (describe's versioning info). */
export async function workflowVersion(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<{ behavior: 'PINNED' | 'AUTO_UPGRADE' | null; version: WorkerDeploymentVersion | null }> {
  const res = await client.workflowService.describeWorkflowExecution({
    namespace: client.options.namespace,
    execution: { workflowId, ...(runId ? { runId } : {}) },
  });
  const info = res.workflowExecutionInfo?.versioningInfo;
  const v = info?.deploymentVersion;
  return {
    behavior: info?.behavior === 1 ? 'PINNED' : info?.behavior === 2 ? 'AUTO_UPGRADE' : null,
    version: v?.buildId ? { buildId: v.buildId, deploymentName: v.deploymentName ?? '' } : null,
  };
}
