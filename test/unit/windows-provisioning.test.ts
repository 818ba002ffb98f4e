import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WifiNetworkSpec } from '../../agent/platform/platform';
import type { PsResult } from '../../agent/platform/windows/powershell';
import { encodeCommand, PowerShellError, wrapScript } from '../../agent/platform/windows/powershell';
import { XMLValidator } from 'fast-xml-parser';
import {
  parseRegistryPath,
  parseWingetListVersion,
  PENDING_REBOOT,
  registryWriteScript,
  TWEAK_RECORDS,
  TWEAK_RECORDS_SUBKEY,
  WIFI_ADAPTER,
  windowsCommandLine,
  WINGET_READY,
  wlanProfileXml,
} from '../../agent/platform/windows/provisioning-scripts';
import {
  checkDownloadUrl,
  downloadToFile,
  WindowsPlatform,
} from '../../agent/platform/windows/windows-platform';
import { WingetCode } from '../../agent/steps/winget-codes';
import { buildPlan } from '../../infra/provisioning/plan';
import { standardProfile } from '../../infra/provisioning/profile';
import { tweakCatalogue } from '../../infra/provisioning/tweaks';
import { StepKind } from '../../infra/wire/agent-steps';
import { fakeRunner, json, ok } from '../helpers/powershell';
import { rejection } from '../helpers/rejection';

const failed = (stderr: string): PsResult => ({ exitCode: 1, stdout: '', stderr });

/** A platform whose every script is answered by `answer`, and the scripts it ran. */
function platformWith(answer: (script: string) => PsResult = () => ok()) {
  const { run, calls } = fakeRunner(answer);
  return { platform: new WindowsPlatform({ run }), calls, script: (i = 0) => calls[i]!.script };
}

// No PowerShell here: literals are read back by the tokenizer's rule (as in powershell-quoting.test.ts).
// Inside '…' any of these quote characters followed by another one stands for the second; a lone one ends it.
const QUOTES = new Set(["'", '\u2018', '\u2019', '\u201A', '\u201B']);

/**
 * The value of the single-quoted literal assigned by `prefix` (e.g. "$name = "), checking that
 * the literal ends exactly where the line does (or where `then` follows): nothing of the value
 * leaked into the script.
 */
function literalAfter(script: string, prefix: string, then = '\n'): string {
  const start = script.indexOf(prefix);
  expect(start).toBeGreaterThanOrEqual(0);
  let i = start + prefix.length;
  expect(script[i]).toBe("'");
  let value = '';
  for (i++; i < script.length; i++) {
    const c = script[i]!;
    if (QUOTES.has(c)) {
      if (!QUOTES.has(script[i + 1] ?? '')) break;
      i++;
      value += script[i];
    } else {
      value += c;
    }
  }
  expect(i).toBeLessThan(script.length);
  if (then === '\n') expect(['\n', undefined]).toContain(script[i + 1]);
  else expect(script.slice(i + 1, i + 1 + then.length)).toBe(then);
  return value;
}

/** CommandLineToArgvW / the C runtime (2008+): how a program splits its command line. */
function parseCommandLine(line: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let arg = '';
    let quoted = false;
    for (; i < line.length;) {
      const c = line[i]!;
      if (c === '\\') {
        let n = 0;
        while (line[i + n] === '\\') n++;
        if (line[i + n] === '"') {
          arg += '\\'.repeat(Math.floor(n / 2));
          i += n;
          if (n % 2 === 1) {
            arg += '"';
            i++;
          }
        } else {
          arg += '\\'.repeat(n);
          i += n;
        }
      } else if (c === '"') {
        if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
        } else {
          quoted = !quoted;
          i++;
        }
      } else if ((c === ' ' || c === '\t') && !quoted) {
        break;
      } else {
        arg += c;
        i++;
      }
    }
    args.push(arg);
  }
  return args;
}

const argvOf = (script: string, variable = '$arguments = ') =>
  parseCommandLine(literalAfter(script, variable));

const PIN = 'abababababababababababababababababababababababababababababababab';
const hostile = [
  "it's",
  "'; Remove-Item -Recurse C:\\ ; '",
  '\u2018smart\u2019 \u201Alow\u201B',
  '$(Invoke-Expression calc)',
  '$env:USERNAME ${x} @(1)',
  'back`tick `n `$',
  'a; b | c & d && e || f',
  'line1\nline2\r\nline3',
  '"double" and \\"escaped\\" \\\\"',
  'trailing backslash \\',
  'unicode: é 中文 😀',
];

describe('windowsCommandLine', () => {
  it.each(hostile)('passes %j as exactly one argument', (arg) => {
    expect(parseCommandLine(windowsCommandLine(['/x', arg, '/y']))).toEqual(['/x', arg, '/y']);
  });

  it('leaves plain arguments alone and quotes empty ones', () => {
    expect(windowsCommandLine(['/S', '--id', 'Git.Git', 'C:\\dir\\a.msi', ''])).toBe(
      '/S --id Git.Git C:\\dir\\a.msi ""',
    );
  });

  it('writes NAME=value with spaces the msiexec way, which the C runtime reads the same', () => {
    const line = windowsCommandLine(['INSTALLDIR=C:\\Program Files\\Contoso\\', '/D:a b', 'C:\\a b\\x.exe']);
    expect(line).toBe('INSTALLDIR="C:\\Program Files\\Contoso\\\\" /D:"a b" "C:\\a b\\x.exe"');
    expect(parseCommandLine(line)).toEqual([
      'INSTALLDIR=C:\\Program Files\\Contoso\\',
      '/D:a b',
      'C:\\a b\\x.exe',
    ]);
  });
});

describe('preflightFacts', () => {
  const laptop = {
    batteryStatus: [2],
    powerOnline: [true],
    freeBytes: 107_374_182_400,
    tpm: { enabled: true, activated: true, specVersion: '2.0, 0, 1.59' },
    secureBoot: true,
    build: '22631',
  };

  it('asks CIM for power, disk, TPM, Secure Boot and build in one script', async () => {
    const { platform, calls, script } = platformWith(() => json(laptop));
    await platform.preflightFacts();
    expect(calls).toHaveLength(1);
    for (const part of [
      'Get-CimInstance -ClassName Win32_Battery',
      'Get-CimInstance -Namespace root/wmi -ClassName BatteryStatus',
      'PowerOnline',
      'Get-CimInstance -ClassName Win32_LogicalDisk',
      '$_.DeviceID -eq $env:SystemDrive',
      'Get-CimInstance -Namespace root/cimv2/Security/MicrosoftTpm -ClassName Win32_Tpm',
      'IsEnabled_InitialValue',
      'IsActivated_InitialValue',
      'SpecVersion',
      'Confirm-SecureBootUEFI',
      'catch [System.PlatformNotSupportedException]',
      "'InvalidNamespace', 'InvalidClass', 'NotFound'",
      '(Get-CimInstance -ClassName Win32_OperatingSystem).BuildNumber',
    ]) {
      expect(script()).toContain(part);
    }
    expect(script()).not.toContain('System.Windows.Forms');
  });

  it('reads a laptop on AC with a ready TPM 2.0 and Secure Boot on', async () => {
    const { platform } = platformWith(() => json(laptop));
    await expect(platform.preflightFacts()).resolves.toEqual({
      onAcPower: true,
      freeDiskGb: 100,
      tpm: { present: true, ready: true, version: '2.0' },
      secureBoot: true,
      osBuild: 22631,
    });
  });

  it('reads a legacy-BIOS desktop without battery or TPM', async () => {
    const { platform } = platformWith(() =>
      json({
        batteryStatus: [],
        powerOnline: [],
        freeBytes: 5_000_000_000,
        tpm: null,
        secureBoot: null,
        build: '19045',
      }),
    );
    await expect(platform.preflightFacts()).resolves.toEqual({
      onAcPower: null,
      freeDiskGb: 4.7,
      tpm: { present: false, ready: false, version: null },
      secureBoot: null,
      osBuild: 19045,
    });
  });

  it.each([
    ['PowerOnline false', { batteryStatus: [2], powerOnline: [false] }, false],
    ['one of two batteries charging', { batteryStatus: [1, 6], powerOnline: [false, true] }, true],
    ['no PowerOnline, status 2 (AC)', { batteryStatus: 2, powerOnline: [] }, true],
    ['no PowerOnline, status 7 (charging)', { batteryStatus: [7], powerOnline: null }, true],
    ['no PowerOnline, status 1 (discharging)', { batteryStatus: [1], powerOnline: [] }, false],
  ])('judges power: %s', async (_, power, onAcPower) => {
    const { platform } = platformWith(() => json({ ...laptop, ...power }));
    await expect(platform.preflightFacts()).resolves.toMatchObject({ onAcPower });
  });

  it('reports a TPM that is present but not activated, and Secure Boot off', async () => {
    const { platform } = platformWith(() =>
      json({ ...laptop, tpm: { enabled: true, activated: false, specVersion: null }, secureBoot: false }),
    );
    await expect(platform.preflightFacts()).resolves.toMatchObject({
      tpm: { present: true, ready: false, version: null },
      secureBoot: false,
    });
  });

  it('refuses an answer without free space or build', async () => {
    await expect(
      platformWith(() => json({ ...laptop, freeBytes: null })).platform.preflightFacts(),
    ).rejects.toThrow(/free space/);
    await expect(
      platformWith(() => json({ ...laptop, build: '' })).platform.preflightFacts(),
    ).rejects.toThrow(/OS build/);
  });

  it('turns a failed script into a PowerShellError with the first stderr line', async () => {
    const { platform } = platformWith(() => failed('Access denied\r\nat line 3'));
    const error = await rejection(platform.preflightFacts());
    expect(error).toBeInstanceOf(PowerShellError);
    expect(error.message).toBe('PowerShell exited with code 1: Access denied');
  });
});

describe('computer name', () => {
  it('reads the active and pending names from the registry', async () => {
    const { platform, script } = platformWith(() => json({ active: 'DESKTOP-1A2B3C', pending: 'WS-0042' }));
    await expect(platform.computerName()).resolves.toEqual({
      active: 'DESKTOP-1A2B3C',
      pending: 'WS-0042',
      domain: null,
    });
    expect(script()).toContain("OpenSubKey('SYSTEM\\CurrentControlSet\\Control\\ComputerName')");
    expect(script()).toContain("Get-ComputerNameValue 'ActiveComputerName'");
    expect(script()).toContain("Get-ComputerNameValue 'ComputerName'");
    expect(script()).toContain("GetValue('ComputerName')");
  });

  it('renames without restarting, unless that name is already pending', async () => {
    const { platform, script } = platformWith();
    await platform.renameComputer('WS-0042');
    expect(literalAfter(script(), '$newName = ')).toBe('WS-0042');
    expect(script()).toContain('Rename-Computer -NewName $newName -Force');
    expect(script()).not.toContain('-Restart');
    expect(script()).toContain("if ((Get-ComputerNameValue 'ComputerName') -ne $newName)");
  });

  it.each(['', 'A234567890123456', '12345', "WS'; calc", 'WS 01', 'WS_01', 'WS$(x)', 'WS\n01', 'é'])(
    'refuses the computer name %j without running anything',
    async (name) => {
      const { platform, calls } = platformWith();
      await expect(platform.renameComputer(name)).rejects.toThrow(/invalid computer name/);
      expect(calls).toHaveLength(0);
    },
  );
});

