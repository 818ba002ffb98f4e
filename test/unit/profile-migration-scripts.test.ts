import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { wrapScript } from '../../agent/platform/windows/powershell';
import { WindowsPlatform } from '../../agent/platform/windows/windows-platform';
import { entraObjectIdToSid } from '../../infra/wire/entra-sid';
import { fakeRunner, json } from '../helpers/powershell';

/**
 * The Windows side of profile migration: every script WindowsPlatform generates for it, pinned by a
 * golden file (test/fixtures/golden/profile-migration; `UPDATE_GOLDEN=1` rewrites them after a
 * reviewed change) and parsed by a real PowerShell grammar — with hostile paths and names too.
 * Generated through WindowsPlatform with a recording runner, so what is pinned is what would run.
 */
const GOLDEN = path.join(__dirname, '../fixtures/golden/profile-migration');
let parser: Parser;
beforeAll(async () => {
  await Parser.init();
  parser = new Parser();
  parser.setLanguage(
    await Language.load(readFileSync(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'))),
  );
});

function parseProblems(script: string): string[] {
  const tree = parser.parse(script)!;
  const problems: string[] = [];
  const walk = (node: Node) => {
    if (node.isError || node.isMissing)
      problems.push(
        `${node.isMissing ? 'MISSING' : 'ERROR'} at ${node.startPosition.row + 1}: ${(script.split('\n')[node.startPosition.row] ?? '').trim().slice(0, 160)}`,
      );
    if (node.hasError) for (const child of node.children) if (child) walk(child);
  };
  walk(tree.rootNode);
  tree.delete();
  return problems;
}

const SOURCE = 'S-1-5-21-1004336348-1177238915-682003330-1105';
const TARGET = entraObjectIdToSid('73d664e4-0886-4a73-b745-c694da45ddb4');

/** Each platform call with one answer; the script it ran is what gets pinned. */
async function scripts(profilePath: string, name: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const record = async (label: string, answer: unknown, call: (p: WindowsPlatform) => Promise<unknown>) => {
    const { run, calls } = fakeRunner(() => json(answer));
    await call(new WindowsPlatform({ run }));
    out[label] = calls[0]!.script;
  };
  await record(
    'profile-facts',
    {
      source: null,
      target: { sid: null, detail: '', profilePath: null },
      entraTenantId: null,
      freeDiskGb: 1,
    },
    (p) => p.profileFacts(name, { kind: 'domain', name: `CONTOSO\\${name}` }),
  );
  await record('notify-user', 1, (p) => p.notifyUser(SOURCE, `Please sign out, ${name} "now"`, 600));
  await record('backup', { checksum: 'a'.repeat(64), location: 'x', created: true }, (p) =>
    p.backupProfile({
      backupId: 'mig-1',
      mode: 'copy',
      sourceSid: SOURCE,
      targetSid: TARGET,
      profilePath,
      targetProfilePath: `${profilePath}.NEW`,
    }),
  );
  await record('backup-checksum', null, (p) => p.backupChecksum('mig-1'));
  await record('move-profile-list', true, (p) => p.moveProfileListEntry(SOURCE, TARGET));
  await record('substitute-acl', true, (p) => p.substituteProfileAcl('mig-1', profilePath, SOURCE, TARGET));
  await record('substitute-hive-acl', true, (p) => p.substituteHiveAcls(profilePath, SOURCE, TARGET));
  await record('copy-groups', ['Administrators'], (p) => p.copyGroupMemberships(SOURCE, TARGET));
  await record('robocopy', { exitCode: 1, copied: 3, skipped: 0, resumed: false, log: 'x' }, (p) =>
    p.robocopyProfile({
      backupId: 'mig-1',
      sourcePath: profilePath,
      targetPath: `${profilePath}.NEW`,
      targetSid: TARGET,
      excludeDirs: ['AppData\\Local\\Temp', name],
    }),
  );
  await record('known-folder-move', [], (p) =>
    p.setKnownFolderMove('7c0a1e55-1f2b-4c3d-8e9f-0a1b2c3d4e5f', true),
  );
  await record('first-logon', { appx: [], caches: [], notMovable: [] }, (p) =>
    p.prepareFirstLogon(SOURCE, TARGET, profilePath),
  );
  await record(
    'profile-snapshot',
    { profileList: {}, files: [], hives: [], appx: {}, groups: {}, kfmTenantId: null, accounts: {} },
    (p) => p.profileSnapshot([SOURCE, TARGET], [profilePath]),
  );
  await record('restore', [], (p) => p.restoreProfileBackup('mig-1'));
  await record('retire', true, (p) => p.retireAccount(SOURCE, 'disable'));
  return out;
}

describe('profile-migration scripts', () => {
  it('are pinned by their golden files', async () => {
    const generated = await scripts('C:\\Users\\alice', 'alice');
    mkdirSync(GOLDEN, { recursive: true });
    for (const [label, script] of Object.entries(generated)) {
      const file = path.join(GOLDEN, `${label}.ps1`);
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, script);
      expect(`${label}:\n${script}`).toBe(`${label}:\n${readFileSync(file, 'utf8')}`);
    }
    expect(Object.keys(generated)).toHaveLength(14);
  });

  it.each([
    ['C:\\Users\\alice', 'alice'],
    ["C:\\Users\\o'brien $(calc)", "o'brien; Remove-Item C:\\ -Recurse"],
    ['C:\\Users\\‘smart’ `n', '$env:USERNAME "quoted"'],
  ])('parse as PowerShell with no error for %s', async (profilePath, name) => {
    for (const [label, script] of Object.entries(await scripts(profilePath, name)))
      expect({ label, problems: parseProblems(wrapScript(script)) }).toEqual({ label, problems: [] });
  });

  it('keep hostile values literal: a quote in a path is doubled, never closes the string', async () => {
    const generated = await scripts("C:\\Users\\o'brien", "o'brien");
    expect(generated['substitute-acl']).toContain("$profilePath = 'C:\\Users\\o''brien'");
    expect(generated['notify-user']).toContain("$message = 'Please sign out, o''brien ''now'''");
  });

  it('use the documented command forms', async () => {
    const g = await scripts('C:\\Users\\alice', 'alice');
    expect(g['substitute-acl']).toContain(
      "@($parent, '/substitute', ('*' + $sourceSid), ('*' + $targetSid), '/restore', $acl, '/c', '/q')",
    );
    expect(g['substitute-acl']).toContain("'/setowner', ('*' + $targetSid), '/t', '/c', '/q'");
    expect(g.backup).toContain("'/save', (Join-Path $dir 'profile.acl'), '/t', '/c', '/q'");
    expect(g.backup).toContain("@('export', ($profileList + '\\' + $pair[1]), $file, '/y')");
    expect(g['move-profile-list']).toContain(
      "@('copy', ($profileList + '\\' + $sourceSid), ($profileList + '\\' + $targetSid), '/s', '/f')",
    );
    expect(g.robocopy).toContain("'/E', '/COPY:DAT', '/DCOPY:DAT', '/Z', '/R:3', '/W:10'");
    expect(g['known-folder-move']).toContain("KFMSilentOptIn = '7c0a1e55-1f2b-4c3d-8e9f-0a1b2c3d4e5f'");
    expect(g['first-logon']).toContain('Add-AppxPackage -DisableDevelopmentMode -Register');
    expect(g['profile-facts']).toContain('dsregcmd.exe');
  });
});
