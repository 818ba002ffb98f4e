import { proxyActivities } from '@temporalio/workflow';
import type { RotationActivities } from '../../activities/escrow/rotation-activities';
import { StepKind } from '../../infra/wire/agent-steps';
import { databaseActivity } from '../activity-presets';
import type { PlanStep } from '../provisioning/contracts';
import type { RotateLocalAdminInput, RotateLocalAdminResult, RotationTrigger } from './contracts';
import { rotateAfterReveals, rotateWith } from './rotate-secret';

const db = proxyActivities<RotationActivities>(databaseActivity);

/**
 * Rotates one machine's local admin password (ADR 0047) with provisioning's escrow before change
 * (ADR 0044): a new password escrowed, then set, then confirmed (`escrow.rotated`). Its id is the
 * machine's (`rotateLocalAdminWorkflowId`), so two rotations of a machine never run at once. When
 * it is due, and its record: `rotateAfterReveals` (after a reveal, the grace first).
 */
export async function rotateLocalAdminPassword(
  input: RotateLocalAdminInput,
): Promise<RotateLocalAdminResult> {
  return rotateAfterReveals(input, (trigger) => rotateOnce(input, trigger));
}

/** One escrow-before-change rotation of the machine's local admin account. */
async function rotateOnce(
  input: RotateLocalAdminInput,
  trigger: RotationTrigger,
): Promise<{ secretVersion: number }> {
  const { account, recipient } = await db.prepareRotation({
    tenantId: input.tenantId,
    machineId: input.machineId,
  });
  const step: PlanStep<StepKind.LocalAdminEscrow> = {
    key: 'security.local-admin',
    phase: 'security',
    kind: StepKind.LocalAdminEscrow,
    label: `Escrow, then set the password of ${account}`,
    payload: { account, recipient, machineId: input.machineId, secretVersion: 1 },
    policy: 'change',
  };
  return rotateWith(input, trigger, step);
}
