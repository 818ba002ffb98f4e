import { StepKind, type StepPayloads } from '../../infra/wire/agent-steps';
import type { MigrateProfileInput } from './contracts';

/**
 * The payloads of one migration's steps, built from its input and what the preconditions found.
 * Pure: the workflow and the simulated-host tests build the same steps from it.
 */
export interface ResolvedMigration {
  sourceSid: string;
  targetSid: string;
  profilePath: string;
  targetProfilePath: string | null;
}

export const signOutMessage = (deadlineMinutes: number) =>
  `Your IT provider is moving your Windows profile to your new account. Please save your work and sign out within ${deadlineMinutes} minutes; you will then sign in with your new account.`;

export function checkPayload(input: MigrateProfileInput): StepPayloads[StepKind.ProfileCheck] {
  return {
    mode: input.mode,
    source: input.source,
    target: input.target,
    minFreeDiskGb: input.minFreeDiskGb ?? 2,
  };
}

export function backupPayload(
  input: MigrateProfileInput,
  r: ResolvedMigration,
): StepPayloads[StepKind.ProfileBackup] {
  return {
    backupId: input.migrationId,
    sourceSid: r.sourceSid,
    targetSid: r.targetSid,
    mode: input.mode,
    profilePath: r.profilePath,
    ...(r.targetProfilePath && input.mode === 'copy' ? { targetProfilePath: r.targetProfilePath } : {}),
  };
}

/** The mode's one changing step. */
export function changeStep(input: MigrateProfileInput, r: ResolvedMigration) {
  const common = { backupId: input.migrationId, sourceSid: r.sourceSid, targetSid: r.targetSid };
  if (input.mode === 'copy')
    return {
      kind: StepKind.ProfileCopy,
      payload: {
        ...common,
        profilePath: r.profilePath,
        targetProfilePath: r.targetProfilePath!,
        excludeDirs: input.excludeDirs ?? [
          'AppData\\Local\\Temp',
          'AppData\\Local\\Microsoft\\Windows\\INetCache',
        ],
        copyGroups: input.copyGroups,
      },
    } as const;
  if (input.mode === 'cloud')
    return {
      kind: StepKind.ProfileCloud,
      payload: { ...common, tenantId: input.oneDriveTenantId ?? '', notifyUser: true },
    } as const;
  return {
    kind: StepKind.ProfileReassign,
    payload: { ...common, profilePath: r.profilePath, copyGroups: input.copyGroups },
  } as const;
}

export function verifyPayload(
  input: MigrateProfileInput,
  r: ResolvedMigration,
): StepPayloads[StepKind.ProfileVerify] {
  return {
    backupId: input.migrationId,
    sourceSid: r.sourceSid,
    targetSid: r.targetSid,
    mode: input.mode,
    profilePath: r.profilePath,
    ...(r.targetProfilePath && input.mode === 'copy' ? { targetProfilePath: r.targetProfilePath } : {}),
    ...(input.mode === 'cloud' && input.oneDriveTenantId ? { tenantId: input.oneDriveTenantId } : {}),
    copyGroups: input.copyGroups && input.mode !== 'cloud',
  };
}