// What winget prints to a pipe: a spinner redrawn with \r, then the table.
const WINGET_LIST = [
  '   - \r   \\ \r   | \r                                                                                                                       \r',
  'Name            Id                   Version      Available Source',
  '------------------------------------------------------------------',
  'Mozilla Firefox Mozilla.Firefox      124.0.1      125.0     winget',
  '',
].join('\r\n');

describe('wingetInstalledVersion', () => {
  const answer = (exitCode: number, output = '') => json({ exitCode, output });

  it('runs winget list for exactly that id, located for SYSTEM', async () => {
    const { platform, calls, script } = platformWith(() => answer(0, WINGET_LIST));
    await expect(platform.wingetInstalledVersion('Mozilla.Firefox')).resolves.toBe('124.0.1');
    expect(argvOf(script())).toEqual([
      'list',
      '--id',
      'Mozilla.Firefox',
      '--exact',
      '--source',
      'winget',
      '--accept-source-agreements',
      '--disable-interactivity',
    ]);
    expect(script()).toContain("Join-Path $env:ProgramFiles 'WindowsApps'");
    expect(script()).toContain('-Filter "$($Prefix)_*_$($wingetArch)__8wekyb3d8bbwe"');
    expect(script()).toContain("$package = Get-NewestPackageDir 'Microsoft.DesktopAppInstaller'");
    expect(script()).toContain("$vclibs = Get-NewestPackageDir 'Microsoft.VCLibs.140.00.UWPDesktop'");
    expect(script()).toContain('Sort-Object -Property version -Descending');
    // No PATH fallback: a user-writable PATH entry could plant a winget.exe.
    expect(script()).not.toContain('Get-Command -Name winget');
    expect(script()).toContain('$signature = Get-AuthenticodeSignature -LiteralPath $exe');
    expect(script()).toContain(
      "$signature.SignerCertificate.Subject -notmatch '(^|, )O=Microsoft Corporation(,|$)'",
    );
    expect(script()).toContain(
      'Invoke-Native $winget.path $arguments ([System.Text.UTF8Encoding]::new($false)) $winget.runtimePath',
    );
    expect(script()).toContain(
      "$info.EnvironmentVariables['PATH'] = $PathPrefix + ';' + $info.EnvironmentVariables['PATH']",
    );
    expect(script()).toContain('[Drydock.KillOnCloseJob]::Enter()');
    expect(script()).toContain('[System.Diagnostics.ProcessStartInfo]::new($FilePath, $Arguments)');
    expect(calls[0]!.opts?.timeoutMs).toBe(600_000);
  });

  it('answers null when winget has no such package installed', async () => {
    const { platform } = platformWith(() =>
      answer(WingetCode.NoApplicationsFound, 'No installed package found matching input criteria.'),
    );
    await expect(platform.wingetInstalledVersion('Contoso.App')).resolves.toBeNull();
  });

  it('throws on any other failure, naming the code', async () => {
    const { platform } = platformWith(() =>
      answer(WingetCode.SourceOpenFailed, '\r\nFailed when opening source(s)\r\n'),
    );
    await expect(platform.wingetInstalledVersion('Contoso.App')).rejects.toThrow(
      'winget list failed with 0x8A150045 (SourceOpenFailed): Failed when opening source(s)',
    );
  });

  it('throws when the table has no row for the id', async () => {
    const { platform } = platformWith(() => answer(0, 'Name Id Version\r\n-------\r\n'));
    await expect(platform.wingetInstalledVersion('Contoso.App')).rejects.toThrow(/no version could be read/);
  });

  it('reports winget missing as the script error', async () => {
    const { platform } = platformWith(() =>
      failed(
        'winget was not found: App Installer (Microsoft.DesktopAppInstaller) is not installed for the machine',
      ),
    );
    const error = await rejection(platform.wingetInstalledVersion('Contoso.App'));
    expect(error).toBeInstanceOf(PowerShellError);
    expect(error.message).toMatch(/winget was not found/);
  });

  it.each([
    'Contoso App',
    'Contoso',
    'Contoso."x".App',
    "Contoso.App'; calc",
    'Contoso.\nApp',
    '-Contoso.App',
    'a/b.c',
  ])('refuses the package id %j without running anything', async (id) => {
    const { platform, calls } = platformWith();
    await expect(platform.wingetInstalledVersion(id)).rejects.toThrow(/invalid winget package id/);
    expect(calls).toHaveLength(0);
  });

  it('keeps an id with PowerShell metacharacters inert', async () => {
    const id = "Evil.$(calc)`n'x";
    const { platform, script } = platformWith(() => answer(WingetCode.NoApplicationsFound));
    await platform.wingetInstalledVersion(id);
    expect(argvOf(script())[2]).toBe(id);
  });
});

describe('parseWingetListVersion', () => {
  it('finds the version after the id', () => {
    expect(parseWingetListVersion(WINGET_LIST, 'mozilla.firefox')).toBe('124.0.1');
  });

  it('copes with localised headers, escape sequences, wide names and an id equal to the name', () => {
    const output = [
      '\x1b[2K\r名前           ID            バージョン  ソース',
      '-----------------------------------------',
      '7zip.7zip 中文  7zip.7zip     23.01       winget',
    ].join('\n');
    expect(parseWingetListVersion(output, '7zip.7zip')).toBe('23.01');
  });

  it('reads "< 1.2.3" versions and ids cut short with …', () => {
    const output =
      'Name Id Version\n----------\nContoso Very Long Product Contoso.VeryLongProduct… < 1.2.3 winget\n';
    expect(parseWingetListVersion(output, 'Contoso.VeryLongProductName')).toBe('< 1.2.3');
  });

  it('finds nothing without a matching row', () => {
    expect(parseWingetListVersion(WINGET_LIST, 'Mozilla.Thunderbird')).toBeUndefined();
    expect(parseWingetListVersion('', 'Mozilla.Firefox')).toBeUndefined();
  });
});

describe('wingetInstall', () => {
  it('installs machine-wide, silently, from the winget source, with a version when given', async () => {
    const { platform, calls, script } = platformWith(() =>
      json({ exitCode: 0, output: 'Successfully installed' }),
    );
    await expect(platform.wingetInstall('Git.Git', '2.44.0')).resolves.toEqual({
      exitCode: 0,
      output: 'Successfully installed',
    });
    expect(argvOf(script())).toEqual([
      'install',
      '--id',
      'Git.Git',
      '--exact',
      '--source',
      'winget',
      '--scope',
      'machine',
      '--silent',
      '--accept-package-agreements',
      '--accept-source-agreements',
      '--disable-interactivity',
      '--version',
      '2.44.0',
    ]);
    expect(calls[0]!.opts?.timeoutMs).toBe(3_600_000);
    await platform.wingetInstall('Git.Git', undefined);
    expect(argvOf(script(1))).not.toContain('--version');
  });

  it('returns winget failures as signed codes with the end of the output, without throwing', async () => {
    const progress = '  ██████▒▒▒▒  1.00 MB / 2.00 MB\r  ██████████  2.00 MB / 2.00 MB\r\n';
    const output = `${'Downloading https://example.com/x\r\n'.repeat(100)}${progress}Installer failed with exit code: 1603\r\n`;
    for (const exitCode of [WingetCode.InstallerHashMismatch, 0x8a150011]) {
      const { platform } = platformWith(() => json({ exitCode, output }));
      const result = await platform.wingetInstall('Contoso.App', undefined);
      expect(result.exitCode).toBe(WingetCode.InstallerHashMismatch);
      expect(result.exitCode).toBeLessThan(0);
      expect(result.output.length).toBeLessThanOrEqual(2000);
      expect(result.output).toMatch(/2\.00 MB \/ 2\.00 MB\nInstaller failed with exit code: 1603$/);
      expect(result.output).not.toContain('\r');
    }
  });

  it('keeps a hostile version inside one argument, and refuses quotes and leading dashes', async () => {
    const { platform, calls, script } = platformWith(() => json({ exitCode: 0, output: '' }));
    await platform.wingetInstall('Git.Git', "1.0 $(calc) 'x' `n");
    expect(argvOf(script()).slice(-2)).toEqual(['--version', "1.0 $(calc) 'x' `n"]);
    await expect(platform.wingetInstall('Git.Git', '1.0" --override "x')).rejects.toThrow(
      /invalid winget package version/,
    );
    await expect(platform.wingetInstall('Git.Git', '--override')).rejects.toThrow(
      /invalid winget package version/,
    );
    expect(calls).toHaveLength(1);
  });
});

describe('runInstaller', () => {
  it('runs an .exe it hashed through the handle it keeps open, waits for it alone, in a kill-on-close job', async () => {
    const { platform, calls, script } = platformWith(() => json({ exitCode: 3010 }));
    const file = 'C:\\ProgramData\\Drydock\\downloads\\0a1b2c3d4e5f-setup.exe';
    await expect(platform.runInstaller(file, ['/D=C:\\Program Files\\App', '/S'], PIN)).resolves.toBe(3010);
    expect(literalAfter(script(), '$file = ')).toBe(file);
    expect(literalAfter(script(), '$pinned = ')).toBe(PIN);
    // NSIS: /D= last and unquoted, spaces and all (NSIS manual 3.2).
    expect(literalAfter(script(), '$arguments = ')).toBe('/S /D=C:\\Program Files\\App');
    for (const part of [
      'Assert-TrustedPath ([System.IO.Path]::GetDirectoryName($file))',
      "$stream = [System.IO.File]::Open($file, 'Open', 'Read', 'Read')",
      "$actual = -join ($sha.ComputeHash($stream) | ForEach-Object { $_.ToString('x2') })",
      'if ($actual -ne $pinned) { throw',
      '$process = [System.Diagnostics.Process]::Start($info)\n  $process.WaitForExit()',
      '} finally { $stream.Dispose() }',
      '[Drydock.KillOnCloseJob]::Enter()',
      'limits.Basic.LimitFlags = 0x2000;',
    ])
      expect(script()).toContain(part);
    expect(script()).not.toContain('Start-Process');
    expect(script()).toContain('$isMsi = $false');
    expect(calls[0]!.opts?.timeoutMs).toBe(3_600_000);
  });

  it('refuses a second /D= or one with a quote, and a pin that is not a SHA-256', async () => {
    const { platform, calls } = platformWith(() => json({ exitCode: 0 }));
    await expect(platform.runInstaller('C:\\x\\s.exe', ['/D=C:\\a', '/D=C:\\b'], PIN)).rejects.toThrow(
      /at most one \/D=/,
    );
    await expect(platform.runInstaller('C:\\x\\s.exe', ['/D=C:\\a" /evil'], PIN)).rejects.toThrow(/quotes/);
    await expect(platform.runInstaller('C:\\x\\s.exe', [], 'abc')).rejects.toThrow(/SHA-256/);
    expect(calls).toHaveLength(0);
  });

  it('quotes msiexec properties as msiexec parses them (a quote inside is doubled)', async () => {
    const { platform, script } = platformWith(() => json({ exitCode: 0 }));
    await platform.runInstaller(
      'C:\\x\\a.msi',
      ['SERVER=vpn.example.com', 'NOTE=say "hi" now', 'EMPTY='],
      PIN,
    );
    expect(literalAfter(script(), '$arguments = ')).toBe(
      '/i C:\\x\\a.msi /qn /norestart SERVER=vpn.example.com NOTE="say ""hi"" now" EMPTY=""',
    );
  });

  it('installs an .msi through msiexec, quietly and without restarting', async () => {
    const { platform, script } = platformWith(() => json({ exitCode: 0 }));
    const file = 'C:\\ProgramData\\Drydock\\downloads\\App Setup.MSI';
    await platform.runInstaller(file, ['ALLUSERS=1', 'INSTALLDIR=C:\\Program Files\\App'], PIN);
    expect(literalAfter(script(), '$arguments = ')).toBe(
      `/i "${file}" /qn /norestart ALLUSERS=1 INSTALLDIR="C:\\Program Files\\App"`,
    );
    expect(literalAfter(script(), '$arguments = ')).toContain('INSTALLDIR="C:\\Program Files\\App"');
    expect(script()).toContain('$isMsi = $true');
    expect(script()).toContain("Join-Path $env:SystemRoot 'System32\\msiexec.exe'");
  });

  it.each(hostile)('passes the argument %j through as one argument', async (arg) => {
    const { platform, script } = platformWith(() => json({ exitCode: 0 }));
    await platform.runInstaller("C:\\O'Brien $(x)\\setup.exe", [arg, '/quiet'], PIN);
    expect(argvOf(script())).toEqual([arg, '/quiet']);
    expect(literalAfter(script(), '$file = ')).toBe("C:\\O'Brien $(x)\\setup.exe");
  });

  it('refuses other file types and relative paths, and an answer without exit code', async () => {
    const { platform, calls } = platformWith(() => json({}));
    await expect(platform.runInstaller('C:\\x\\install.ps1', [], PIN)).rejects.toThrow(
      /\.exe and \.msi files only/,
    );
    await expect(platform.runInstaller('setup.exe', [], PIN)).rejects.toThrow(/absolute local path/);
    expect(calls).toHaveLength(0);
    await expect(platform.runInstaller('C:\\x\\setup.exe', [], PIN)).rejects.toThrow(/without an exit code/);
  });
});

