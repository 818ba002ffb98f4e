import { proxyActivities } from '@temporalio/workflow';
import type { RotationActivities } from '../../activities/escrow/rotation-activities';
import { StepKind } from '../../infra/wire/agent-steps';
import { databaseActivity } from '../activity-presets';
import type { PlanStep } from '../provisioning/contracts';
import type { RotateBitLockerInput, RotateBitLockerResult } from './contracts';
import { rotateAfterReveals, rotateWith } from './rotate-secret';

const db = proxyActivities<RotationActivities>(databaseActivity);

/**
 * Rotates one machine's BitLocker recovery password after a reveal (ADR 0047), the grace first:
 * a new recovery password escrowed, then added to the volume as a protector and every other
 * recovery password protector removed (`security.bitlocker-apply` on an encrypted volume), then
 * confirmed with its protector id (`escrow.rotated`). The TPM protector and the encryption are not
 * touched (provisioning's apply step: a volume found decrypted is encrypted again, as the profile
 * asked). Its id is the machine's (`rotateBitLockerWorkflowId`): one rotation of a machine at a time.
 */
export async function rotateBitLockerRecoveryPassword(
  input: RotateBitLockerInput,
): Promise<RotateBitLockerResult> {
  return rotateAfterReveals(
    input,
    async (trigger) => {
      const { mountPoint, recipient } = await db.prepareBitLockerRotation({
        tenantId: input.tenantId,
        machineId: input.machineId,
      });
      const step: PlanStep<StepKind.BitLockerEscrow> = {
        key: 'security.bitlocker',
        phase: 'security',
        kind: StepKind.BitLockerEscrow,
        label: `Escrow a new recovery password for ${mountPoint}`,
        payload: { mountPoint, recipient, machineId: input.machineId, secretVersion: 1 },
        policy: 'change',
      };
      return rotateWith(input, trigger, step);
    },
    { kind: 'bitlocker-recovery-password' },
  );
}
