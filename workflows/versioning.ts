import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';

/**
 * Marks a workflow PINNED under Worker Deployment Versioning (ADR 0049): a run finishes on the
 * build it started on, so a deploy never replays its history against changed code. Decided per
 * run, once, from the version of the worker running it: an unversioned worker (development,
 * WORKER_VERSIONING=off) must send no behavior at all — the server refuses the workflow task
 * ("versioning behavior cannot be specified without deployment options being set with versioned
 * mode"). A run started unversioned and later run by a versioned worker is AUTO_UPGRADE (the
 * worker's default), as its history holds no version. Not a command: replays are unaffected.
 */
export function pinnedWhenVersioned<A extends unknown[], R>(fn: (...args: A) => Promise<R>): void {
  setWorkflowOptions(
    () => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'PINNED' } : {}),
    fn,
  );
}
