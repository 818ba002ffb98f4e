import { createHash } from 'node:crypto';
import type { MigrationTarget } from '../../../infra/wire/agent-steps';
import { entraObjectIdToSid, isSid } from '../../../infra/wire/entra-sid';
import {
  PlatformError,
  type ProfileBackupRequest,
  type ProfileFacts,
  type ProfileSnapshot,
  type RobocopyRequest,
} from '../platform';

/**
 * The simulated host's user profiles (issue 17): accounts with SIDs, ProfileList, profile folders
 * whose files carry ACL entries, the two hives' root ACLs, AppX registrations, local groups, the
 * OneDrive policy and the machine's Entra join. Every change is one persisted effect (the
 * harness's power cut lands between any two), and `faults` fails a named point once.
 */
export interface SimulatedAccount {
  /** `NAME` for local accounts, `DOMAIN\\name` for domain ones, the UPN for Entra users. */
  name: string;
  sid: string;
  source: 'local' | 'domain' | 'entra';
  enabled: boolean;
}

export interface SimulatedProfiles {
  accounts: SimulatedAccount[];
  /** HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList, by SID. */
  profileList: Record<string, { ProfileImagePath: string; Flags: number; State: number }>;
  /** Files and folders under C:\\Users: owner SID and ACL entries `SID:RIGHTS`. */
  files: Record<string, { owner: string; aces: string[] }>;
  /** Each hive file's root key ACL entries (`SID:RIGHTS`). */
  hives: Record<string, string[]>;
  /** SIDs whose hives are loaded without an interactive session (a service, a stuck process). */
  loadedHives: string[];
  appx: Record<string, string[]>;
  /** Local groups by name: their SID and member SIDs. */
  groups: Record<string, { sid: string; members: string[] }>;
  /** HKLM\\SOFTWARE\\Policies\\Microsoft\\OneDrive values. */
  oneDrive: Record<string, string | number>;
  entraTenantId: string | null;
  /** Backups kept on the machine (C:\\ProgramData\\Drydock\\migration\\<id>): canonical JSON and its SHA-256. */
  backups: Record<string, { data: string; checksum: string }>;
  /** Files robocopy has copied per backup id: a second run skips them (resume). */
  copied: Record<string, string[]>;
  notifications: { sid: string; message: string }[];
  /** Fault points (`reassign:file-acls`, `backup`, …) that fail once, permanently or not. */
  faults: Record<string, 'fail' | 'transient'>;
}

export const emptyProfiles = (): SimulatedProfiles => ({
  accounts: [],
  profileList: {},
  files: {},
  hives: {},
  loadedHives: [],
  appx: {},
  groups: {
    Administrators: { sid: 'S-1-5-32-544', members: [] },
    Users: { sid: 'S-1-5-32-545', members: [] },
    'Remote Desktop Users': { sid: 'S-1-5-32-555', members: [] },
  },
  oneDrive: {},
  entraTenantId: null,
  backups: {},
  copied: {},
  notifications: [],
  faults: {},
});

const SYSTEM = 'S-1-5-18';
const ADMINS = 'S-1-5-32-544';
/** Where a profile's two hives live, relative to it. */
export const HIVE_FILES = ['NTUSER.DAT', 'AppData\\Local\\Microsoft\\Windows\\UsrClass.dat'];
/** A profile's sample content: ordinary folders, the hives, and what DPAPI protects. */
const SAMPLE_FILES = [
  'Desktop\\report.docx',
  'Documents\\budget.xlsx',
  'Pictures\\team.jpg',
  'AppData\\Roaming\\Microsoft\\Protect\\CREDHIST',
  'AppData\\Local\\Google\\Chrome\\User Data\\Default\\Login Data',
  'AppData\\Local\\Temp\\setup.log',
];

