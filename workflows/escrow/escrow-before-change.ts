import { proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { ProvisioningActivities } from '../../activities/provisioning/provisioning-activities';
import {
  ESCROW_STEP_KINDS,
  StepKind,
  type EscrowCompletion,
  type EscrowStepKind,
  type StepOutcome,
} from '../../infra/wire/agent-steps';
import { databaseLocalActivity } from '../activity-presets';
import type { PlanStep } from '../provisioning/contracts';
import type { RotationTrigger } from './contracts';

const db = proxyLocalActivities<ProvisioningActivities>(databaseLocalActivity);

/** Escrow rounds of one step (each a new secret version) when the agent lost the pending secret in between. */
export const MAX_ESCROW_ROUNDS = 10;

export interface EscrowBeforeChangeOptions {
  tenantId: string;
  machineId: string;
  /** The escrow task (`security.local-admin` or `security.bitlocker`); its secret version is set per round. */
  step: PlanStep<EscrowStepKind>;
  /** Runs one task (the escrow, then the apply) with the caller's own retries; throws when it fails for good. */
  run: (step: PlanStep) => Promise<StepOutcome>;
  /** Whether a failure of the apply task says the agent no longer holds the escrowed secret. */
  pendingLost: (err: unknown) => boolean;
  /** Before a new round (the caller resets its per-step counters). */
  newRound?: () => void;
  /** Why this rotation runs, recorded with its `escrow.rotated` audit event (rotations outside provisioning). */
  trigger?: RotationTrigger;
}

export interface EscrowedAndApplied {
  escrowId: string;
  secretVersion: number;
  protectorId?: string;
}

/**
 * Escrow before change (ADR 0044), shared by provisioning's security phase and the rotation
 * workflows (ADR 0047): a fresh secret version is escrowed (the agent seals a new secret it holds
 * in memory; the API checks and stores the envelope), then applied — the agent changes the machine
 * only if it still holds the one whose envelope is stored — then confirmed and audited
 * (`escrow.rotated`). An agent that restarted in between no longer holds it: nothing changed, so a
 * new round escrows a new version. At every point the machine's secret is one the escrow holds (or
 * the one it had before Drydock).
 */
export async function escrowBeforeChange(opts: EscrowBeforeChangeOptions): Promise<EscrowedAndApplied> {
  const { step } = opts;
  const kind = ESCROW_STEP_KINDS[step.kind];
  for (let round = 1; ; round++) {
    const secretVersion = await db.nextEscrowVersion({
      tenantId: opts.tenantId,
      machineId: opts.machineId,
      kind,
    });
    const escrowed = (await opts.run({ ...step, payload: { ...step.payload, secretVersion } } as PlanStep))
      .result as unknown as EscrowCompletion;
    let protectorId: string | undefined;
    try {
      const applied = await opts.run(applyStep(step, secretVersion, escrowed.envelopeDigest));
      if (applied.kind === StepKind.BitLockerApply) protectorId = applied.result.protectorId;
    } catch (err) {
      if (opts.pendingLost(err) && round < MAX_ESCROW_ROUNDS) {
        opts.newRound?.();
        continue;
      }
      throw err;
    }
    await db.confirmEscrow({
      tenantId: opts.tenantId,
      escrowId: escrowed.escrowId,
      workflowId: workflowInfo().workflowId,
      ...(protectorId ? { protectorId } : {}),
      ...(opts.trigger ? { trigger: opts.trigger } : {}),
    });
    return { escrowId: escrowed.escrowId, secretVersion, ...(protectorId ? { protectorId } : {}) };
  }
}

/** The apply task of an escrow step: the version just escrowed, and the digest of its stored envelope. */
export function applyStep(
  step: PlanStep<EscrowStepKind>,
  secretVersion: number,
  envelopeDigest: string,
): PlanStep {
  if (step.kind === StepKind.LocalAdminEscrow) {
    const { account, create } = (step as PlanStep<StepKind.LocalAdminEscrow>).payload;
    return {
      key: step.key,
      phase: step.phase,
      kind: StepKind.LocalAdminApply,
      label: `Set the password of ${account} (version ${secretVersion})`,
      payload: { account, ...(create ? { create } : {}), secretVersion, envelopeDigest },
      policy: 'change',
    };
  }
  const { mountPoint, encryptionMethod, usedSpaceOnly } = (step as PlanStep<StepKind.BitLockerEscrow>)
    .payload;
  return {
    key: step.key,
    phase: step.phase,
    kind: StepKind.BitLockerApply,
    label: `Add recovery password version ${secretVersion} to ${mountPoint}, then BitLocker with the TPM`,
    payload: {
      mountPoint,
      secretVersion,
      envelopeDigest,
      ...(encryptionMethod ? { encryptionMethod } : {}),
      ...(usedSpaceOnly !== undefined ? { usedSpaceOnly } : {}),
    },
    policy: 'change',
  };
}
