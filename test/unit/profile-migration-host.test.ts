import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SimulatedPlatform } from '../../agent/platform/simulated/simulated-host';
import { runStep } from '../../agent/steps';
import { StepKind, type MigrationTarget } from '../../infra/wire/agent-steps';
import { entraObjectIdToSid } from '../../infra/wire/entra-sid';
import type { MigrationMode } from '../../workflows/migration/contracts';
import {
  changeableState,
  ctx,
  DOMAIN_SID,
  ENTRA_OBJECT,
  entraTarget,
  migrateOnHost,
  migrationHost,
  migrationInput,
  type DriverStep,
} from '../helpers/migration-host';

/**
 * Profile migration on the simulated host (issue 17, acceptance 1 and 2): every mode migrates and
 * the final state is checked item by item; a fault after each step, a fault inside each step and
 * an agent kill after every single change leave the machine fully migrated or exactly as before.
 */
let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-migration-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sidOf = (host: SimulatedPlatform, name: string) =>
  host.snapshot.profiles.accounts.find((a) => a.name === name)!.sid;

interface Case {
  name: string;
  source: (h: SimulatedPlatform) => string;
  target: MigrationTarget;
  targetSid: (h: SimulatedPlatform) => string;
}
const inPlace: Case[] = [
  {
    name: 'local → local',
    source: () => 'alice',
    target: { kind: 'local', name: 'carol' },
    targetSid: (h) => sidOf(h, 'carol'),
  },
  {
    name: 'local → domain',
    source: () => 'alice',
    target: { kind: 'domain', name: 'CONTOSO\\alice.new' },
    targetSid: () => `${DOMAIN_SID}-2001`,
  },
  {
    name: 'domain → domain',
    source: () => 'CONTOSO\\bob',
    target: { kind: 'domain', name: 'CONTOSO\\alice.new' },
    targetSid: () => `${DOMAIN_SID}-2001`,
  },
  {
    name: 'domain → local',
    source: () => `${DOMAIN_SID}-1105`,
    target: { kind: 'local', name: 'carol' },
    targetSid: (h) => sidOf(h, 'carol'),
  },
  {
    name: 'local → Entra ID',
    source: () => 'alice',
    target: entraTarget(),
    targetSid: () => entraObjectIdToSid(ENTRA_OBJECT),
  },
  {
    name: 'domain → Entra ID',
    source: () => 'CONTOSO\\bob',
    target: entraTarget(),
    targetSid: () => entraObjectIdToSid(ENTRA_OBJECT),
  },
];

describe('the Entra ID SID', () => {
  it('is derived from the object id as Windows does (an independent pair: Microsoft Graph / Terraform azuread)', () => {
    expect(entraObjectIdToSid('73d664e4-0886-4a73-b745-c694da45ddb4')).toBe(
      'S-1-12-1-1943430372-1249052806-2496021943-3034400218',
    );
    expect(() => entraObjectIdToSid('not-a-guid')).toThrow('GUID');
  });
});

