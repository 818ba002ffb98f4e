import { StepFailure, StepKind, type Precondition } from '../../infra/wire/agent-steps';
import { entraObjectIdToSid } from '../../infra/wire/entra-sid';
import { PlatformError, StepError } from '../platform/platform';
import type { StepHandler } from './index';

/**
 * The profile-migration steps (issue 17, docs/migration.md). Each checks, then acts, so a
 * redelivery after an agent kill or a power cut finishes the work instead of doing it twice; each
 * change is one the backup step recorded first, so `profile.restore` can put it back.
 */
type ProfileKind =
  | StepKind.ProfileCheck
  | StepKind.ProfileNotify
  | StepKind.ProfileBackup
  | StepKind.ProfileReassign
  | StepKind.ProfileCopy
  | StepKind.ProfileCloud
  | StepKind.ProfileRepair
  | StepKind.ProfileVerify
  | StepKind.ProfileRestore
  | StepKind.ProfileRetire;

/** A platform failure as the step reports it: permanent ones compensate at once, others are tried again. */
async function platformStep<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if ((err as { fatal?: boolean }).fatal) throw err;
    if (err instanceof StepError) throw err;
    throw new StepError(
      StepFailure.MigrationFailed,
      `${what}: ${(err as Error).message}`,
      err instanceof PlatformError ? !err.permanent : true,
    );
  }
}

/** The backup must be on the machine, unchanged, before anything that relies on it. */
async function requireBackup(
  platform: Parameters<StepHandler<StepKind.ProfileRestore>>[0],
  backupId: string,
) {
  if ((await platform.backupChecksum(backupId)) === null)
    throw new StepError(StepFailure.BackupMismatch, `the backup ${backupId} is not on this machine`, false);
}