/** Adds an account with a profile (files with the owner's ACL, hives, AppX) to a host's state. */
export function addProfileUser(
  profiles: SimulatedProfiles,
  user: {
    name: string;
    sid: string;
    source: SimulatedAccount['source'];
    profile?: boolean;
    appx?: string[];
    groups?: string[];
  },
): void {
  profiles.accounts.push({ name: user.name, sid: user.sid, source: user.source, enabled: true });
  for (const g of user.groups ?? []) profiles.groups[g]?.members.push(user.sid);
  if (user.profile === false) return;
  const base = user.name.split('\\').pop()!.split('@')[0]!;
  let folder = `C:\\Users\\${base}`;
  if (Object.values(profiles.profileList).some((e) => e.ProfileImagePath === folder))
    folder += `.${user.source.toUpperCase()}`;
  profiles.profileList[user.sid] = { ProfileImagePath: folder, Flags: 0, State: 0 };
  const aces = [`${user.sid}:F`, `${SYSTEM}:F`, `${ADMINS}:F`];
  profiles.files[folder] = { owner: user.sid, aces: [...aces] };
  for (const f of [...SAMPLE_FILES, ...HIVE_FILES])
    profiles.files[`${folder}\\${f}`] = { owner: user.sid, aces: [...aces] };
  for (const h of HIVE_FILES)
    profiles.hives[`${folder}\\${h}`] = [`${user.sid}:F`, `${SYSTEM}:F`, `${ADMINS}:F`];
  profiles.appx[user.sid] = [...(user.appx ?? ['Microsoft.WindowsCalculator', 'Microsoft.WindowsNotepad'])];
}

const under = (root: string, path: string) =>
  path.toLowerCase() === root.toLowerCase() || path.toLowerCase().startsWith(`${root.toLowerCase()}\\`);
const swap = (aces: string[], from: string, to: string) => [
  ...new Set(aces.map((a) => (a.split(':')[0] === from ? `${to}:${a.split(':').slice(1).join(':')}` : a))),
];
const sidsOf = (aces: string[]) => [...new Set(aces.map((a) => a.split(':')[0]!))].sort();

/** JSON with sorted keys: the same state gives the same checksum. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value ?? null);
}

interface BackupData {
  request: ProfileBackupRequest;
  profileList: Record<string, SimulatedProfiles['profileList'][string] | null>;
  files: Record<string, { owner: string; aces: string[] }>;
  hives: Record<string, string[]>;
  groups: Record<string, string[]>;
  appx: Record<string, string[] | null>;
  oneDrive: Record<string, string | number>;
  accounts: Record<string, boolean | null>;
}

/** How the simulated host lets this module read and change its persisted state. */
export interface ProfileHost {
  profiles(): SimulatedProfiles;
  signedIn(): string[];
  domain(): string | null;
  freeDiskGb(): number;
  pendingReboot(): string[];
  /** One persisted change, then the harness's `afterEffect` hook (a power cut may follow). */
  effect(key: string, change: (p: SimulatedProfiles) => void): void;
}

export class SimulatedProfileOps {
  constructor(private readonly host: ProfileHost) {}

  private get p(): SimulatedProfiles {
    return this.host.profiles();
  }

  /** A named fault point: fails once (then clears itself, persisted). */
  private fault(point: string): void {
    const kind = this.p.faults[point];
    if (!kind) return;
    this.host.effect(`fault:${point}`, (p) => void delete p.faults[point]);
    throw new PlatformError(`simulated fault at ${point}`, kind === 'fail');
  }

  private account(sid: string) {
    return this.p.accounts.find((a) => a.sid === sid);
  }

  private loaded(sid: string): boolean {
    return this.host.signedIn().includes(sid) || this.p.loadedHives.includes(sid);
  }

  async profileFacts(source: string, target: MigrationTarget): Promise<ProfileFacts> {
    this.fault('check');
    const p = this.p;
    const sourceSid = isSid(source)
      ? source
      : p.accounts.find((a) => a.name.toLowerCase() === source.toLowerCase())?.sid;
    const entry = sourceSid ? p.profileList[sourceSid] : undefined;
    const files = entry ? Object.keys(p.files).filter((f) => under(entry.ProfileImagePath, f)).length : 0;
    return {
      source:
        sourceSid && entry
          ? {
              sid: sourceSid,
              profilePath: entry.ProfileImagePath,
              loaded: this.loaded(sourceSid),
              sizeMb: files * 40,
            }
          : null,
      target: this.resolveTarget(target),
      entraTenantId: p.entraTenantId,
      freeDiskGb: this.host.freeDiskGb(),
      pendingReboot: this.host.pendingReboot(),
    };
  }