describe('in-place re-assignment, every direction', () => {
  it.each(inPlace)(
    '$name: ProfileList, file ACLs, hive ACLs, AppX and groups move to the new SID',
    async (c) => {
      const host = migrationHost(dir, 'pc');
      const sourceSid = host.snapshot.profiles.accounts.find(
        (a) => a.name === c.source(host) || a.sid === c.source(host),
      )!.sid;
      const profilePath = host.snapshot.profiles.profileList[sourceSid]!.ProfileImagePath;
      const before = changeableState(host);
      const { outcome, resolved } = await migrateOnHost(
        host,
        migrationInput({ source: c.source(host), target: c.target }),
      );
      expect(outcome).toBe('passed');
      const targetSid = c.targetSid(host);
      expect(resolved).toEqual({ sourceSid, targetSid, profilePath, targetProfilePath: null });
      const p = host.snapshot.profiles;
      // ProfileList: the same folder, under the new SID only.
      expect(p.profileList[targetSid]).toEqual(before.profileList![sourceSid]);
      expect(p.profileList[sourceSid]).toBeUndefined();
      // A sample of files: owner and ACL entry now the new SID; SYSTEM and Administrators untouched.
      for (const f of [
        '',
        '\\Desktop\\report.docx',
        '\\Documents\\budget.xlsx',
        '\\NTUSER.DAT',
        '\\AppData\\Local\\Microsoft\\Windows\\UsrClass.dat',
      ]) {
        expect(p.files[`${profilePath}${f}`]).toEqual({
          owner: targetSid,
          aces: [`${targetSid}:F`, 'S-1-5-18:F', 'S-1-5-32-544:F'],
        });
      }
      // Both hives' root keys.
      expect(p.hives[`${profilePath}\\NTUSER.DAT`]).toEqual([
        `${targetSid}:F`,
        'S-1-5-18:F',
        'S-1-5-32-544:F',
      ]);
      expect(p.hives[`${profilePath}\\AppData\\Local\\Microsoft\\Windows\\UsrClass.dat`]).toEqual([
        `${targetSid}:F`,
        'S-1-5-18:F',
        'S-1-5-32-544:F',
      ]);
      // AppX registered for the new SID; groups the old SID had, the new one has too.
      expect(p.appx[targetSid]).toEqual(expect.arrayContaining(before.appx![sourceSid]!));
      for (const [group, g] of Object.entries(p.groups))
        if (before.groups![group]!.members.includes(sourceSid)) expect(g.members).toContain(targetSid);
      // Nobody else's profile was touched.
      const others = Object.keys(before.files!).filter((f) => !f.startsWith(profilePath));
      for (const f of others) expect(p.files[f]).toEqual(before.files![f]);
    },
  );

  it('refuses an Entra target on a machine that is not Entra-joined, before changing anything', async () => {
    const host = migrationHost(dir, 'pc');
    host.mutate((s) => void (s.profiles.entraTenantId = null));
    const before = changeableState(host);
    await expect(
      migrateOnHost(host, migrationInput({ source: 'alice', target: entraTarget() })),
    ).rejects.toThrow('entra-joined: the machine is not Entra-joined');
    expect(changeableState(host)).toEqual(before);
  });

  it('refuses a target outside the machine’s domain, one that does not resolve, and a target SID the object id does not give', async () => {
    const host = migrationHost(dir, 'pc');
    await expect(
      migrateOnHost(
        host,
        migrationInput({ source: 'alice', target: { kind: 'domain', name: 'FABRIKAM\\alice' } }),
      ),
    ).rejects.toThrow("not in the machine's domain");
    await expect(
      migrateOnHost(host, migrationInput({ source: 'alice', target: { kind: 'local', name: 'nobody' } })),
    ).rejects.toThrow('does not resolve');
    await expect(
      migrateOnHost(
        host,
        migrationInput({
          source: 'alice',
          target: { ...entraTarget(), sid: 'S-1-12-1-1-2-3-4' } as MigrationTarget,
        }),
      ),
    ).rejects.toThrow('entra-joined');
  });

  it('waits while the user is signed in: the check reports it and nothing changes', async () => {
    const host = migrationHost(dir, 'pc');
    host.mutate((s) => void s.signedIn.push(sidOf(host, 'alice')));
    const check = await runStep(
      host,
      StepKind.ProfileCheck,
      { mode: 'in-place', source: 'alice', target: { kind: 'local', name: 'carol' }, minFreeDiskGb: 2 },
      ctx('c'),
    );
    expect(check.loaded).toBe(true);
    expect(check.checks.find((x) => x.check === 'signed-out')).toMatchObject({ ok: false });
    const told = await runStep(
      host,
      StepKind.ProfileNotify,
      { sid: sidOf(host, 'alice'), message: 'please sign out', seconds: 600 },
      ctx('n'),
    );
    expect(told.sessions).toBe(1);
    expect(host.snapshot.profiles.notifications).toEqual([
      { sid: sidOf(host, 'alice'), message: 'please sign out' },
    ]);
  });
});