describe('registry', () => {
  it('reads an HKLM value through the 64-bit view, DWORDs unsigned', async () => {
    const { platform, script } = platformWith(() => json({ kind: 'DWord', value: -1 }));
    await expect(platform.registryRead('HKLM:\\SOFTWARE\\Policies\\Contoso', 'Enabled')).resolves.toBe(
      0xffffffff,
    );
    expect(literalAfter(script(), '$subKey = ')).toBe('SOFTWARE\\Policies\\Contoso');
    expect(literalAfter(script(), '$name = ')).toBe('Enabled');
    expect(script()).toContain(
      "Read-Value ([Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64')) $subKey",
    );
    expect(script()).toContain("GetValue($name, $null, 'DoNotExpandEnvironmentNames')");
    expect(script()).not.toContain('reg.exe');
  });

  it.each([
    [{ kind: 'String', value: 'x' }, 'x'],
    [{ kind: 'ExpandString', value: '%ProgramFiles%\\x' }, '%ProgramFiles%\\x'],
    [{ kind: 'MultiString', value: 'a\nb' }, 'a\nb'],
    [{ kind: 'DWord', value: 1 }, 1],
    [{ kind: 'QWord', value: 5_000_000_000 }, 5_000_000_000],
    [{ kind: 'Binary', value: [1, 2] }, null],
    [null, null],
  ])('parses %j as %j', async (answer, expected) => {
    const { platform } = platformWith(() => json(answer));
    await expect(platform.registryRead('HKLM\\SOFTWARE\\X', 'v')).resolves.toEqual(expected);
  });

  it('reads HKCU from the default user profile, loaded and unloaded again', async () => {
    const { platform, script } = platformWith(() => json(null));
    await expect(platform.registryRead('HKCU:\\Software\\Contoso', 'Theme')).resolves.toBeNull();
    for (const part of [
      "OpenSubKey('SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList')",
      "GetValue('Default')",
      "'NTUSER.DAT'",
      "$mount = 'Drydock_DefaultUser'",
      '$load = Invoke-Native $reg "load ""HKU\\$mount"" ""$hive"""',
      '[gc]::Collect()',
      '$unload = Invoke-Native $reg "unload ""HKU\\$mount"""',
      'Use-DefaultUserHive { param($mountName) Read-Value $users "$mountName\\$subKey" }',
    ]) {
      expect(script()).toContain(part);
    }
    expect(script()).not.toContain('foreach ($sid in Get-UserHives)');
  });

  it('writes HKLM values as the kind asked for, creating the key', async () => {
    const { platform, calls, script } = platformWith();
    await platform.registryWrite('HKLM:\\SOFTWARE\\Contoso', 'Level', 'DWord', 4294967295);
    expect(script()).toContain("$kind = [Microsoft.Win32.RegistryValueKind]'DWord'");
    expect(script()).toContain('$value = [int](-1)');
    expect(script()).toContain('$key = $Root.CreateSubKey($Path)');
    expect(script()).toContain('$key.SetValue($name, $value, $kind)');
    expect(script()).toContain(
      "Write-Value ([Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64')) $subKey",
    );
    await platform.registryWrite('HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso\\', 'Label', 'String', 42);
    expect(literalAfter(script(1), '$subKey = ')).toBe('SOFTWARE\\Contoso');
    expect(script(1)).toContain("$kind = [Microsoft.Win32.RegistryValueKind]'String'");
    expect(script(1)).toContain("$value = [string]'42'");
    expect(calls[1]!.opts?.timeoutMs).toBe(120_000);
  });

  it('writes HKCU to the default profile and every loaded user hive', async () => {
    const { platform, script } = platformWith();
    await platform.registryWrite('HKCU:\\Software\\Contoso', 'Theme', 'String', 'dark');
    expect(script()).toContain(
      'Use-DefaultUserHive { param($mountName) Write-Value $users "$mountName\\$subKey" }',
    );
    expect(script()).toContain('foreach ($sid in Get-UserHives) { Write-Value $users "$sid\\$subKey" }');
    const pattern = /\$_ -match '([^']+)'/.exec(script())![1]!;
    const userHive = new RegExp(pattern, 'i');
    const keys = [
      'S-1-5-21-1004336348-1177238915-682003330-1001',
      'S-1-5-21-1004336348-1177238915-682003330-1001_Classes',
      'S-1-12-1-3190434611-1226378532-3151398586-2210128131',
      'S-1-5-18',
      'S-1-5-19',
      '.DEFAULT',
      'Drydock_DefaultUser',
    ];
    expect(keys.filter((k) => userHive.test(k))).toEqual([keys[0], keys[2]]);
  });

  it.each(hostile)('quotes the hostile path part, name and value %j', async (bad) => {
    const { platform, script } = platformWith();
    await platform.registryWrite(`HKLM:\\SOFTWARE\\${bad.replace(/\\/g, '/')}`, bad, 'String', bad);
    expect(literalAfter(script(), '$subKey = ')).toBe(`SOFTWARE\\${bad.replace(/\\/g, '/')}`);
    expect(literalAfter(script(), '$name = ')).toBe(bad);
    expect(literalAfter(script(), '$value = [string]')).toBe(bad);
  });

  it.each([
    ['HKCR:\\Software\\X', 'String', 'v', /invalid registry path/],
    ['HKLM:\\', 'String', 'v', /invalid registry path/],
    ['SOFTWARE\\X', 'String', 'v', /invalid registry path/],
    ['HKLM:\\SOFTWARE\\\\X', 'String', 'v', /invalid registry path/],
    ['HKLM:\\SOFTWARE\\X', 'DWord', 'abc', /DWord value/],
    ['HKLM:\\SOFTWARE\\X', 'DWord', 1.5, /DWord value/],
    ['HKLM:\\SOFTWARE\\X', 'DWord', 2 ** 32, /DWord value/],
    ['HKLM:\\SOFTWARE\\X', 'DWord', -(2 ** 31) - 1, /DWord value/],
    ['HKLM:\\SOFTWARE\\X', 'QWord', 1, /DWord or String/],
  ] as const)('refuses %j %s %j without running anything', async (keyPath, type, value, message) => {
    const { platform, calls } = platformWith();
    await expect(platform.registryWrite(keyPath, 'v', type as 'DWord', value)).rejects.toThrow(message);
    expect(calls).toHaveLength(0);
  });

  it('accepts a DWord given as decimal text', async () => {
    const { platform, script } = platformWith();
    await platform.registryWrite('HKLM:\\SOFTWARE\\X', 'v', 'DWord', '7');
    expect(script()).toContain('$value = [int]7');
  });
});

describe('locale', () => {
  it('reads the time zone, system locale and keyboards, the default override first', async () => {
    const { platform, script } = platformWith(() =>
      json({
        timeZone: 'W. Europe Standard Time',
        locale: 'de-DE',
        keyboards: ['0409:00000409', '0407:00000407'],
        override: '0407:00000407',
      }),
    );
    await expect(platform.localeState()).resolves.toEqual({
      timeZone: 'W. Europe Standard Time',
      locale: 'de-DE',
      keyboards: ['0407:00000407', '0409:00000409'],
    });
    for (const part of [
      '(Get-TimeZone).Id',
      '(Get-WinSystemLocale).Name',
      'Get-WinUserLanguageList',
      'InputMethodTips',
    ]) {
      expect(script()).toContain(part);
    }
    expect(script()).toContain('Get-WinDefaultInputMethodOverride');
  });

  it('reads a single keyboard and no override', async () => {
    const { platform } = platformWith(() =>
      json({ timeZone: 'UTC', locale: 'en-US', keyboards: '0409:00000409', override: null }),
    );
    await expect(platform.localeState()).resolves.toMatchObject({ keyboards: ['0409:00000409'] });
  });

  it('sets the time zone and system locale', async () => {
    const { platform, script } = platformWith();
    await platform.setTimeZone('Pacific Standard Time (Mexico)');
    expect(script(0)).toBe("Set-TimeZone -Id 'Pacific Standard Time (Mexico)'");
    await platform.setLocale('de-CH');
    expect(script(1)).toBe("Set-WinSystemLocale -SystemLocale 'de-CH'");
  });

  it.each(["UTC'; calc", 'UTC$(x)', 'UTC\nStop-Computer', ''])('refuses the time zone %j', async (id) => {
    const { platform, calls } = platformWith();
    await expect(platform.setTimeZone(id)).rejects.toThrow(/invalid time zone/);
    expect(calls).toHaveLength(0);
  });

  it.each(["en-US'", 'en US', 'e', '$(x)'])('refuses the locale %j', async (tag) => {
    const { platform, calls } = platformWith();
    await expect(platform.setLocale(tag)).rejects.toThrow(/invalid locale/);
    expect(calls).toHaveLength(0);
  });

  it('sets formats, keyboard and home location for new users on Windows 10 and 11 with an intl.cpl answer file', async () => {
    const { platform, calls, script } = platformWith();
    await platform.setInternational({ formats: 'de-DE', keyboard: '0407:00000407', homeLocation: 94 });
    const xml = literalAfter(script(), '$xml = ');
    for (const part of [
      '<gs:User UserID="Current" CopySettingsToDefaultUserAcct="true" CopySettingsToSystemAcct="true"/>',
      '<gs:GeoID Value="94"/>',
      '<gs:InputLanguageID Action="add" ID="0407:00000407" Default="true"/>',
      '<gs:Locale Name="de-DE" SetAsCurrent="true" ResetAllSettings="false"/>',
    ])
      expect(xml).toContain(part);
    expect(script()).toContain('Invoke-Native $control "intl.cpl,,/f:');
    // Checked where a new user gets it: the default user hive.
    expect(script()).toContain('if ($got -ne $formats) { throw');
    expect(script()).not.toContain('Copy-UserInternationalSettingsToSystem');
    expect(calls[0]!.opts?.timeoutMs).toBe(300_000);
  });

  it.each(['0409', '0409:0000040G', "0409:00000409'; calc", '0409:00000409\n', 'en-US'])(
    'refuses the input locale %j',
    async (tip) => {
      const { platform, calls } = platformWith();
      await expect(
        platform.setInternational({ formats: 'en-US', keyboard: tip, homeLocation: 244 }),
      ).rejects.toThrow(/invalid input locale/);
      expect(calls).toHaveLength(0);
    },
  );
});