  private resolveTarget(target: MigrationTarget): ProfileFacts['target'] {
    const p = this.p;
    const profileOf = (sid: string) => p.profileList[sid]?.ProfileImagePath ?? null;
    if (target.kind === 'entra') {
      const sid = entraObjectIdToSid(target.objectId);
      if (sid !== target.sid)
        return { sid: null, detail: `the object id gives ${sid}, not ${target.sid}`, profilePath: null };
      return {
        sid,
        detail: `Entra ID user ${target.upn ?? target.objectId} (${sid})`,
        profilePath: profileOf(sid),
      };
    }
    if (target.kind === 'domain') {
      const domain = this.host.domain();
      const [netbios] = target.name.split('\\');
      if (!domain) return { sid: null, detail: 'the machine is not joined to a domain', profilePath: null };
      if (!target.name.includes('\\') || netbios!.toLowerCase() !== domain.split('.')[0]!.toLowerCase())
        return {
          sid: null,
          detail: `${target.name} is not in the machine's domain ${domain}`,
          profilePath: null,
        };
    }
    const found = p.accounts.find(
      (a) => a.name.toLowerCase() === target.name.toLowerCase() && a.source === target.kind,
    );
    return found
      ? { sid: found.sid, detail: `${found.name} (${found.sid})`, profilePath: profileOf(found.sid) }
      : {
          sid: null,
          detail: `${target.name} does not resolve (NTAccount.Translate: IdentityNotMappedException)`,
          profilePath: null,
        };
  }

  async notifyUser(sid: string, message: string): Promise<number> {
    if (!this.host.signedIn().includes(sid)) return 0;
    this.host.effect(`notify:${sid}`, (p) => void p.notifications.push({ sid, message }));
    return 1;
  }

  async backupProfile(r: ProfileBackupRequest) {
    this.fault('backup');
    const location = `C:\\ProgramData\\Drydock\\migration\\${r.backupId}`;
    const existing = this.p.backups[r.backupId];
    if (existing) return { checksum: existing.checksum, location, created: false };
    const p = this.p;
    const roots = [r.profilePath, ...(r.targetProfilePath ? [r.targetProfilePath] : [])];
    const data: BackupData = {
      request: r,
      profileList: Object.fromEntries([r.sourceSid, r.targetSid].map((s) => [s, p.profileList[s] ?? null])),
      files: Object.fromEntries(
        Object.entries(p.files).filter(([f]) => roots.some((root) => under(root, f))),
      ),
      hives: Object.fromEntries(Object.entries(p.hives).filter(([h]) => under(r.profilePath, h))),
      groups: Object.fromEntries(Object.entries(p.groups).map(([g, v]) => [g, v.members])),
      appx: Object.fromEntries([r.sourceSid, r.targetSid].map((s) => [s, p.appx[s] ?? null])),
      oneDrive: p.oneDrive,
      accounts: Object.fromEntries(
        [r.sourceSid, r.targetSid].map((s) => [s, this.account(s)?.enabled ?? null]),
      ),
    };
    const text = canonicalJson(data);
    const checksum = createHash('sha256').update(text).digest('hex');
    this.host.effect(`backup:${r.backupId}`, (q) => void (q.backups[r.backupId] = { data: text, checksum }));
    return { checksum, location, created: true };
  }

  async backupChecksum(backupId: string): Promise<string | null> {
    const b = this.p.backups[backupId];
    if (!b) return null;
    // A backup altered on the machine no longer matches its own checksum.
    return createHash('sha256').update(b.data).digest('hex');
  }