describe('copy and cloud modes', () => {
  it('copy: robocopy puts the files in the target profile, owned by the new SID, hives and excluded folders left behind', async () => {
    const host = migrationHost(dir, 'pc');
    const { outcome } = await migrateOnHost(
      host,
      migrationInput({
        mode: 'copy',
        source: 'alice',
        target: { kind: 'local', name: 'dave' },
        excludeDirs: ['AppData\\Local\\Temp'],
      }),
    );
    expect(outcome).toBe('passed');
    const dave = sidOf(host, 'dave');
    const alice = sidOf(host, 'alice');
    const p = host.snapshot.profiles;
    expect(p.files['C:\\Users\\dave\\Desktop\\report.docx']).toEqual({
      owner: dave,
      aces: [`${dave}:F`, 'S-1-5-18:F', 'S-1-5-32-544:F'],
    });
    const copied = Object.keys(host.snapshot.effects).filter((k) => k.startsWith('robocopy:'));
    expect(copied).toContain('robocopy:C:\\Users\\dave\\Documents\\budget.xlsx');
    expect(copied.filter((k) => /Temp|NTUSER\.DAT|UsrClass\.dat/.test(k))).toEqual([]);
    // dave's own hive stays his; alice's profile is untouched (copy, not move).
    expect(p.hives['C:\\Users\\dave\\NTUSER.DAT']).toEqual([`${dave}:F`, 'S-1-5-18:F', 'S-1-5-32-544:F']);
    expect(p.files['C:\\Users\\alice\\Desktop\\report.docx']!.owner).toBe(alice);
    expect(p.profileList[alice]).toBeDefined();
    expect(p.groups.Administrators!.members).toContain(dave);
  });

  it('copy resumes after a crash in the middle: nothing is copied twice', async () => {
    const host = migrationHost(dir, 'pc');
    let effects = 0;
    host.afterEffect = (key) => {
      if (key.startsWith('robocopy:') && ++effects === 3)
        throw Object.assign(new Error('agent killed'), { fatal: true });
    };
    const input = migrationInput({ mode: 'copy', source: 'alice', target: { kind: 'local', name: 'dave' } });
    expect((await migrateOnHost(host, input)).outcome).toBe('passed');
    const copies = Object.entries(host.snapshot.effects).filter(([k]) => k.startsWith('robocopy:'));
    expect(copies.length).toBeGreaterThan(3);
    expect(copies.every(([, n]) => n === 1)).toBe(true);
  });

  it('cloud: the OneDrive Known Folder Move policy for the tenant, nothing else', async () => {
    const host = migrationHost(dir, 'pc');
    const before = changeableState(host);
    const { outcome } = await migrateOnHost(
      host,
      migrationInput({ mode: 'cloud', source: 'alice', target: entraTarget() }),
    );
    expect(outcome).toBe('passed');
    expect(host.snapshot.profiles.oneDrive).toEqual({
      KFMSilentOptIn: '7c0a1e55-1f2b-4c3d-8e9f-0a1b2c3d4e5f',
      KFMSilentOptInWithNotification: 1,
      SilentAccountConfig: 1,
    });
    expect({ ...changeableState(host), oneDrive: {} }).toEqual(before);
  });
});

const modes: { mode: MigrationMode; target: MigrationTarget }[] = [
  { mode: 'in-place', target: { kind: 'domain', name: 'CONTOSO\\alice.new' } },
  { mode: 'in-place', target: entraTarget() },
  { mode: 'copy', target: { kind: 'local', name: 'dave' } },
  { mode: 'cloud', target: entraTarget() },
];