describe('Wi-Fi', () => {
  it('lists profile names from the WLAN service files, never exporting keys', async () => {
    const { platform, script } = platformWith(() => json(['Corp', ' Guest ', 'Corp', '']));
    await expect(platform.wifiProfiles()).resolves.toEqual(['Corp', ' Guest ']);
    expect(script()).toContain("Join-Path $env:ProgramData 'Microsoft\\Wlansvc\\Profiles\\Interfaces'");
    expect(script()).toContain('$doc.XmlResolver = $null');
    expect(script()).toContain(`SelectSingleNode("*[local-name()='name']")`);
    for (const absent of ['netsh', 'key=clear', 'keyMaterial']) expect(script()).not.toContain(absent);
  });

  it('lists nothing on a machine without Wi-Fi, and one profile as a list', async () => {
    await expect(platformWith(() => json([])).platform.wifiProfiles()).resolves.toEqual([]);
    await expect(platformWith(() => json(null)).platform.wifiProfiles()).resolves.toEqual([]);
    await expect(platformWith(() => json('Corp')).platform.wifiProfiles()).resolves.toEqual(['Corp']);
  });

  const network = (over: Partial<WifiNetworkSpec> = {}): WifiNetworkSpec => ({
    ssid: 'Corp',
    authentication: 'wpa2-enterprise',
    autoConnect: true,
    radius: { serverNames: ['radius.corp.example'], trustedRootCaThumbprints: ['A1'.repeat(20)] },
    ...over,
  });

  it('adds the profile for all users from a temporary file it deletes', async () => {
    const { platform, script } = platformWith();
    await platform.addWifiProfile(network());
    expect(literalAfter(script(), '$xml = ')).toBe(wlanProfileXml(network()));
    expect(script()).toContain(`"wlan add profile filename=""$file"" user=all"`);
    expect(script()).toContain("Join-Path $env:SystemRoot 'System32\\netsh.exe'");
    expect(script()).toContain(
      '[System.IO.File]::WriteAllText($file, $xml, [System.Text.UTF8Encoding]::new($false))',
    );
    expect(script()).toContain('} finally { [System.IO.File]::Delete($file) }');
    expect(script()).toContain('throw "netsh wlan add profile failed');
  });

  it.each([
    ['open', 'open', 'none', false],
    ['wpa2-enterprise', 'WPA2', 'AES', true],
    ['wpa3-enterprise', 'WPA3ENT', 'AES', true],
  ] as const)('writes %s as %s/%s', (authentication, auth, encryption, oneX) => {
    const xml = wlanProfileXml(network({ authentication, autoConnect: false }));
    expect(xml).toContain(`<authentication>${auth}</authentication>`);
    expect(xml).toContain(`<encryption>${encryption}</encryption>`);
    expect(xml).toContain(`<useOneX>${oneX}</useOneX>`);
    expect(xml).toContain('<connectionMode>manual</connectionMode>');
    expect(xml.includes('<authMode>machine</authMode>')).toBe(oneX);
    expect(xml.includes('<Type>26</Type>')).toBe(oneX); // EAP-MSCHAPv2 inside PEAP (25)
    for (const secret of ['sharedKey', 'keyMaterial', 'PSK', 'Password']) expect(xml).not.toContain(secret);
  });

  it('escapes a hostile SSID in the XML, with its exact bytes as hex', async () => {
    const ssid = `<C&o'"> $(x) \`é`;
    const { platform, script } = platformWith();
    await platform.addWifiProfile(network({ ssid }));
    const xml = literalAfter(script(), '$xml = ');
    const escaped = '&lt;C&amp;o&apos;&quot;&gt; $(x) `é';
    expect(xml).toContain(`<name>${escaped}</name>`);
    expect(xml.match(/<name>/g)).toHaveLength(2);
    expect(xml).toContain(`<hex>${Buffer.from(ssid, 'utf8').toString('hex').toUpperCase()}</hex>`);
    expect(xml).not.toContain(ssid);
  });

  it.each(['', 'x'.repeat(33), 'é'.repeat(17), 'Corp\nx', 'Corp\u0000', 'a\uD800b'])(
    'refuses the SSID %j without running anything',
    async (ssid) => {
      const { platform, calls } = platformWith();
      await expect(platform.addWifiProfile(network({ ssid }))).rejects.toThrow(/invalid SSID/);
      expect(calls).toHaveLength(0);
    },
  );

  it('refuses pre-shared-key networks', async () => {
    const { platform, calls } = platformWith();
    const psk = network({ authentication: 'wpa2-psk' as WifiNetworkSpec['authentication'] });
    await expect(platform.addWifiProfile(psk)).rejects.toThrow(/unsupported Wi-Fi authentication/);
    expect(calls).toHaveLength(0);
  });
});

describe('autopilotHash', () => {
  it('reads the hardware hash, serial and product id, but not the product key', async () => {
    const hash = Buffer.from(randomBytes(64)).toString('base64');
    const { platform, script } = platformWith(() =>
      json({ hardwareHash: hash, serial: ' PF2ABCDE ', productId: '00330-80000-00000-AA123' }),
    );
    await expect(platform.autopilotHash()).resolves.toEqual({
      serial: 'PF2ABCDE',
      productId: '00330-80000-00000-AA123',
      hardwareHash: hash,
    });
    expect(script()).toContain(
      `Get-CimInstance -Namespace root/cimv2/mdm/dmmap -ClassName MDM_DevDetail_Ext01 -Filter "InstanceID='Ext' AND ParentID='./DevDetail'"`,
    );
    expect(script()).toContain('DeviceHardwareData');
    expect(script()).toContain('(Get-CimInstance -ClassName Win32_BIOS).SerialNumber');
    // Get-WindowsAutopilotInfo leaves the Product ID column empty; so does Drydock.
    expect(script()).toContain('productId = $null');
    expect(script()).not.toContain('Win32_OperatingSystem');
    for (const absent of ['OA3xOriginalProductKey', 'SoftwareLicensingService'])
      expect(script()).not.toContain(absent);
  });

  it('answers a null product id, and refuses a missing or garbled hash', async () => {
    const hash = 'T0sA';
    await expect(
      platformWith(() => json({ hardwareHash: hash, serial: 'S', productId: '' })).platform.autopilotHash(),
    ).resolves.toEqual({ serial: 'S', productId: null, hardwareHash: hash });
    await expect(
      platformWith(() => json({ hardwareHash: null, serial: 'S' })).platform.autopilotHash(),
    ).rejects.toThrow(/hardware hash/);
    await expect(
      platformWith(() => json({ hardwareHash: 'not base64!', serial: 'S' })).platform.autopilotHash(),
    ).rejects.toThrow(/not base64/);
  });
});

describe('restart', () => {
  it('schedules a restart in 10 s with the reason as a planned-maintenance comment', async () => {
    const { platform, script } = platformWith();
    await platform.restart('Drydock: rename to WS-0042');
    expect(argvOf(script())).toEqual(['/r', '/t', '10', '/c', 'Drydock: rename to WS-0042', '/d', 'p:4:1']);
    expect(script()).toContain(
      "Invoke-Native (Join-Path $env:SystemRoot 'System32\\shutdown.exe') $arguments",
    );
    expect(script()).toContain('$result.exitCode -ne 1190');
  });

  it('keeps a hostile reason in one argument, on one line, at most 512 characters', async () => {
    const { platform, script } = platformWith();
    await platform.restart(`a "quoted" \\" $(calc) 'x' \`n\r\nnext \\`);
    expect(argvOf(script())[4]).toBe(`a "quoted" \\" $(calc) 'x' \`n  next \\`);
    await platform.restart('x'.repeat(600));
    expect(argvOf(script(1))[4]).toBe('x'.repeat(512));
  });

  it('reports shutdown.exe refusing', async () => {
    const { platform } = platformWith(() =>
      failed('shutdown.exe failed with exit code 5: Access is denied.(5)'),
    );
    const error = await rejection(platform.restart('x'));
    expect(error).toBeInstanceOf(PowerShellError);
    expect(error.message).toBe(
      'PowerShell exited with code 1: shutdown.exe failed with exit code 5: Access is denied.(5)',
    );
  });
});

describe('download', () => {
  it('refuses anything but https before doing anything', async () => {
    const { platform, calls } = platformWith();
    const signal = new AbortController().signal;
    for (const url of [
      'http://example.com/a.msi',
      'ftp://example.com/a.msi',
      'file:///C:/a.msi',
      'not a url',
    ]) {
      await expect(platform.download(url, signal)).rejects.toThrow(/https|invalid download URL/);
    }
    expect(calls).toHaveLength(0);
    expect(checkDownloadUrl('https://example.com/a.msi', false).host).toBe('example.com');
    expect(() => checkDownloadUrl('http://127.0.0.1/a', false)).toThrow(/https/);
  });

  it('first makes the downloads directory for SYSTEM and Administrators only', async () => {
    const { run, calls } = fakeRunner(() =>
      failed('the directory C:\\ProgramData\\Drydock\\downloads is not restricted'),
    );
    const platform = new WindowsPlatform({ run, downloadsDir: "D:\\Drydock's $(x)\\dl" });
    const error = await rejection(
      platform.download('https://example.com/a.msi', new AbortController().signal),
    );
    expect(error).toBeInstanceOf(PowerShellError);
    const { script } = calls[0]!;
    expect(literalAfter(script, '$dir = ')).toBe("D:\\Drydock's $(x)\\dl");
    expect(script).toContain('[System.IO.Directory]::CreateDirectory($dir, $security)');
    expect(script).toContain("$trusted = 'S-1-5-18', 'S-1-5-32-544'");
    expect(script).toMatch(/New-SecretsDir\nAssert-SecretsDir$/);
    // Not remembered as done: the next download tries again.
    await rejection(platform.download('https://example.com/a.msi', new AbortController().signal));
    expect(calls).toHaveLength(2);
  });

  it('refuses a downloads directory that is not an absolute local path', () => {
    expect(() => new WindowsPlatform({ downloadsDir: 'downloads' })).toThrow(/absolute/);
  });
});