  async moveProfileListEntry(sourceSid: string, targetSid: string): Promise<boolean> {
    this.fault('reassign:profile-list');
    const p = this.p;
    let changed = false;
    if (!p.profileList[targetSid]) {
      const entry = p.profileList[sourceSid];
      if (!entry) throw new PlatformError(`ProfileList has neither ${sourceSid} nor ${targetSid}`, true);
      this.host.effect(
        `profilelist:copy:${targetSid}`,
        (q) => void (q.profileList[targetSid] = { ...entry }),
      );
      changed = true;
    }
    if (p.profileList[sourceSid]) {
      this.host.effect(`profilelist:delete:${sourceSid}`, (q) => void delete q.profileList[sourceSid]);
      changed = true;
    }
    return changed;
  }

  async substituteProfileAcl(
    backupId: string,
    profilePath: string,
    from: string,
    to: string,
  ): Promise<boolean> {
    if (!this.p.backups[backupId])
      throw new PlatformError(
        `no ACL backup ${backupId}: icacls /restore has nothing to substitute from`,
        true,
      );
    this.fault('reassign:file-acls');
    let changed = false;
    for (const path of Object.keys(this.p.files).sort()) {
      const f = this.p.files[path]!;
      if (!under(profilePath, path) || (f.owner !== from && !f.aces.some((a) => a.startsWith(`${from}:`))))
        continue;
      this.host.effect(`acl:${path}`, (q) => {
        const file = q.files[path]!;
        file.aces = swap(file.aces, from, to);
        if (file.owner === from) file.owner = to;
      });
      changed = true;
    }
    return changed;
  }

  async substituteHiveAcls(profilePath: string, from: string, to: string): Promise<boolean> {
    this.fault('reassign:hive-acls');
    if (this.loaded(from) || this.loaded(to))
      throw new PlatformError('reg load: the hive is in use by another process (loaded)', false);
    let changed = false;
    for (const h of HIVE_FILES.map((f) => `${profilePath}\\${f}`)) {
      const aces = this.p.hives[h];
      if (!aces || !aces.some((a) => a.startsWith(`${from}:`))) continue;
      this.host.effect(`hive:${h}`, (q) => void (q.hives[h] = swap(q.hives[h]!, from, to)));
      changed = true;
    }
    return changed;
  }

  async copyGroupMemberships(from: string, to: string): Promise<string[]> {
    this.fault('reassign:groups');
    const added: string[] = [];
    for (const [name, g] of Object.entries(this.p.groups).sort()) {
      if (!g.members.includes(from) || g.members.includes(to)) continue;
      this.host.effect(`group:${name}:${to}`, (q) => void q.groups[name]!.members.push(to));
      added.push(name);
    }
    return added;
  }

  async robocopyProfile(r: RobocopyRequest) {
    this.fault('copy');
    const p = this.p;
    const excluded = (rel: string) =>
      HIVE_FILES.some((h) => rel.toLowerCase() === h.toLowerCase()) ||
      r.excludeDirs.some(
        (d) => rel.toLowerCase() === d.toLowerCase() || rel.toLowerCase().startsWith(`${d.toLowerCase()}\\`),
      );
    const sources = Object.keys(p.files)
      .filter((f) => under(r.sourcePath, f) && f.toLowerCase() !== r.sourcePath.toLowerCase())
      .map((f) => f.slice(r.sourcePath.length + 1))
      .filter((rel) => !excluded(rel))
      .sort();
    const done = new Set(p.copied[r.backupId] ?? []);
    const resumed = done.size > 0;
    let copied = 0;
    let skipped = 0;
    for (const rel of sources) {
      const dest = `${r.targetPath}\\${rel}`;
      if (done.has(rel) && p.files[dest]) {
        skipped += 1;
        continue;
      }
      // /COPY:DAT: data, attributes, timestamps; the ACL is inherited from the target profile.
      this.host.effect(`robocopy:${dest}`, (q) => {
        q.files[dest] = { owner: r.targetSid, aces: [`${r.targetSid}:F`, `${SYSTEM}:F`, `${ADMINS}:F`] };
        (q.copied[r.backupId] ??= []).push(rel);
      });
      copied += 1;
    }
    return {
      exitCode: copied > 0 ? 1 : 0,
      copied,
      skipped,
      resumed,
      log: `C:\\ProgramData\\Drydock\\migration\\${r.backupId}\\robocopy.log`,
    };
  }