export const profileSteps: { [K in ProfileKind]: StepHandler<K> } = {
  [StepKind.ProfileCheck]: async (platform, p, ctx) => {
    await ctx.progress(10, 'resolving the accounts and reading the profile');
    const facts = await platformStep('reading the profile facts', () =>
      platform.profileFacts(p.source, p.target),
    );
    const checks: Precondition[] = [];
    const check = (c: Precondition['check'], ok: boolean, detail: string) =>
      checks.push({ check: c, ok, detail });
    check(
      'source-profile',
      facts.source !== null,
      facts.source
        ? `${facts.source.profilePath} (${facts.source.sid})`
        : `${p.source} has no profile on this machine`,
    );
    check(
      'signed-out',
      facts.source !== null && !facts.source.loaded,
      facts.source?.loaded
        ? 'the user is signed in or the profile is loaded'
        : 'signed out, profile not loaded',
    );
    check('target-resolves', facts.target.sid !== null, facts.target.detail);
    if (p.target.kind === 'entra') {
      // The agent derives the SID again: a server and an agent that disagree must not move a profile.
      const derived = entraObjectIdToSid(p.target.objectId);
      const joined = facts.entraTenantId?.toLowerCase() === p.target.tenantId.toLowerCase();
      check(
        'entra-joined',
        joined && derived === p.target.sid,
        !facts.entraTenantId
          ? 'the machine is not Entra-joined (dsregcmd /status: AzureAdJoined NO)'
          : joined
            ? `joined to ${facts.entraTenantId}`
            : `joined to another tenant (${facts.entraTenantId})`,
      );
    }
    if (p.mode === 'in-place')
      check(
        'target-profile',
        facts.target.profilePath === null,
        facts.target.profilePath
          ? `the target already has a profile (${facts.target.profilePath}): use the copy mode`
          : 'the target has no profile yet',
      );
    if (p.mode === 'copy')
      check(
        'target-profile',
        facts.target.profilePath !== null,
        facts.target.profilePath
          ? `copying into ${facts.target.profilePath}`
          : 'the target has no profile yet: it must sign in once first',
      );
    const neededGb =
      p.mode === 'copy' ? Math.max(p.minFreeDiskGb, (facts.source?.sizeMb ?? 0) / 1024) : p.minFreeDiskGb;
    check(
      'free-disk',
      facts.freeDiskGb >= neededGb,
      `${facts.freeDiskGb} GB free (needs ${Math.ceil(neededGb)} GB)`,
    );
    check(
      'no-pending-reboot',
      facts.pendingReboot.length === 0,
      facts.pendingReboot.length
        ? `restart pending: ${facts.pendingReboot.join(', ')}`
        : 'no restart pending',
    );
    return {
      checks,
      sourceSid: facts.source?.sid ?? null,
      profilePath: facts.source?.profilePath ?? null,
      targetSid: facts.target.sid,
      targetProfilePath: facts.target.profilePath,
      loaded: facts.source?.loaded ?? false,
      profileSizeMb: facts.source?.sizeMb ?? 0,
    };
  },

  [StepKind.ProfileNotify]: async (platform, p) => ({
    sessions: await platformStep('notifying the user', () =>
      platform.notifyUser(p.sid, p.message, p.seconds),
    ),
  }),

  [StepKind.ProfileBackup]: async (platform, p, ctx) => {
    await ctx.progress(20, `saving ProfileList, ACLs and hive ACLs to the backup ${p.backupId}`);
    const b = await platformStep('backing up', () => platform.backupProfile(p));
    return { checksum: b.checksum, location: b.location, alreadyDone: !b.created };
  },

  [StepKind.ProfileReassign]: async (platform, p, ctx) => {
    await requireBackup(platform, p.backupId);
    const changed: string[] = [];
    await ctx.progress(20, 'moving the ProfileList entry');
    if (await platformStep('ProfileList', () => platform.moveProfileListEntry(p.sourceSid, p.targetSid)))
      changed.push(`ProfileList ${p.sourceSid} → ${p.targetSid}`);
    await ctx.progress(40, 'rewriting the profile folder ACLs (icacls /substitute, /setowner)');
    if (
      await platformStep('profile ACLs', () =>
        platform.substituteProfileAcl(p.backupId, p.profilePath, p.sourceSid, p.targetSid),
      )
    )
      changed.push(`ACLs under ${p.profilePath}`);
    await ctx.progress(70, 'rewriting the hives’ ACLs');
    if (
      await platformStep('hive ACLs', () =>
        platform.substituteHiveAcls(p.profilePath, p.sourceSid, p.targetSid),
      )
    )
      changed.push('NTUSER.DAT and UsrClass.dat ACLs');
    if (p.copyGroups) {
      const groups = await platformStep('group memberships', () =>
        platform.copyGroupMemberships(p.sourceSid, p.targetSid),
      );
      changed.push(...groups.map((g) => `member of ${g}`));
    }
    return { changed, alreadyDone: changed.length === 0 };
  },

  [StepKind.ProfileCopy]: async (platform, p, ctx) => {
    await requireBackup(platform, p.backupId);
    await ctx.progress(10, `robocopy ${p.profilePath} → ${p.targetProfilePath}`);
    const r = await platformStep('robocopy', () =>
      platform.robocopyProfile({
        backupId: p.backupId,
        sourcePath: p.profilePath,
        targetPath: p.targetProfilePath,
        targetSid: p.targetSid,
        excludeDirs: p.excludeDirs,
      }),
    );
    // robocopy: 0–7 are success (bits: copied, extra, mismatched); 8 and up are failures.
    if (r.exitCode >= 8)
      throw new StepError(
        StepFailure.MigrationFailed,
        `robocopy exited ${r.exitCode}: some files were not copied (see ${r.log})`,
        true,
      );
    const changed = r.copied > 0 ? [`${r.copied} file(s) copied to ${p.targetProfilePath}`] : [];
    if (p.copyGroups) {
      const groups = await platformStep('group memberships', () =>
        platform.copyGroupMemberships(p.sourceSid, p.targetSid),
      );
      changed.push(...groups.map((g) => `member of ${g}`));
    }
    return { ...r, changed, alreadyDone: changed.length === 0 };
  },

  [StepKind.ProfileCloud]: async (platform, p) => {
    await requireBackup(platform, p.backupId);
    const changed = await platformStep('OneDrive Known Folder Move policy', () =>
      platform.setKnownFolderMove(p.tenantId, p.notifyUser),
    );
    return { changed, alreadyDone: changed.length === 0 };
  },

  [StepKind.ProfileRepair]: async (platform, p, ctx) => {
    await ctx.progress(30, 'AppX re-registration and cache reset at the first sign-in');
    return platformStep('first-sign-in repair', () =>
      platform.prepareFirstLogon(p.sourceSid, p.targetSid, p.profilePath),
    );
  },

  [StepKind.ProfileVerify]: async (platform, p) => {
    const paths = [p.profilePath, ...(p.targetProfilePath ? [p.targetProfilePath] : [])];
    const s = await platformStep('reading the profile state', () =>
      platform.profileSnapshot([p.sourceSid, p.targetSid], paths),
    );
    const items: { item: string; pass: boolean; detail: string }[] = [];
    const check = (item: string, pass: boolean, detail: string) => items.push({ item, pass, detail });
    if (p.mode === 'in-place') {
      const entry = s.profileList[p.targetSid];
      check(
        'ProfileList entry of the new SID',
        entry?.profileImagePath === p.profilePath,
        entry ? entry.profileImagePath : 'missing',
      );
      check(
        'no ProfileList entry for the old SID',
        s.profileList[p.sourceSid] === null,
        s.profileList[p.sourceSid] ? 'still there' : 'gone',
      );
      const stale = s.files.filter((f) => f.owner === p.sourceSid || f.sids.includes(p.sourceSid));
      check(
        'profile files name the new SID, not the old',
        stale.length === 0 && s.files.every((f) => f.sids.includes(p.targetSid)),
        stale.length
          ? `${stale.length} file(s) still name the old SID, e.g. ${stale[0]!.path}`
          : `${s.files.length} sampled file(s)`,
      );
      const hives = s.hives.filter((h) => h.sids.includes(p.sourceSid) || !h.sids.includes(p.targetSid));
      check(
        'hive root ACLs',
        hives.length === 0 && s.hives.length > 0,
        hives.length ? `wrong: ${hives.map((h) => h.path).join(', ')}` : `${s.hives.length} hive(s)`,
      );
      check(
        'AppX registered for the new SID',
        (s.appx[p.sourceSid] ?? []).every((a) => s.appx[p.targetSid]?.includes(a)),
        (s.appx[p.targetSid] ?? []).join(', ') || '(none)',
      );
    }
    if (p.mode === 'copy') {
      const inTarget = s.files.filter((f) =>
        f.path.toLowerCase().startsWith(`${p.targetProfilePath!.toLowerCase()}\\`),
      );
      check(
        'copied files belong to the new SID',
        inTarget.length > 0 && inTarget.every((f) => f.owner === p.targetSid),
        `${inTarget.length} file(s) in ${p.targetProfilePath}`,
      );
    }
    if (p.mode === 'cloud')
      check('Known Folder Move policy', s.kfmTenantId === p.tenantId, s.kfmTenantId ?? 'not set');
    if (p.copyGroups) {
      const missing = (s.groups[p.sourceSid] ?? []).filter((g) => !(s.groups[p.targetSid] ?? []).includes(g));
      check(
        'group memberships',
        missing.length === 0,
        missing.length
          ? `missing: ${missing.join(', ')}`
          : (s.groups[p.targetSid] ?? []).join(', ') || '(none)',
      );
    }
    return { items };
  },

  [StepKind.ProfileRestore]: async (platform, p, ctx) => {
    await requireBackup(platform, p.backupId);
    await ctx.progress(20, `restoring from the backup ${p.backupId}`);
    const restored = await platformStep('restoring', () => platform.restoreProfileBackup(p.backupId));
    return { restored, alreadyDone: restored.length === 0 };
  },

  [StepKind.ProfileRetire]: async (platform, p) => {
    const changed = await platformStep(`${p.action} the old account`, () =>
      platform.retireAccount(p.sourceSid, p.action),
    );
    return { action: p.action, changed, alreadyDone: !changed };
  },
};