describe('downloadToFile', () => {
  let server: Server;
  let base: string;
  let dir: string;
  const body = randomBytes(3 * 1024 * 1024 + 17);
  const exe = Buffer.concat([Buffer.from('MZ'), randomBytes(1000)]);
  let hold: (() => void) | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/files/')) {
        res.writeHead(200, { 'content-length': body.length });
        // In pieces, as a network delivers it.
        let offset = 0;
        const next = () => {
          if (offset >= body.length) return res.end();
          res.write(body.subarray(offset, (offset += 256 * 1024)), next);
        };
        next();
      } else if (url.startsWith('/get')) {
        res.end(exe);
      } else if (url === '/slow') {
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, 1024));
        hold = () => res.destroy();
      } else if (url === '/short') {
        res.writeHead(200, { 'content-length': 100 });
        res.write(body.subarray(0, 50), () => res.destroy());
      } else {
        res.writeHead(404).end('not here');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    hold?.();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'drydock-download-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the body and returns the SHA-256 of exactly those bytes', async () => {
    const url = `${base}/files/Contoso%20Setup%20(x64).msi?sig=secret`;
    const { file, sha256 } = await downloadToFile(url, dir, { allowHttp: true });
    expect(sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(file).equals(body)).toBe(true);
    expect(path.dirname(file)).toBe(dir);
    expect(path.basename(file)).toMatch(/^[0-9a-f]{12}-Contoso_Setup__x64_\.msi$/);
    expect(readdirSync(dir)).toEqual([path.basename(file)]);
    // The same URL lands on the same file.
    await expect(downloadToFile(url, dir, { allowHttp: true })).resolves.toEqual({ file, sha256 });
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it('names a file without extension by its content, and keeps hostile names inside the directory', async () => {
    const { file } = await downloadToFile(`${base}/get?id=5`, dir, { allowHttp: true });
    expect(path.basename(file)).toMatch(/^[0-9a-f]{12}-get\.exe$/);
    const hostileUrl = `${base}/get/..%2F..%2Fevil%20%24(calc)'%60.exe`;
    const { file: other } = await downloadToFile(hostileUrl, dir, { allowHttp: true });
    expect(path.dirname(other)).toBe(dir);
    expect(path.basename(other)).toMatch(/^[0-9a-f]{12}-evil___calc___\.exe$/);
  });

  it('leaves no file behind when the server fails, the body is short, or the caller aborts', async () => {
    await expect(downloadToFile(`${base}/missing.msi`, dir, { allowHttp: true })).rejects.toThrow(
      `download from 127.0.0.1:${new URL(base).port} failed: HTTP 404`,
    );
    await expect(downloadToFile(`${base}/short`, dir, { allowHttp: true })).rejects.toThrow();
    const controller = new AbortController();
    const pending = downloadToFile(`${base}/slow`, dir, { allowHttp: true, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('cancelled by the step')), 100);
    await expect(pending).rejects.toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is https-only unless a test says otherwise', async () => {
    await expect(downloadToFile(`${base}/files/a.msi`, dir)).rejects.toThrow(/must use https/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('the tweak catalogue on Windows', () => {
  it.each(
    tweakCatalogue.flatMap((t) => t.registry.map((r) => [t.id, r.path, r.name, r.type, r.value] as const)),
  )('%s writes %s\\%s through a path the registry scripts accept', (_id, path, name, type, value) => {
    expect(() => parseRegistryPath(path)).not.toThrow();
    expect(() => registryWriteScript(path, name, type, value)).not.toThrow();
  });

  it('HKU paths go to HKEY_USERS as they are (the sign-in screen profile is .DEFAULT)', () => {
    const script = registryWriteScript(
      'HKU:\\.DEFAULT\\Control Panel\\Keyboard',
      'InitialKeyboardIndicators',
      'String',
      '2',
    );
    expect(script).toContain("OpenBaseKey('Users', 'Registry64')");
    expect(script).toContain("$subKey = '.DEFAULT\\Control Panel\\Keyboard'");
    expect(script).not.toContain('Use-DefaultUserHive');
  });
});

describe('the local admin password (issue 16)', () => {
  it('travels on stdin into a SecureString that only .NET sees; Set-LocalUser binds it; the account is a quoted literal', async () => {
    const password = "Pa$$w0rd'`$(whoami)!";
    const { platform, calls, script } = platformWith(() => ok('{"created":false}'));
    await expect(platform.setLocalAdminPassword("O'Brien", password, { create: false })).resolves.toEqual({
      created: false,
    });
    expect(calls).toHaveLength(1);
    expect(literalAfter(script(), '$name = ')).toBe("O'Brien");
    expect(script()).toContain('$create = $false');
    // Never in the script (script block logging records it), nor through a cmdlet's string parameter.
    expect(script()).not.toContain(password);
    expect(script()).not.toContain('ConvertTo-SecureString');
    expect(script()).not.toContain('AsPlainText');
    expect(script()).toContain('[Convert]::FromBase64String([Console]::In.ReadToEnd())');
    expect(script()).toContain('$secure.AppendChar($c)');
    expect(script()).toContain('Set-LocalUser -Name $name -Password $secure');
    expect(script()).toContain("Add-LocalGroupMember -SID 'S-1-5-32-544' -Member $name");
    expect(script()).toContain('$secure.Dispose()');
    expect(Buffer.from(calls[0]!.opts!.stdin!, 'base64').toString('utf8')).toBe(password);
  });

  it('creates the dedicated account only when asked, with New-LocalUser', async () => {
    const { platform, script } = platformWith(() => ok('{"created":true}'));
    await expect(
      platform.setLocalAdminPassword('DrydockAdmin', 'x'.repeat(24), { create: true }),
    ).resolves.toEqual({
      created: true,
    });
    expect(script()).toContain('$create = $true');
    expect(script()).toContain('New-LocalUser -Name $name -Password $secure -PasswordNeverExpires');
    expect(script()).toContain("throw [System.ArgumentException]::new('the local account does not exist')");
  });
});

describe('BitLocker (issue 16)', () => {
  it('reads the volume and its protectors, one protector or many', async () => {
    const one = platformWith(() =>
      json({
        volumeStatus: 'FullyDecrypted',
        protectionStatus: 'Off',
        encryptionPercentage: 0,
        protectors: { id: '{A}', type: 'Tpm' },
      }),
    );
    await expect(one.platform.bitlockerVolume('C:')).resolves.toEqual({
      volumeStatus: 'FullyDecrypted',
      protectionStatus: 'Off',
      encryptionPercentage: 0,
      protectors: [{ id: '{A}', type: 'Tpm' }],
    });
    expect(one.script()).toContain("Get-BitLockerVolume -MountPoint 'C:' -ErrorAction Stop");
    expect(one.script()).toContain('KeyProtectorType');
  });

  it('adds the recovery password from stdin through WMI’s .NET method, never a cmdlet parameter', async () => {
    const password = '111111-222222-333333-444444-555555-666666-000000-123453';
    const id = '{0B3C1A2D-1111-4222-8333-944445555666}';
    const { platform, calls, script } = platformWith(() => ok(JSON.stringify({ protectorId: id })));
    await expect(platform.addRecoveryPasswordProtector('C:', password)).resolves.toEqual({ protectorId: id });
    expect(literalAfter(script(), '$drive = ')).toBe('C:');
    expect(script()).not.toContain(password);
    expect(script()).not.toContain('Add-BitLockerKeyProtector');
    expect(script()).not.toContain('-RecoveryPassword');
    expect(script()).toContain(
      "Get-WmiObject -Namespace 'root\\cimv2\\Security\\MicrosoftVolumeEncryption' -Class Win32_EncryptableVolume",
    );
    expect(script()).toContain("$volume.ProtectKeyWithNumericalPassword('Drydock escrow', $password)");
    expect(Buffer.from(calls[0]!.opts!.stdin!, 'base64').toString('ascii')).toBe(password);
    await expect(
      platformWith(() => ok('{"protectorId":"not an id"}')).platform.addRecoveryPasswordProtector(
        'C:',
        password,
      ),
    ).rejects.toThrow('unexpected output');
  });

  it('enables with the TPM protector only (one protector per Enable-BitLocker), and removes protectors by id', async () => {
    const { platform, calls } = platformWith(() => ok());
    await platform.enableBitLockerTpm('C:', { encryptionMethod: 'XtsAes256', usedSpaceOnly: true });
    await platform.removeKeyProtector('C:', '{0B3C1A2D-1111-4222-8333-944445555666}');
    expect(calls[0]!.script).toBe(
      "Enable-BitLocker -MountPoint 'C:' -EncryptionMethod 'XtsAes256' -TpmProtector -SkipHardwareTest -UsedSpaceOnly:$true -ErrorAction Stop | Out-Null",
    );
    expect(calls[1]!.script).toBe(
      "Remove-BitLockerKeyProtector -MountPoint 'C:' -KeyProtectorId '{0B3C1A2D-1111-4222-8333-944445555666}' -ErrorAction Stop | Out-Null",
    );
  });
});

// --- Issue 12: the scripts behind the Standard profile on real Windows, pinned line by line ---

/** The script inside runPowerShellJson's wrapper (which converts its output to JSON). */
function jsonBody(script: string): string {
  const head = '$json = & {\n';
  const tail = '\n} | ConvertTo-Json -Depth 6 -Compress\n';
  expect(script.startsWith(head)).toBe(true);
  return script.slice(head.length, script.lastIndexOf(tail));
}

/** The JSON a registry batch reads on stdin (base64 of UTF-8). */
function stdinJson(stdin: string | undefined): unknown {
  expect(stdin).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
  return JSON.parse(Buffer.from(stdin!, 'base64').toString('utf8'));
}

/** How often `part` occurs in `text`. */
const occurrences = (text: string, part: string) => text.split(part).length - 1;

describe('pendingReboot (issue 12)', () => {
  it("reads Windows' four pending-restart indicators from the 64-bit registry, changing nothing", async () => {
    const { platform, script } = platformWith(() =>
      json(['CBS RebootPending', 'PendingFileRenameOperations']),
    );
    await expect(platform.pendingReboot()).resolves.toEqual([
      'CBS RebootPending',
      'PendingFileRenameOperations',
    ]);
    for (const line of [
      String.raw`$machine = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64')`,
      String.raw`function Test-Key([string]$Path) { $key = $machine.OpenSubKey($Path); if ($key) { $key.Close(); $true } else { $false } }`,
      // Component Based Servicing: a key that exists while servicing waits for a restart.
      String.raw`if (Test-Key 'SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') { $reasons.Add('CBS RebootPending') }`,
      // Windows Update's agent: a key that exists while an update waits for a restart.
      String.raw`if (Test-Key 'SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') { $reasons.Add('Windows Update RebootRequired') }`,
      // MoveFileEx(MOVEFILE_DELAY_UNTIL_REBOOT), which MSI uses for files in use: a REG_MULTI_SZ with entries.
      String.raw`$session = $machine.OpenSubKey('SYSTEM\CurrentControlSet\Control\Session Manager')`,
      String.raw`try { if (@($session.GetValue('PendingFileRenameOperations', $null) | Where-Object { $_ }).Count -gt 0) { $reasons.Add('PendingFileRenameOperations') } }`,
      // A rename waits for the restart: the next boot's name differs from the one in effect.
      String.raw`$names = $machine.OpenSubKey('SYSTEM\CurrentControlSet\Control\ComputerName')`,
      String.raw`$active = $names.OpenSubKey('ActiveComputerName').GetValue('ComputerName')`,
      String.raw`$next = $names.OpenSubKey('ComputerName').GetValue('ComputerName')`,
      String.raw`if ($active -ne $next) { $reasons.Add('computer name change') }`,
      ',$reasons.ToArray()',
    ])
      expect(script()).toContain(line);
    expect(jsonBody(script())).toBe(PENDING_REBOOT);
    for (const write of [
      'SetValue',
      'CreateSubKey',
      'DeleteValue',
      'OpenSubKey($Path, $true)',
      'Get-ItemProperty',
    ])
      expect(script()).not.toContain(write);
  });

  it('answers no indicators as an empty list, one as a list, and drops anything but text', async () => {
    await expect(platformWith(() => json([])).platform.pendingReboot()).resolves.toEqual([]);
    await expect(platformWith(() => json(null)).platform.pendingReboot()).resolves.toEqual([]);
    await expect(platformWith(() => json('CBS RebootPending')).platform.pendingReboot()).resolves.toEqual([
      'CBS RebootPending',
    ]);
    await expect(
      platformWith(() => json(['computer name change', 3, null])).platform.pendingReboot(),
    ).resolves.toEqual(['computer name change']);
  });
});

describe('wingetReady (issue 12)', () => {
  it('finds winget by path, runs `winget --version` with VCLibs on its PATH, and wants 1.4 or later', async () => {
    const { platform, calls, script } = platformWith(() =>
      json({
        ok: true,
        path: 'C:\\Program Files\\WindowsApps\\x\\winget.exe',
        version: '1.7.10861',
        runtime: 'VCLibs framework folder on PATH',
      }),
    );
    await expect(platform.wingetReady()).resolves.toEqual({
      ok: true,
      path: 'C:\\Program Files\\WindowsApps\\x\\winget.exe',
      version: '1.7.10861',
      runtime: 'VCLibs framework folder on PATH',
    });
    expect(jsonBody(script())).toBe(WINGET_READY);
    for (const line of [
      // LTSC (no App Installer) or an unsigned winget.exe: Get-Winget throws, readiness says why.
      'try { $winget = Get-Winget } catch { return [pscustomobject]@{ ok = $false; reason = $_.Exception.Message } }',
      "if (-not $package) { throw 'winget is not available: App Installer (Microsoft.DesktopAppInstaller) is not installed for the machine (LTSC editions have none)' }",
      'if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) { throw "winget is not available: $exe is missing" }',
      "$result = Invoke-Native $winget.path '--version' ([System.Text.UTF8Encoding]::new($false)) $winget.runtimePath",
      String.raw`if ($result.exitCode -ne 0 -or $text -notmatch '^v?(\d+)\.(\d+)') {`,
      // Compared as numbers: 1.10 is newer than 1.4.
      'if ([int]$Matches[1] -lt 1 -or ([int]$Matches[1] -eq 1 -and [int]$Matches[2] -lt 4)) {',
      'return [pscustomobject]@{ ok = $false; reason = "winget $text is older than 1.4 (no --disable-interactivity): update App Installer" }',
      "runtime = if ($winget.runtimePath) { 'VCLibs framework folder on PATH' } else { 'VC++ runtime (system-wide)' }",
    ])
      expect(script()).toContain(line);
    expect(script()).not.toContain('Get-Command');
    expect(calls[0]!.opts?.timeoutMs).toBe(300_000);
  });

  it.each([
    ['v1.3.2691\r\n', false],
    ['v1.4.10173', true],
    ['v1.7.10861', true],
    ['v1.10.340', true],
    ['v2.0.1', true],
    ['v0.9.1', false],
    ['', false],
  ])('reads `winget --version` %j as 1.4 or later: %s', (output, recent) => {
    // The script's own pattern and comparison, applied as PowerShell applies them.
    const pattern = /\$text -notmatch '([^']+)'/.exec(WINGET_READY)![1]!;
    const match = new RegExp(pattern).exec(output.trim());
    const ok = match !== null && !(Number(match[1]) < 1 || (Number(match[1]) === 1 && Number(match[2]) < 4));
    expect(ok).toBe(recent);
  });

  it('passes the reason on when winget cannot work (LTSC, too old, no runtime), and a default without one', async () => {
    const reason = 'winget v1.3.2691 is older than 1.4 (no --disable-interactivity): update App Installer';
    await expect(platformWith(() => json({ ok: false, reason })).platform.wingetReady()).resolves.toEqual({
      ok: false,
      reason,
    });
    await expect(platformWith(() => json({ ok: false })).platform.wingetReady()).resolves.toEqual({
      ok: false,
      reason: 'winget is not available',
    });
    await expect(
      platformWith(() => json({ ok: true, version: '1.7', runtime: 'x' })).platform.wingetReady(),
    ).rejects.toThrow('Windows reported no winget path');
  });
});

describe('applyTweakAction (issue 12)', () => {
  it('restore-point: turns System Restore on for the system drive, then Checkpoint-Computer', async () => {
    const { platform, calls, script } = platformWith(() => json({ changed: true }));
    await expect(platform.applyTweakAction('restore-point', 'create-restore-point')).resolves.toBe(true);
    expect(literalAfter(script(), '$description = ')).toBe('Drydock: before tweaks (create-restore-point)');
    expect(script()).toContain(
      `try { Enable-ComputerRestore -Drive ($env:SystemDrive + '\\') } catch { throw "System Restore cannot be turned on: $($_.Exception.Message)" }`,
    );
    // MODIFY_SETTINGS (12): SystemRestore.CreateRestorePoint's type for changed settings.
    expect(script()).toContain(
      '\nCheckpoint-Computer -Description $description -RestorePointType MODIFY_SETTINGS\n',
    );
    expect(script()).not.toContain('powercfg');
    expect(calls[0]!.opts?.timeoutMs).toBe(600_000);
  });

  it('restore-point: a hostile tweak name stays in the literal, and the description is at most 200 characters', async () => {
    const { platform, script } = platformWith(() => json({ changed: true }));
    await platform.applyTweakAction('restore-point', "x'); Remove-Item C:\\ -Recurse; ('");
    expect(literalAfter(script(), '$description = ')).toBe(
      "Drydock: before tweaks (x'); Remove-Item C:\\ -Recurse; (')",
    );
    await platform.applyTweakAction('restore-point', 'y'.repeat(300));
    expect(literalAfter(script(1), '$description = ')).toHaveLength(200);
  });

  it('hibernation-off: records that hibernation was on, once, then `powercfg /hibernate off`', async () => {
    const { platform, script } = platformWith(() => json({ changed: true }));
    await expect(platform.applyTweakAction('hibernation-off', 'disable-hibernation')).resolves.toBe(true);
    const s = script();
    expect(literalAfter(s, '$tweak = ')).toBe('disable-hibernation');
    expect(literalAfter(s, '$undoPath = ')).toBe('SOFTWARE\\Drydock\\TweakUndo');
    expect(TWEAK_RECORDS_SUBKEY).toBe('SOFTWARE\\Drydock\\TweakUndo');
    const lines = [
      "$power = $machine.OpenSubKey('SYSTEM\\CurrentControlSet\\Control\\Power')",
      "$enabled = $power -and [int]$power.GetValue('HibernateEnabled', 0) -ne 0",
      'if (-not $enabled) { return [pscustomobject]@{ changed = $false } }',
      '$undo = $machine.CreateSubKey($undoPath)',
      "if ($undo.GetValueNames() -notcontains 'action:hibernation-off') {",
      "$record = [pscustomobject]@{ key = 'action:hibernation-off'; tweak = $tweak; before = [pscustomobject]@{ hibernation = $true } }",
      "$undo.SetValue('action:hibernation-off', (ConvertTo-Json -InputObject $record -Compress), 'String')",
      "$result = Invoke-Native (Join-Path $env:SystemRoot 'System32\\powercfg.exe') '/hibernate off'",
      'if ($result.exitCode -ne 0) { throw "powercfg /hibernate off failed: $(Get-FirstLine $result.output)" }',
    ];
    // In this order: nothing is switched off before what it was is on record.
    let at = -1;
    for (const line of lines) {
      const next = s.indexOf(line);
      expect(next).toBeGreaterThan(at);
      at = next;
    }
    // Not the registry value alone: powercfg removes hiberfil.sys and takes effect at once.
    expect(s).not.toMatch(/SetValue\('HibernateEnabled'/);
    expect(s).not.toContain('Checkpoint-Computer');
  });

  it('answers false when nothing changed, and refuses an unknown action without running anything', async () => {
    await expect(
      platformWith(() => json({ changed: false })).platform.applyTweakAction('hibernation-off', 't'),
    ).resolves.toBe(false);
    const { platform, calls } = platformWith();
    await expect(platform.applyTweakAction('format-disk' as 'restore-point', 't')).rejects.toThrow(
      'unknown tweak action',
    );
    expect(calls).toHaveLength(0);
  });
});

describe('applyRegistry (issue 12)', () => {
  const items = [
    {
      path: 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\Dsh',
      name: 'AllowNewsAndInterests',
      type: 'DWord',
      value: 0,
      tweak: 'disable-widgets',
    },
    {
      path: 'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced',
      name: 'HideFileExt',
      type: 'DWord',
      value: 0xffffffff,
      tweak: 'show-extensions',
    },
    {
      path: 'HKCU:\\Control Panel\\Desktop',
      name: 'MenuShowDelay',
      type: 'String',
      value: "2'0",
      tweak: "menu'delay",
    },
    {
      path: 'HKU:\\.DEFAULT\\Control Panel\\Keyboard',
      name: 'InitialKeyboardIndicators',
      type: 'String',
      value: 2,
      tweak: 'numlock',
    },
  ] as const;

  it('sends every value in one script as data, the default user hive mounted once for the whole step', async () => {
    const { platform, calls, script } = platformWith(() => json([]));
    await platform.applyRegistry(items.map((i) => ({ ...i })));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.opts?.timeoutMs).toBe(300_000);
    const batch = stdinJson(calls[0]!.opts?.stdin);
    expect(batch).toEqual([
      {
        i: 0,
        hive: 'HKLM',
        subKey: 'SOFTWARE\\Policies\\Microsoft\\Dsh',
        path: items[0].path,
        name: 'AllowNewsAndInterests',
        kind: 'DWord',
        data: 0,
        tweak: 'disable-widgets',
      },
      // As the Int32 .NET's SetValue(…, DWord) takes.
      {
        i: 1,
        hive: 'HKCU',
        subKey: 'Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced',
        path: items[1].path,
        name: 'HideFileExt',
        kind: 'DWord',
        data: -1,
        tweak: 'show-extensions',
      },
      {
        i: 2,
        hive: 'HKCU',
        subKey: 'Control Panel\\Desktop',
        path: items[2].path,
        name: 'MenuShowDelay',
        kind: 'String',
        data: "2'0",
        tweak: "menu'delay",
      },
      {
        i: 3,
        hive: 'HKU',
        subKey: '.DEFAULT\\Control Panel\\Keyboard',
        path: items[3].path,
        name: 'InitialKeyboardIndicators',
        kind: 'String',
        data: '2',
        tweak: 'numlock',
      },
    ]);
    expect(literalAfter(script(), '$undoPath = ')).toBe('SOFTWARE\\Drydock\\TweakUndo');
    // One reg.exe load (inside Use-DefaultUserHive) and one call of it: once per step, not per value.
    expect(occurrences(script(), 'Invoke-Native $reg "load ')).toBe(1);
    expect(occurrences(script(), 'Use-DefaultUserHive {')).toBe(1);
    expect(script()).toContain('Use-DefaultUserHive { param($mountName)\nforeach ($item in $items) {');
    // HKCU lands in the default user profile and every loaded user hive; HKU as it is.
    expect(script()).toContain(
      `$list = @([pscustomobject]@{ target = 'default'; root = $users; path = "$MountName\\$SubKey" })`,
    );
    expect(script()).toContain(
      `foreach ($sid in Get-UserHives) { $list += [pscustomobject]@{ target = $sid; root = $users; path = "$sid\\$SubKey" } }`,
    );
    expect(script()).toContain(
      `if ($Hive -eq 'HKU') { return ,@([pscustomobject]@{ target = 'HKU'; root = $users; path = $SubKey }) }`,
    );
  });

  it('reads its data from stdin, enumerated as Windows PowerShell 5.1 needs, so any profile fits a command line', async () => {
    const { platform, calls, script } = platformWith(() => json([]));
    const standard = buildPlan(standardProfile, { hostname: 'PC-001' }).flatMap((step) =>
      step.kind === StepKind.Tweaks ? step.payload.tweaks : [],
    );
    const all = [...standard, ...tweakCatalogue].flatMap((t) =>
      t.registry.map((r) => ({ ...r, tweak: t.id })),
    );
    await platform.applyRegistry(all);
    await platform.readRegistry(all);
    await platform.restoreTweakRecords(all.map((r) => `registry:${r.path}\\${r.name}`));
    for (const [i, variable] of [
      [0, '$items'],
      [1, '$items'],
      [2, '$keys'],
    ] as const) {
      // 5.1's ConvertFrom-Json writes an array as one object: @(ConvertFrom-Json …) would hold one item, the array.
      expect(script(i)).toContain(
        `$batch = [System.Text.Encoding]::UTF8.GetString([Convert]::FromBase64String([Console]::In.ReadToEnd()))\n${variable} = @((ConvertFrom-Json $batch))\n`,
      );
      expect(script(i)).not.toContain('@(ConvertFrom-Json');
      expect((stdinJson(calls[i]!.opts?.stdin) as unknown[]).length).toBe(all.length);
      // CreateProcess takes 32,767 characters; runPowerShell refuses more than 30,000 of encoded script.
      expect(encodeCommand(wrapScript(script(i))).length).toBeLessThan(30_000);
      for (const value of all) expect(script(i)).not.toContain(value.path);
    }
  });

  it('records what each target had under TweakUndo (once) before it writes, and catches each value on its own', async () => {
    const { platform, script } = platformWith(() => json([]));
    await platform.applyRegistry(items.map((i) => ({ ...i })));
    const s = script();
    const body = s.slice(s.indexOf('foreach ($item in $items) {'));
    const lines = [
      'foreach ($item in $items) {\n  try {',
      '$targets = Get-Targets $item.hive $item.subKey $mountName',
      '$state = Get-State $t.root $t.path $item.name',
      '$before[$t.target] = $state',
      // Case-sensitive: PowerShell's -ne would take 'Dark' for 'dark' and leave it.
      'if ($null -eq $state -or $state.kind -ne $item.kind -or "$($state.value)" -cne "$($item.data)") { $differs = $true }',
      'if (-not $differs) { [pscustomobject]@{ i = $item.i; changed = $false }; continue }',
      "$recordName = 'registry:' + $item.path + '\\' + $item.name",
      '$undo = $machine.CreateSubKey($undoPath)',
      'if ($undo.GetValueNames() -notcontains $recordName) {',
      '$record = [pscustomobject]@{ key = $recordName; tweak = $item.tweak; before = [pscustomobject]$before }',
      "$undo.SetValue($recordName, (ConvertTo-Json -InputObject $record -Compress -Depth 5), 'String')",
      'foreach ($t in $targets) { Set-State $t.root $t.path $item.name ([pscustomobject]@{ kind = $item.kind; value = $item.data }) }',
      '[pscustomobject]@{ i = $item.i; changed = $true }',
      '} catch {\n    $cause = Get-Cause $_.Exception\n    [pscustomobject]@{ i = $item.i; changed = $false; error = $cause.Message; permanent = (Test-Permanent $cause) }\n  }\n}',
    ];
    let at = -1;
    for (const line of lines) {
      const next = body.indexOf(line);
      expect(next).toBeGreaterThan(at);
      at = next;
    }
    // Access denied (UCPD), a security refusal, an invalid value: permanent; anything else may pass next
    // time. Judged on the cause: PowerShell wraps what RegistryKey.SetValue throws in a
    // MethodInvocationException (an ExtendedTypeSystemException), which -is would not see through.
    expect(s).toContain(
      'function Get-Cause($Exception) {\n  while (($Exception -is [System.Management.Automation.ExtendedTypeSystemException] -or $Exception -is [System.Reflection.TargetInvocationException]) -and $Exception.InnerException) { $Exception = $Exception.InnerException }\n  $Exception\n}',
    );
    expect(s).toContain(
      'function Test-Permanent($Exception) {\n  $Exception -is [System.UnauthorizedAccessException] -or $Exception -is [System.Security.SecurityException] -or $Exception -is [System.ArgumentException]\n}',
    );
    // The 64-bit view, values as they are (not expanded), Binary as base64 so a record can put it back.
    expect(s).toContain(
      "$machine = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64')",
    );
    expect(s).toContain("$value = $key.GetValue($Name, $null, 'DoNotExpandEnvironmentNames')");
    expect(s).toContain("if ($kind -eq 'Binary') { $value = [Convert]::ToBase64String([byte[]]$value) }");
  });

  it('mounts no hive for HKLM values alone', async () => {
    const { platform, script } = platformWith(() => json({ i: 0, changed: true }));
    await expect(platform.applyRegistry([{ ...items[0] }])).resolves.toEqual([{ changed: true }]);
    expect(occurrences(script(), 'Use-DefaultUserHive {')).toBe(0);
    expect(script()).toContain('$mountName = $null\n& {\nforeach ($item in $items) {');
  });

  it('answers per value: changed, unchanged, a permanent or transient failure, and no answer at all', async () => {
    const { platform } = platformWith(() =>
      json([
        { i: 0, changed: true },
        { i: 1, changed: false },
        { i: 2, changed: false, error: 'Zugriff verweigert', permanent: true },
      ]),
    );
    await expect(platform.applyRegistry(items.map((i) => ({ ...i })))).resolves.toEqual([
      { changed: true },
      { changed: false },
      { changed: false, error: { message: 'Zugriff verweigert', permanent: true } },
      { changed: false, error: { message: 'no answer for this value', permanent: false } },
    ]);
    const empty = platformWith();
    await expect(empty.platform.applyRegistry([])).resolves.toEqual([]);
    expect(empty.calls).toHaveLength(0);
  });

  it('refuses a path or value it cannot write before running anything', async () => {
    const { platform, calls } = platformWith();
    await expect(
      platform.applyRegistry([{ ...items[0] }, { ...items[1], path: 'HKCR:\\x' }]),
    ).rejects.toThrow(/invalid registry path/);
    await expect(platform.applyRegistry([{ ...items[0], value: 2 ** 32 }])).rejects.toThrow(/DWord value/);
    expect(calls).toHaveLength(0);
  });
});

describe('tweakRecords and restoreTweakRecords (issue 12)', () => {
  it('reads every record under HKLM\\SOFTWARE\\Drydock\\TweakUndo read-only, keeping only well-formed ones', async () => {
    const good = { key: 'registry:HKCU:\\Software\\X\\v', tweak: 't', before: { default: null } };
    const action = { key: 'action:hibernation-off', tweak: 'h', before: { hibernation: true } };
    const { platform, script } = platformWith(() =>
      json([JSON.stringify(good), 'not json', JSON.stringify({ key: 'k' }), JSON.stringify(action)]),
    );
    await expect(platform.tweakRecords()).resolves.toEqual([good, action]);
    expect(jsonBody(script())).toBe(TWEAK_RECORDS);
    expect(literalAfter(script(), '$undoPath = ')).toBe('SOFTWARE\\Drydock\\TweakUndo');
    expect(script()).toContain(
      "$undo = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey($undoPath)",
    );
    expect(script()).toContain(
      'try { foreach ($name in $undo.GetValueNames()) { $texts.Add([string]$undo.GetValue($name)) } } finally { $undo.Close() }',
    );
    expect(script()).toContain(',$texts.ToArray()');
    for (const write of ['SetValue', 'DeleteValue', 'CreateSubKey']) expect(script()).not.toContain(write);
    await expect(platformWith(() => json(JSON.stringify(action))).platform.tweakRecords()).resolves.toEqual([
      action,
    ]);
    await expect(platformWith(() => json(null)).platform.tweakRecords()).resolves.toEqual([]);
  });

  it('puts each record back in its own try, then deletes it; a signed-out user is loaded and unloaded again', async () => {
    const keys = ["registry:HKCU:\\Software\\O'Brien\\v", 'action:hibernation-off'];
    const { platform, calls, script } = platformWith(() => json([{ key: keys[0] }]));
    await expect(platform.restoreTweakRecords(keys)).resolves.toEqual([
      { key: keys[0] },
      { key: keys[1], error: 'no answer for this record' },
    ]);
    expect(calls[0]!.opts?.timeoutMs).toBe(600_000);
    const s = script();
    expect(stdinJson(calls[0]!.opts?.stdin)).toEqual(keys);
    expect(s).toContain('\n$keys = @((ConvertFrom-Json $batch))\n');
    expect(s).not.toContain("O'Brien");
    expect(literalAfter(s, '$undoPath = ')).toBe('SOFTWARE\\Drydock\\TweakUndo');
    expect(occurrences(s, 'Use-DefaultUserHive {')).toBe(1);
    const lines = [
      'foreach ($recordKey in $keys) {\n    try {',
      '$undo = $machine.OpenSubKey($undoPath, $true)',
      // Already restored (or never recorded): nothing to do, and no error.
      'if (-not $undo -or $undo.GetValueNames() -notcontains $recordKey) {',
      '$record = ConvertFrom-Json ([string]$undo.GetValue($recordKey))',
      "if ($recordKey -eq 'action:hibernation-off') {\n        if ($record.before.hibernation) {",
      "$result = Invoke-Native (Join-Path $env:SystemRoot 'System32\\powercfg.exe') '/hibernate on'",
      "$subKey = $path -replace '^(Registry::)?[^\\\\]+\\\\', ''",
      "'HKLM' { Set-State $machine $subKey $name $state }",
      "'HKU' { Set-State $users $subKey $name $state }",
      `'default' { Set-State $users "$mountName\\$subKey" $name $state }`,
      `default { Use-UserHive $property.Name { param($at) Set-State $users "$at\\$subKey" $name $state } }`,
      'try { $undo.DeleteValue($recordKey, $false) } finally { $undo.Close() }',
      '} catch {\n      [pscustomobject]@{ key = $recordKey; error = (Get-Cause $_.Exception).Message }',
    ];
    let at = -1;
    for (const line of lines) {
      const next = s.indexOf(line);
      expect(next).toBeGreaterThan(at);
      at = next;
    }
    // A user not signed in now: their hive from the ProfileList, loaded for the moment and unloaded
    // with retries (left loaded, the user would get a temporary profile at the next sign-in).
    for (const line of [
      'if ($users.GetSubKeyNames() -contains $Sid) { return (& $Action $Sid) }',
      '$profileKey = $machine.OpenSubKey("SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\$Sid")',
      "$dir = [Environment]::ExpandEnvironmentVariables([string]$profileKey.GetValue('ProfileImagePath'))",
      `$load = Invoke-Native $reg "load ""HKU\\$userMount"" ""$(Join-Path $dir 'NTUSER.DAT')"""`,
      `$unload = Invoke-Native $reg "unload ""HKU\\$userMount"""`,
      'if ($attempt -eq 5) { throw "reg.exe could not unload the hive of $($Sid): $(Get-FirstLine $unload.output)" }',
    ])
      expect(s).toContain(line);
    expect(s).not.toContain('[void](Invoke-Native $reg "unload');
  });

  it('passes on the error of a record it could not put back, and refuses keys it never writes', async () => {
    const { platform, calls } = platformWith(() =>
      json({ key: 'registry:HKLM:\\SOFTWARE\\X\\v', error: 'Access to the registry key is denied.' }),
    );
    await expect(platform.restoreTweakRecords(['registry:HKLM:\\SOFTWARE\\X\\v'])).resolves.toEqual([
      { key: 'registry:HKLM:\\SOFTWARE\\X\\v', error: 'Access to the registry key is denied.' },
    ]);
    for (const bad of ['HKLM:\\SOFTWARE\\X\\v', 'file:C:\\x', `registry:${'x'.repeat(20_000)}`])
      await expect(platform.restoreTweakRecords([bad])).rejects.toThrow('invalid tweak record key');
    expect(calls).toHaveLength(1);
  });
});

describe('Assert-TrustedPath (issue 12)', () => {
  it('checks owner and ACL of every folder from the installer up to %ProgramData%, by SID', async () => {
    const { platform, script } = platformWith(() => json({ exitCode: 0 }));
    await platform.runInstaller('C:\\ProgramData\\Drydock\\downloads\\a.exe', [], PIN);
    const s = script();
    const start = s.indexOf('function Assert-TrustedPath([string]$Path) {');
    expect(start).toBeGreaterThanOrEqual(0);
    const body = s.slice(start, s.indexOf('\n}\n', start) + 3);
    expect(body).toBe(String.raw`function Assert-TrustedPath([string]$Path) {
  $trusted = 'S-1-5-18', 'S-1-5-32-544', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464'
  $root = [System.IO.Path]::GetFullPath($env:ProgramData).TrimEnd('\')
  $full = [System.IO.Path]::GetFullPath($Path).TrimEnd('\')
  if (-not $full.StartsWith($root + '\', [System.StringComparison]::OrdinalIgnoreCase)) { throw "$full is not under $root" }
  $sidType = [System.Security.Principal.SecurityIdentifier]
  $dir = $full
  while ($dir.Length -gt $root.Length) {
    $acl = [System.IO.Directory]::GetAccessControl($dir)
    if ($trusted -notcontains $acl.GetOwner($sidType).Value) { throw "the folder $dir is not owned by SYSTEM or Administrators; refusing to run from it" }
    foreach ($rule in $acl.GetAccessRules($true, $true, $sidType)) {
      if ($rule.AccessControlType -ne 'Allow' -or $trusted -contains $rule.IdentityReference.Value) { continue }
      if (($rule.PropagationFlags -band [System.Security.AccessControl.PropagationFlags]::InheritOnly) -ne 0) { continue }
      if (([int]$rule.FileSystemRights -band 0xD0156) -ne 0) { throw "the folder $dir lets $($rule.IdentityReference.Value) change it; refusing to run from it" }
    }
    $dir = [System.IO.Path]::GetDirectoryName($dir)
  }
}
`);
    // The rights that let someone else change a folder or what is in it (FileSystemRights values).
    const rights = {
      WriteData: 0x2,
      AppendData: 0x4,
      WriteExtendedAttributes: 0x10,
      DeleteSubdirectoriesAndFiles: 0x40,
      WriteAttributes: 0x100,
      Delete: 0x10000,
      ChangePermissions: 0x40000,
      TakeOwnership: 0x80000,
    };
    expect(Object.values(rights).reduce((a, b) => a | b)).toBe(0xd0156);
    // Reading and listing are no threat: ReadData 0x1, ReadExtendedAttributes 0x8, Execute 0x20, ReadAttributes 0x80, ReadPermissions 0x20000, Synchronize 0x100000.
    expect((0x1 | 0x8 | 0x20 | 0x80 | 0x20000 | 0x100000) & 0xd0156).toBe(0);
    // Called on the installer's folder before the file is opened and hashed.
    expect(s.indexOf('Assert-TrustedPath ([System.IO.Path]::GetDirectoryName($file))')).toBeLessThan(
      s.indexOf("$stream = [System.IO.File]::Open($file, 'Open', 'Read', 'Read')"),
    );
  });

  it('walks exactly the folders between the installer and %ProgramData% (the loop, run in TypeScript)', () => {
    // The loop's own steps with Windows path rules: GetDirectoryName drops the last part.
    const walk = (root: string, dir: string) => {
      const seen: string[] = [];
      if (!dir.toLowerCase().startsWith(`${root.toLowerCase()}\\`)) return null;
      while (dir.length > root.length) {
        seen.push(dir);
        dir = path.win32.dirname(dir);
      }
      return seen;
    };
    expect(walk('C:\\ProgramData', 'C:\\ProgramData\\Drydock\\downloads')).toEqual([
      'C:\\ProgramData\\Drydock\\downloads',
      'C:\\ProgramData\\Drydock',
    ]);
    expect(walk('C:\\ProgramData', 'C:\\ProgramDataX\\downloads')).toBeNull();
    expect(walk('C:\\ProgramData', 'D:\\Drydock\\downloads')).toBeNull();
  });
});

describe('PEAP server pinning (issue 12)', () => {
  const network = (radius: WifiNetworkSpec['radius']): WifiNetworkSpec => ({
    ssid: 'Corp',
    authentication: 'wpa2-enterprise',
    autoConnect: true,
    radius,
  });

  it('names the RADIUS servers and pins their roots by thumbprint, with no prompt to trust another', () => {
    const xml = wlanProfileXml(
      network({
        serverNames: ['nps1.corp.example', '*.radius.corp.example'],
        trustedRootCaThumbprints: ['A1B2C3D4E5F60718293A4B5C6D7E8F9001122334', '00'.repeat(20)],
      }),
    );
    expect(XMLValidator.validate(xml)).toBe(true);
    // MsPeapConnectionPropertiesV1: ServerValidation holds DisableUserPromptForServerValidation,
    // ServerNames (";"-separated) and one TrustedRootCA per root (hex bytes separated by spaces).
    expect(xml).toContain(`                  <ServerValidation>
                    <DisableUserPromptForServerValidation>true</DisableUserPromptForServerValidation>
                    <ServerNames>nps1.corp.example;*.radius.corp.example</ServerNames>
                    <TrustedRootCA>a1 b2 c3 d4 e5 f6 07 18 29 3a 4b 5c 6d 7e 8f 90 01 12 23 34</TrustedRootCA>
                    <TrustedRootCA>00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00</TrustedRootCA>
                  </ServerValidation>
`);
    // MsPeapConnectionPropertiesV2: validate the server, and enforce the names.
    expect(xml).toContain(
      '<PerformServerValidation xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2">true</PerformServerValidation>',
    );
    expect(xml).toContain(
      '<AcceptServerName xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2">true</AcceptServerName>',
    );
    expect(xml).not.toContain('>false</DisableUserPromptForServerValidation>');
    expect(xml).not.toContain('<ServerNames></ServerNames>');
  });

  it.each([
    [
      { serverNames: [], trustedRootCaThumbprints: ['00'.repeat(20)] },
      /RADIUS server names and root CA thumbprints/,
    ],
    [
      { serverNames: ['nps.corp.example'], trustedRootCaThumbprints: [] },
      /RADIUS server names and root CA thumbprints/,
    ],
    [
      { serverNames: ['nps.corp.example</ServerNames><x>'], trustedRootCaThumbprints: ['00'.repeat(20)] },
      /invalid RADIUS server name/,
    ],
    [
      { serverNames: ['nps.corp.example;evil.example'], trustedRootCaThumbprints: ['00'.repeat(20)] },
      /invalid RADIUS server name/,
    ],
    [
      { serverNames: ['nps.corp.example'], trustedRootCaThumbprints: ['00'.repeat(32)] },
      /SHA-1, 40 hex digits/,
    ],
    [
      { serverNames: ['nps.corp.example'], trustedRootCaThumbprints: ['zz'.repeat(20)] },
      /SHA-1, 40 hex digits/,
    ],
    [undefined, /RADIUS server names and root CA thumbprints/],
  ])('refuses an enterprise network with %j', (radius, message) => {
    expect(() => wlanProfileXml(network(radius))).toThrow(message);
  });

  it('an open network has no 802.1X part at all', () => {
    const xml = wlanProfileXml({ ssid: 'Guest', authentication: 'open', autoConnect: false });
    expect(XMLValidator.validate(xml)).toBe(true);
    for (const absent of ['<OneX', 'ServerValidation', 'TrustedRootCA']) expect(xml).not.toContain(absent);
  });
});

describe('wifiAdapterPresent (issue 12)', () => {
  it('looks for a physical native 802.11 adapter, disabled ones included', async () => {
    const { platform, script } = platformWith(() => json(true));
    await expect(platform.wifiAdapterPresent()).resolves.toBe(true);
    // NdisPhysicalMedium 9: NdisPhysicalMediumNative802_11.
    expect(jsonBody(script())).toBe(
      '@(Get-NetAdapter -Physical -IncludeHidden -ErrorAction SilentlyContinue | Where-Object { $_.NdisPhysicalMedium -eq 9 }).Count -gt 0',
    );
    expect(jsonBody(script())).toBe(WIFI_ADAPTER);
    expect(script()).not.toContain('netsh');
  });

  it.each([false, null, 'true', 1])('answers false for %j', async (answer) => {
    await expect(platformWith(() => json(answer)).platform.wifiAdapterPresent()).resolves.toBe(false);
  });
});