  async setKnownFolderMove(tenantId: string, notifyUser: boolean): Promise<string[]> {
    this.fault('cloud');
    const wanted: Record<string, string | number> = {
      KFMSilentOptIn: tenantId,
      KFMSilentOptInWithNotification: notifyUser ? 1 : 0,
      SilentAccountConfig: 1,
    };
    const changed: string[] = [];
    for (const [name, value] of Object.entries(wanted)) {
      if (this.p.oneDrive[name] === value) continue;
      this.host.effect(`onedrive:${name}`, (q) => void (q.oneDrive[name] = value));
      changed.push(`HKLM\\SOFTWARE\\Policies\\Microsoft\\OneDrive\\${name}`);
    }
    return changed;
  }

  async prepareFirstLogon(from: string, to: string, profilePath: string) {
    this.fault('repair');
    const packages = [...(this.p.appx[from] ?? [])];
    const have = this.p.appx[to] ?? [];
    if (packages.some((a) => !have.includes(a)))
      this.host.effect(
        `appx:${to}`,
        (q) => void (q.appx[to] = [...new Set([...(q.appx[to] ?? []), ...packages])]),
      );
    const files = Object.keys(this.p.files).filter((f) => under(profilePath, f));
    const notMovable: { item: string; reason: string }[] = [];
    if (files.some((f) => /\\Microsoft\\Protect\\/i.test(f)))
      notMovable.push({
        item: 'DPAPI master keys (AppData\\Roaming\\Microsoft\\Protect)',
        reason:
          'bound to the old SID and its password: Credential Manager entries and other DPAPI secrets do not open for the new account',
      });
    if (files.some((f) => /\\Login Data$/i.test(f)))
      notMovable.push({
        item: 'browser saved passwords (Chrome/Edge Login Data)',
        reason:
          'encrypted with a DPAPI key of the old account: export them before, or sign in to browser sync after',
      });
    return {
      appx: packages,
      caches: [
        'Start menu (StartMenuExperienceHost)',
        'Windows Search (SearchHost)',
        'file associations (UserChoice hashes)',
      ],
      notMovable,
    };
  }

  async profileSnapshot(sids: string[], paths: string[]): Promise<ProfileSnapshot> {
    const p = this.p;
    const files = Object.keys(p.files)
      .filter((f) => paths.some((root) => under(root, f)))
      .sort()
      .slice(0, 50)
      .map((path) => ({ path, owner: p.files[path]!.owner, sids: sidsOf(p.files[path]!.aces) }));
    const hives = Object.keys(p.hives)
      .filter((h) => paths.some((root) => under(root, h)))
      .sort()
      .map((path) => ({ path, sids: sidsOf(p.hives[path]!) }));
    const account = (sid: string) => {
      const a = this.account(sid);
      if (!a) return 'absent' as const;
      if (a.source !== 'local') return null;
      return a.enabled ? ('enabled' as const) : ('disabled' as const);
    };
    return {
      profileList: Object.fromEntries(
        sids.map((s) => [
          s,
          p.profileList[s] ? { profileImagePath: p.profileList[s]!.ProfileImagePath } : null,
        ]),
      ),
      files,
      hives,
      appx: Object.fromEntries(sids.map((s) => [s, [...(p.appx[s] ?? [])].sort()])),
      groups: Object.fromEntries(
        sids.map((s) => [
          s,
          Object.entries(p.groups)
            .filter(([, g]) => g.members.includes(s))
            .map(([n]) => n)
            .sort(),
        ]),
      ),
      kfmTenantId: typeof p.oneDrive.KFMSilentOptIn === 'string' ? p.oneDrive.KFMSilentOptIn : null,
      accounts: Object.fromEntries(sids.map((s) => [s, account(s)])),
    };
  }

