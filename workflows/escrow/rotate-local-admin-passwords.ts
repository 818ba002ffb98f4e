import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ChildWorkflowFailure,
  continueAsNew,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { RotationActivities } from '../../activities/escrow/rotation-activities';
import { databaseActivity } from '../activity-presets';
import { failureReason } from '../directory/directory-steps';
import { MachineIdKey, TenantIdKey } from '../search-attributes';
import {
  rotateLocalAdminsProgressQuery,
  rotateLocalAdminWorkflowId,
  type MachineRotationOutcome,
  type RotateLocalAdminsInput,
  type RotateLocalAdminsProgress,
} from './contracts';
import { rotateLocalAdminPassword } from './rotate-local-admin-password';

const db = proxyActivities<RotationActivities>(databaseActivity);

/**
 * Rotates the local admin password of every active machine of a site or client that has one in
 * escrow (ADR 0047): on demand or from the scope's schedule. A window of at most `concurrency`
 * rotateLocalAdminPassword children, each with its machine's id — a machine already rotating (a
 * reveal's grace, another run) is counted, not rotated twice. One page of machines per run, then
 * continue-as-new with the counts (small histories for large sites). A machine's failure (offline
 * past its limit) is that machine's only; the run goes on. Progress: the `rotationProgress` query.
 */
export async function rotateLocalAdminPasswords(
  input: RotateLocalAdminsInput,
): Promise<RotateLocalAdminsProgress> {
  const pageSize = input.pageSize ?? 200;
  const progress: RotateLocalAdminsProgress = {
    rotated: input.counts?.rotated ?? 0,
    failed: input.counts?.failed ?? 0,
    alreadyRunning: input.counts?.alreadyRunning ?? 0,
    inProgress: 0,
    machines: [],
  };
  setHandler(rotateLocalAdminsProgressQuery, () => progress);
  const { workflowId } = workflowInfo();

  const { machineIds } = await db.rotationMachines({
    tenantId: input.tenantId,
    scope: input.scope,
    limit: pageSize,
    ...(input.afterMachineId ? { afterMachineId: input.afterMachineId } : {}),
  });

  const rotate = async (machineId: string) => {
    progress.inProgress += 1;
    let outcome: MachineRotationOutcome;
    try {
      await executeChild(rotateLocalAdminPassword, {
        workflowId: rotateLocalAdminWorkflowId(input.tenantId, machineId),
        args: [
          {
            tenantId: input.tenantId,
            machineId,
            trigger: input.trigger,
            requestedBy: input.requestedBy,
            ...(input.offlineLimitSeconds ? { offlineLimitSeconds: input.offlineLimitSeconds } : {}),
            // A reveal while this machine rotates gets the whole grace before the next rotation.
            ...(input.graceSeconds ? { graceSeconds: input.graceSeconds } : {}),
            ...(input.retryFailedAfterSeconds
              ? {
                  retryFailedAfterSeconds: input.retryFailedAfterSeconds,
                  retryFailedForSeconds: input.retryFailedForSeconds,
                }
              : {}),
          },
        ],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        typedSearchAttributes: [
          { key: TenantIdKey, value: input.tenantId },
          { key: MachineIdKey, value: machineId },
        ],
        staticSummary: `Rotate the local admin password of machine ${machineId} (${input.trigger}, ${workflowId})`,
      });
      outcome = { machineId, outcome: 'rotated' };
    } catch (err) {
      if (isCancellation(err)) throw err;
      outcome =
        err instanceof WorkflowExecutionAlreadyStartedError
          ? { machineId, outcome: 'already-running', reason: 'a rotation of this machine is already running' }
          : {
              machineId,
              outcome: 'failed',
              reason: failureReason(err instanceof ChildWorkflowFailure ? err.cause : err),
            };
    } finally {
      progress.inProgress -= 1;
    }
    progress.machines.push(outcome);
    if (outcome.outcome === 'rotated') progress.rotated += 1;
    else if (outcome.outcome === 'failed') progress.failed += 1;
    else progress.alreadyRunning += 1;
  };

  const queue = [...machineIds];
  const width = Math.max(1, Math.min(input.concurrency, queue.length));
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await rotate(id);
    }),
  );
  if (machineIds.length === pageSize) {
    const { rotated, failed, alreadyRunning } = progress;
    await continueAsNew<typeof rotateLocalAdminPasswords>({
      ...input,
      afterMachineId: machineIds[machineIds.length - 1]!,
      counts: { rotated, failed, alreadyRunning },
    });
  }
  return progress;
}