describe('faults: fully migrated or exactly as before', () => {
  it.each(modes)(
    '$mode → $target.kind: a fault after each step rolls back to exactly the backup',
    async ({ mode, target }) => {
      for (const step of ['backup', 'change', 'repair'] as DriverStep[]) {
        const host = migrationHost(dir, `pc-${step}`);
        const before = changeableState(host);
        const run = await migrateOnHost(host, migrationInput({ mode, source: 'alice', target }), (s) => {
          if (s === step) throw new Error(`fault after ${s}`);
        });
        expect(run).toMatchObject({ outcome: 'rolled-back', error: `fault after ${step}` });
        expect(changeableState(host)).toEqual(before);
      }
    },
  );

  it.each(['reassign:profile-list', 'reassign:file-acls', 'reassign:hive-acls', 'reassign:groups', 'repair'])(
    'a permanent failure inside the step (%s) rolls back to exactly the backup',
    async (point) => {
      const host = migrationHost(dir, 'pc');
      const before = changeableState(host);
      host.mutate((s) => void (s.profiles.faults[point] = 'fail'));
      const run = await migrateOnHost(host, migrationInput({ source: 'alice', target: entraTarget() }));
      expect(run.outcome).toBe('rolled-back');
      expect(run.error).toContain(`simulated fault at ${point}`);
      expect(changeableState(host)).toEqual(before);
    },
  );

  it.each(modes)(
    '$mode → $target.kind: an agent kill after any single change ends fully migrated',
    async ({ mode, target }) => {
      const clean = migrationHost(dir, 'clean');
      const input = migrationInput({ mode, source: 'alice', target });
      await migrateOnHost(clean, input);
      const migrated = changeableState(clean);
      const changes = Object.values(clean.snapshot.effects).reduce((a, b) => a + b, 0);
      expect(changes).toBeGreaterThan(3);
      for (let n = 1; n <= changes; n++) {
        const host = migrationHost(dir, `kill-${n}`);
        let seen = 0;
        host.afterEffect = () => {
          if (++seen === n) throw Object.assign(new Error(`agent killed after change ${n}`), { fatal: true });
        };
        expect((await migrateOnHost(host, input)).outcome).toBe('passed');
        expect(changeableState(host)).toEqual(migrated);
      }
    },
  );

  it('an agent kill after any single change of the compensation still ends exactly as before', async () => {
    const probe = migrationHost(dir, 'probe');
    const input = migrationInput({ source: 'alice', target: { kind: 'local', name: 'carol' } });
    const fail = (s: DriverStep) => {
      if (s === 'repair') throw new Error('fault');
    };
    const counted = { n: 0, restoring: false };
    probe.afterEffect = (key) => void (key.startsWith('restore:') && counted.n++);
    await migrateOnHost(probe, input, fail);
    expect(counted.n).toBeGreaterThan(3);
    for (let n = 1; n <= counted.n; n++) {
      const host = migrationHost(dir, `undo-${n}`);
      const before = changeableState(host);
      let seen = 0;
      host.afterEffect = (key) => {
        if (key.startsWith('restore:') && ++seen === n)
          throw Object.assign(new Error('killed'), { fatal: true });
      };
      expect((await migrateOnHost(host, input, fail)).outcome).toBe('rolled-back');
      expect(changeableState(host)).toEqual(before);
    }
  });

  it('a backup changed on the machine stops the re-assignment before it changes anything', async () => {
    const host = migrationHost(dir, 'pc');
    await migrateOnHost(
      host,
      migrationInput({ source: 'alice', target: { kind: 'local', name: 'carol' } }),
      (s) => {
        if (s === 'backup') {
          host.mutate((st) => void delete st.profiles.backups['mig-1']);
          throw new Error('stop');
        }
      },
    ).catch(() => {});
    await expect(
      runStep(
        host,
        StepKind.ProfileReassign,
        {
          backupId: 'mig-1',
          sourceSid: sidOf(host, 'alice'),
          targetSid: sidOf(host, 'carol'),
          profilePath: 'C:\\Users\\alice',
          copyGroups: false,
        },
        ctx('r'),
      ),
    ).rejects.toMatchObject({ type: 'BackupMismatch', retryable: false });
  });

  it('retires the old local account only when asked, and refuses a domain account', async () => {
    const host = migrationHost(dir, 'pc');
    const alice = sidOf(host, 'alice');
    expect(
      await runStep(
        host,
        StepKind.ProfileRetire,
        { backupId: 'x', sourceSid: alice, action: 'disable' },
        ctx('r1'),
      ),
    ).toMatchObject({ changed: true });
    expect(
      await runStep(
        host,
        StepKind.ProfileRetire,
        { backupId: 'x', sourceSid: alice, action: 'disable' },
        ctx('r2'),
      ),
    ).toMatchObject({ changed: false, alreadyDone: true });
    await expect(
      runStep(
        host,
        StepKind.ProfileRetire,
        { backupId: 'x', sourceSid: `${DOMAIN_SID}-1105`, action: 'disable' },
        ctx('r3'),
      ),
    ).rejects.toMatchObject({ retryable: false });
  });
});