  async restoreProfileBackup(backupId: string): Promise<string[]> {
    this.fault('restore');
    const b = this.p.backups[backupId];
    if (!b) throw new PlatformError(`no backup ${backupId} on this machine`, true);
    const data = JSON.parse(b.data) as BackupData;
    const r = data.request;
    const restored: string[] = [];
    const roots = [r.profilePath, ...(r.targetProfilePath ? [r.targetProfilePath] : [])];
    const same = (a: unknown, c: unknown) => canonicalJson(a) === canonicalJson(c);
    for (const [sid, entry] of Object.entries(data.profileList)) {
      if (same(this.p.profileList[sid] ?? null, entry)) continue;
      this.host.effect(`restore:profilelist:${sid}`, (q) => {
        if (entry) q.profileList[sid] = entry;
        else delete q.profileList[sid];
      });
      restored.push(`ProfileList\\${sid}`);
    }
    let acls = 0;
    for (const path of Object.keys(this.p.files)
      .filter((f) => roots.some((root) => under(root, f)))
      .sort()) {
      const before = data.files[path];
      if (same(this.p.files[path], before)) continue;
      // robocopy's copies go (the target had no such file); the rest get their saved ACL back (icacls /restore).
      this.host.effect(`restore:acl:${path}`, (q) => {
        if (before) q.files[path] = before;
        else delete q.files[path];
      });
      acls += 1;
    }
    if (acls > 0) restored.push(`ACLs of ${acls} file(s)`);
    for (const [hive, aces] of Object.entries(data.hives)) {
      if (same(this.p.hives[hive], aces)) continue;
      this.host.effect(`restore:hive:${hive}`, (q) => void (q.hives[hive] = aces));
      restored.push(`hive ${hive}`);
    }
    // Groups: the new SID leaves the groups it was not in before (as the Windows script does); other
    // members are left alone, so another user's migration on the same machine keeps its changes.
    for (const [group, members] of Object.entries(data.groups)) {
      const g = this.p.groups[group];
      if (!g || !g.members.includes(r.targetSid) || members.includes(r.targetSid)) continue;
      this.host.effect(`restore:group:${group}`, (q) => {
        q.groups[group]!.members = q.groups[group]!.members.filter((m) => m !== r.targetSid);
      });
      restored.push(`group ${group}`);
    }
    for (const [sid, packages] of Object.entries(data.appx)) {
      if (same(this.p.appx[sid] ?? null, packages)) continue;
      this.host.effect(`restore:appx:${sid}`, (q) => {
        if (packages) q.appx[sid] = packages;
        else delete q.appx[sid];
      });
      restored.push(`AppX registrations of ${sid}`);
    }
    if (!same(this.p.oneDrive, data.oneDrive)) {
      this.host.effect('restore:onedrive', (q) => void (q.oneDrive = data.oneDrive));
      restored.push('OneDrive policy');
    }
    if (this.p.copied[backupId])
      this.host.effect(`restore:copied:${backupId}`, (q) => void delete q.copied[backupId]);
    return restored;
  }

  async retireAccount(sid: string, action: 'disable' | 'delete'): Promise<boolean> {
    this.fault('retire');
    const a = this.account(sid);
    if (!a) return false;
    if (a.source !== 'local')
      throw new PlatformError(`${a.name} is not a local account: disable it in its directory`, true);
    if (action === 'disable') {
      if (!a.enabled) return false;
      this.host.effect(
        `retire:disable:${sid}`,
        (q) => void (q.accounts.find((x) => x.sid === sid)!.enabled = false),
      );
      return true;
    }
    this.host.effect(`retire:delete:${sid}`, (q) => {
      q.accounts = q.accounts.filter((x) => x.sid !== sid);
      for (const g of Object.values(q.groups)) g.members = g.members.filter((m) => m !== sid);
    });
    return true;
  }
}
