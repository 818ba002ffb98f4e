import path from 'node:path';
import type { StepContext } from '../../agent/platform/platform';
import {
  newHostState,
  SimulatedPlatform,
  type SimulatedHostState,
} from '../../agent/platform/simulated/simulated-host';
import { addProfileUser, type SimulatedProfiles } from '../../agent/platform/simulated/simulated-profiles';
import { runStep } from '../../agent/steps';
import { checkStepResult } from '../../infra/wire/step-results';
import { StepKind, type MigrationTarget } from '../../infra/wire/agent-steps';
import { entraObjectIdToSid } from '../../infra/wire/entra-sid';
import type { MigrateProfileInput } from '../../workflows/migration/contracts';
import {
  backupPayload,
  changeStep,
  checkPayload,
  verifyPayload,
  type ResolvedMigration,
} from '../../workflows/migration/migration-steps';

/**
 * A simulated machine with users to migrate, and a driver that runs a migration's steps on it the
 * way migrateProfile does (check, backup, change, repair, verify; restore on failure) without
 * Temporal: the machine-level half of the saga's tests.
 */
export const ENTRA_TENANT = '7c0a1e55-1f2b-4c3d-8e9f-0a1b2c3d4e5f';
export const ENTRA_OBJECT = '73d664e4-0886-4a73-b745-c694da45ddb4';
export const DOMAIN_SID = 'S-1-5-21-1004336348-1177238915-682003330';

export function migrationHost(dir: string, name: string, users = 1): SimulatedPlatform {
  const host = new SimulatedPlatform(path.join(dir, name), () => newHostState(name, 'migration-host'));
  host.mutate((s) => seedMigrationUsers(s, users));
  return host;
}

/**
 * Users to migrate on a simulated machine joined to contoso.local and Entra ID: per index i, a
 * local `alice{i}` (Administrators) and `CONTOSO\bob{i}` with profiles; `carol{i}` and
 * `CONTOSO\alice.new{i}` without (in-place targets); `dave{i}` with an empty profile (copy target).
 */
export function seedMigrationUsers(s: SimulatedHostState, users = 1): void {
  s.domain = 'contoso.local';
  s.profiles.entraTenantId = ENTRA_TENANT;
  const local = s.users[0]!.sid.replace(/-500$/, '');
  for (let i = 0; i < users; i++) {
    const n = i || '';
    addProfileUser(s.profiles, {
      name: `alice${n}`,
      sid: `${local}-${1001 + i}`,
      source: 'local',
      groups: ['Administrators', 'Users'],
      appx: ['Microsoft.WindowsCalculator', `Contoso.App${i}`],
    });
    addProfileUser(s.profiles, {
      name: `CONTOSO\\bob${n}`,
      sid: `${DOMAIN_SID}-${1105 + i}`,
      source: 'domain',
      groups: ['Users', 'Remote Desktop Users'],
    });
    addProfileUser(s.profiles, {
      name: `carol${n}`,
      sid: `${local}-${1101 + i}`,
      source: 'local',
      profile: false,
      groups: ['Users'],
    });
    addProfileUser(s.profiles, {
      name: `CONTOSO\\alice.new${n}`,
      sid: `${DOMAIN_SID}-${2001 + i}`,
      source: 'domain',
      profile: false,
    });
    // Copy mode's target: an account that has signed in once and has its own (empty) profile.
    addProfileUser(s.profiles, { name: `dave${n}`, sid: `${local}-${1201 + i}`, source: 'local', appx: [] });
  }
}

export const entraTarget = (objectId = ENTRA_OBJECT): MigrationTarget => ({
  kind: 'entra',
  objectId,
  tenantId: ENTRA_TENANT,
  sid: entraObjectIdToSid(objectId),
  upn: 'alice@contoso.com',
});

export const ctx = (key: string): StepContext => ({
  idempotencyKey: key,
  progress: async () => {},
  checkApi: async () => ({ ok: true, ms: 1, detail: 'ok' }),
  signal: new AbortController().signal,
});

export const migrationInput = (
  over: Partial<MigrateProfileInput> & Pick<MigrateProfileInput, 'source' | 'target'>,
): MigrateProfileInput => ({
  tenantId: 't',
  machineId: 'm',
  migrationId: 'mig-1',
  mode: 'in-place',
  copyGroups: true,
  retire: 'keep',
  oneDriveTenantId: ENTRA_TENANT,
  ...over,
});

/** The machine state a migration may change, without the migration's own bookkeeping (backups, copy log, notices). */
export function changeableState(host: SimulatedPlatform): Partial<SimulatedProfiles> {
  const {
    backups: _b,
    copied: _c,
    notifications: _n,
    faults: _f,
    ...rest
  } = structuredClone(host.snapshot.profiles);
  return rest;
}

export type DriverStep = 'check' | 'backup' | 'change' | 'repair' | 'verify';

/**
 * Runs a migration's steps on the host. `interrupt(step)` may throw after a step (a fault): the
 * driver then compensates from the backup. A step that crashes (a fatal error: the agent died) is
 * delivered again, as the agent channel does.
 */
export async function migrateOnHost(
  host: SimulatedPlatform,
  input: MigrateProfileInput,
  interrupt: (step: DriverStep) => void = () => {},
): Promise<{ outcome: 'passed' | 'rolled-back'; resolved: ResolvedMigration; error?: string }> {
  const deliver = async <K extends StepKind>(kind: K, payload: unknown, key: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await runStep(host, kind, payload, ctx(key));
        // What the API would store: the kind's result schema (infra/wire/step-results.ts).
        const refused = checkStepResult(kind, result);
        if (refused) throw new Error(`${kind} answered a result the API refuses: ${refused}`);
        return result;
      } catch (err) {
        if ((err as { fatal?: boolean }).fatal && attempt < 20) continue; // the agent restarts; the step is redelivered
        throw err;
      }
    }
  };
  const check = await deliver(StepKind.ProfileCheck, checkPayload(input), 'check');
  const failed = check.checks.filter((c) => !c.ok);
  if (failed.length > 0)
    throw new Error(`preconditions: ${failed.map((c) => `${c.check}: ${c.detail}`).join('; ')}`);
  const resolved: ResolvedMigration = {
    sourceSid: check.sourceSid!,
    targetSid: check.targetSid!,
    profilePath: check.profilePath!,
    targetProfilePath: check.targetProfilePath,
  };
  interrupt('check');
  await deliver(StepKind.ProfileBackup, backupPayload(input, resolved), 'backup');
  try {
    interrupt('backup');
    const change = changeStep(input, resolved);
    await deliver(change.kind, change.payload, 'change');
    interrupt('change');
    if (input.mode === 'in-place')
      await deliver(
        StepKind.ProfileRepair,
        {
          backupId: input.migrationId,
          sourceSid: resolved.sourceSid,
          targetSid: resolved.targetSid,
          profilePath: resolved.profilePath,
        },
        'repair',
      );
    interrupt('repair');
    const verify = await deliver(StepKind.ProfileVerify, verifyPayload(input, resolved), 'verify');
    const bad = verify.items.filter((i) => !i.pass);
    if (bad.length > 0) throw new Error(`verify: ${bad.map((i) => `${i.item}: ${i.detail}`).join('; ')}`);
    interrupt('verify');
    return { outcome: 'passed', resolved };
  } catch (err) {
    await deliver(StepKind.ProfileRestore, { backupId: input.migrationId }, 'restore');
    return { outcome: 'rolled-back', resolved, error: (err as Error).message };
  }
}
