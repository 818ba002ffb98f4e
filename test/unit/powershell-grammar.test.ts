import { readFileSync } from 'node:fs';
import { Language, Parser, type Node } from 'web-tree-sitter';
import type { PsResult } from '../../agent/platform/windows/powershell';
import { wrapScript } from '../../agent/platform/windows/powershell';
import { WindowsPlatform } from '../../agent/platform/windows/windows-platform';
import { tweakCatalogue } from '../../infra/provisioning/tweaks';
import { fakeRunner, json } from '../helpers/powershell';

/**
 * Every PowerShell script the Windows agent can generate, for every kind of profile value —
 * hostile ones included — parsed by a real PowerShell grammar (tree-sitter-powershell, through
 * web-tree-sitter's WASM runtime) with no ERROR or MISSING node. The scripts are collected by
 * driving WindowsPlatform itself with a runner that records them, so a new method is covered the
 * moment a test below calls it.
 */
let parser: Parser;
beforeAll(async () => {
  await Parser.init();
  // Bytes, not a path: with a path web-tree-sitter imports fs dynamically, which Jest's CommonJS VM refuses.
  const language = await Language.load(
    readFileSync(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm')),
  );
  parser = new Parser();
  parser.setLanguage(language);
});

/** Where the grammar found an error or inserted a missing token, with a little context. */
function parseProblems(script: string): string[] {
  const tree = parser.parse(script)!;
  const problems: string[] = [];
  const walk = (node: Node) => {
    if (node.isError || node.isMissing) {
      const line = script.split('\n')[node.startPosition.row] ?? '';
      problems.push(
        `${node.isMissing ? 'MISSING' : 'ERROR'} at ${node.startPosition.row + 1}: ${line.trim().slice(0, 160)}`,
      );
    }
    if (node.hasError) for (const child of node.children) if (child) walk(child);
  };
  walk(tree.rootNode);
  tree.delete();
  return problems;
}

// Values a profile, a payload or Windows could hand a script generator, hostile ones included.
const hostile = [
  "it's",
  "'; Remove-Item -Recurse C:\\ ; '",
  '‘smart’ ‚low‛ quotes',
  '$(Invoke-Expression calc)',
  '$env:USERNAME ${x} @(1)',
  'back`tick `n `$',
  'a; b | c & d && e || f',
  'line1\nline2\r\nline3',
  '"double" and \\"escaped\\" \\\\"',
  '\'@\n"@\n#> <# here-string ends',
  'unicode: é 中文 😀',
  'trailing backslash \\',
];

const answer = (script: string): PsResult => {
  // Enough for each method to finish: the scripts are what is checked, not the answers.
  if (script.includes('Get-Winget'))
    return json({ ok: true, path: 'C:\\w.exe', version: '1.10.340', runtime: 'x', exitCode: 0, output: '' });
  return json({ exitCode: 0, output: '', changed: true, bootCount: 1, uptimeSeconds: 1 });
};

/** Scripts recorded by platforms a case made itself (a constructor option under test). */
let recorded: { script: string }[][] = [];

async function scriptsOf(drive: (p: WindowsPlatform) => Promise<unknown>): Promise<string[]> {
  const { run, calls } = fakeRunner(answer);
  const platform = new WindowsPlatform({ run });
  recorded = [];
  await drive(platform).catch(() => undefined);
  return [...calls, ...recorded.flat()].map((c) => wrapScript(c.script));
}

const PIN = 'ab'.repeat(32);
const registryItems = tweakCatalogue.flatMap((t) => t.registry.map((r) => ({ ...r, tweak: t.id })));

const cases: [string, (p: WindowsPlatform) => Promise<unknown>][] = [
  [
    'facts and inventory',
    async (p) => {
      await p.hardwareFacts();
      await p.osInfo();
      await p.bootId();
      await p.inventory();
      await p.hostname();
    },
  ],
  [
    'preflight, names, restart indicators, machine facts',
    async (p) => {
      await p.preflightFacts();
      await p.computerName();
      await p.renameComputer('WS-0042');
      await p.pendingReboot();
      await p.machineFacts();
    },
  ],
  [
    'winget readiness, list and install',
    async (p) => {
      await p.wingetReady();
      await p.wingetInstalledVersion('Google.Chrome');
      await p.wingetInstall('Google.Chrome', '1.2.3-beta+4');
      await p.wingetInstall('7zip.7zip', undefined);
    },
  ],
  [
    'the whole tweak catalogue, its records and undo',
    async (p) => {
      await p.applyRegistry(registryItems);
      await p.readRegistry(registryItems);
      await p.applyTweakAction('restore-point', 'create-restore-point');
      await p.applyTweakAction('hibernation-off', 'disable-hibernation');
      await p.tweakRecords();
      await p.restoreTweakRecords(['registry:HKCU:\\Software\\X\\v', 'action:hibernation-off']);
    },
  ],
  [
    'locale for new users, Wi-Fi, Autopilot, restart',
    async (p) => {
      await p.localeState();
      await p.setTimeZone('W. Europe Standard Time');
      await p.setLocale('de-DE');
      await p.setInternational({ formats: 'en-GB', keyboard: '0809:00000809', homeLocation: 242 });
      await p.wifiProfiles();
      await p.wifiAdapterPresent();
      for (const authentication of ['open', 'wpa2-enterprise', 'wpa3-enterprise'] as const)
        await p.addWifiProfile({
          ssid: 'Corp',
          authentication,
          autoConnect: true,
          radius: {
            serverNames: ['radius.example.com', '*.corp.example'],
            trustedRootCaThumbprints: ['ab'.repeat(20)],
          },
        });
      await p.autopilotHash();
      await p.restart('Drydock provisioning: rename');
    },
  ],
  [
    'the WinHTTP proxy for downloads',
    async (p) => {
      await (await p.downloadNetwork()).close();
    },
  ],
  [
    'the escrowed local admin password (issue 16)',
    async (p) => {
      for (const create of [false, true])
        await p.setLocalAdminPassword("O'Brien $x", 'unused', { create }).catch(() => undefined);
    },
  ],
  [
    'BitLocker: the volume, the escrowed recovery password, protectors, encryption (issue 16)',
    async (p) => {
      for (const mountPoint of ['C:', "D:'; calc; '"]) {
        await p.bitlockerVolume(mountPoint);
        // Answered with JSON this runner does not give: the script is recorded, the answer refused.
        await p
          .addRecoveryPasswordProtector(mountPoint, '111111-222222-333333-444444-555555-666666-777777-888888')
          .catch(() => undefined);
        await p.removeKeyProtector(mountPoint, '{0B3C1A2D-1111-4222-8333-944445555666}');
        for (const encryptionMethod of ['XtsAes128', 'XtsAes256'] as const)
          for (const usedSpaceOnly of [true, false])
            await p.enableBitLockerTpm(mountPoint, { encryptionMethod, usedSpaceOnly });
      }
    },
  ],
  ...[...hostile, "D:\\Drydock's $(x)\\dl"].map((dir): [string, (p: WindowsPlatform) => Promise<unknown>] => [
    `the downloads directory ${JSON.stringify(dir)}`,
    async () => {
      // Its own platform: the directory is a constructor option. The download itself never starts
      // (the signal is aborted); the directory script runs first.
      const { run, calls } = fakeRunner(answer);
      recorded.push(calls);
      const downloadsDir = `C:\\ProgramData\\${dir.replace(/[\r\n\0]/g, ' ')}`;
      const platform = new WindowsPlatform({ run, downloadsDir });
      const aborted = new AbortController();
      aborted.abort(new Error('not downloading in a grammar test'));
      await platform
        .download('https://downloads.example.com/setup.exe', aborted.signal)
        .catch(() => undefined);
    },
  ]),
  [
    'protected secrets',
    async (p) => {
      await p.saveProtected('agent-key', 'x');
      await p.loadProtected('agent-key');
      await p.deleteProtected('agent-key');
    },
  ],
  ...hostile.map((value): [string, (p: WindowsPlatform) => Promise<unknown>] => [
    `hostile value ${JSON.stringify(value)}`,
    async (p) => {
      const safe = value.replace(/[\r\n\0]/g, ' ');
      for (const drive of [
        () =>
          p.runInstaller(
            `C:\\ProgramData\\Drydock\\downloads\\${safe.replace(/[\\/:*?"<>|]/g, '_')}.exe`,
            [value, `/D=C:\\${safe.replace(/"/g, '')}`],
            PIN,
          ),
        () => p.runInstaller('C:\\ProgramData\\Drydock\\downloads\\a.msi', [`PROP=${value}`, value], PIN),
        () => p.wingetInstall('Contoso.App', safe.replace(/[\\/:*?"<>|]/g, '.').trim() || 'x'),
        () => p.registryWrite(`HKLM:\\SOFTWARE\\${safe.replace(/\\/g, '/')}`, value, 'String', value),
        () => p.registryRead(`HKCU:\\Software\\${safe.replace(/\\/g, '/')}`, value),
        () =>
          p.applyRegistry([
            {
              path: `HKCU:\\Software\\${safe.replace(/\\/g, '/')}`,
              name: value,
              type: 'String',
              value,
              tweak: value,
            },
          ]),
        () => p.readRegistry([{ path: `HKLM:\\SOFTWARE\\${safe.replace(/\\/g, '/')}`, name: value }]),
        () => p.restoreTweakRecords([`registry:HKCU:\\Software\\${value}`]),
        () => p.applyTweakAction('restore-point', value),
        () => p.applyTweakAction('hibernation-off', value),
        () =>
          p.addWifiProfile({
            ssid: [...value].slice(0, 10).join(''),
            authentication: 'open',
            autoConnect: false,
          }),
        () => p.restart(value),
        () => p.saveProtected('name', value),
      ])
        await drive().catch(() => undefined);
    },
  ]),
];

describe('every generated PowerShell script parses with a real PowerShell grammar', () => {
  it('finds a broken script (the check can fail)', () => {
    expect(parseProblems("if ($a { 'x' }")).not.toEqual([]);
    expect(parseProblems("$x = 'unterminated")).not.toEqual([]);
  });

  it('drives what it names: the BitLocker scripts and the downloads directory script are among those parsed', async () => {
    const byName = (prefix: string) => cases.filter(([name]) => name.startsWith(prefix));
    const bitlocker = (await scriptsOf(byName('BitLocker')[0]![1])).join('\n');
    for (const part of [
      'Get-BitLockerVolume',
      'ProtectKeyWithNumericalPassword',
      'Remove-BitLockerKeyProtector',
      'Enable-BitLocker',
    ])
      expect(bitlocker).toContain(part);
    const dirs = byName('the downloads directory');
    expect(dirs).toHaveLength(hostile.length + 1);
    for (const [, drive] of dirs)
      expect((await scriptsOf(drive)).join('\n')).toContain(
        '[System.IO.Directory]::CreateDirectory($dir, $security)',
      );
  });

  it.each(cases)('%s', async (_name, drive) => {
    const scripts = await scriptsOf(drive);
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) expect(parseProblems(script)).toEqual([]);
  });
});
