import { PowerShellError } from '../../agent/platform/windows/powershell';
import { WindowsPlatform } from '../../agent/platform/windows/windows-platform';
import { fakeRunner, json, ok } from '../helpers/powershell';
import { rejection } from '../helpers/rejection';

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('WindowsPlatform facts', () => {
  it('asks CIM and the registry for the hardware facts in one script', async () => {
    const { run, calls } = fakeRunner(() => json({}));
    await new WindowsPlatform({ run }).hardwareFacts();
    expect(calls).toHaveLength(1);
    const { script } = calls[0]!;
    for (const cim of [
      'Win32_ComputerSystemProduct',
      'Win32_BIOS',
      'Win32_BaseBoard',
      'Win32_DiskDrive',
      'Win32_NetworkAdapter',
      'Win32_ComputerSystem',
    ]) {
      expect(script).toContain(`Get-CimInstance -ClassName ${cim}`);
    }
    expect(script).toContain("MediaType = 'Fixed hard disk media'");
    expect(script).toContain('PhysicalAdapter = TRUE');
    expect(script).toContain(
      "OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey('SOFTWARE\\Microsoft\\Cryptography')",
    );
    expect(script).toContain("GetValue('MachineGuid')");
    expect(script).toContain('ConvertTo-Json -Depth 6 -Compress');
  });

  it('normalises a realistic answer', async () => {
    const answer = {
      smbiosUuid: ' 4C4C4544-0042-3510-8052-B4C04F4E4D32 ',
      systemSerial: 'B5RNMN2   ',
      baseboardSerial: '/B5RNMN2/CNWS20085L00GH/',
      diskSerials: [
        '  S4EWNX0R123456     ',
        null,
        '',
        'E823_8FA6_BF53_0001_001B_448B_4A3D_2C5E.',
        'S4EWNX0R123456',
      ],
      machineGuid: '8d3b7f0e-7a4e-4c5d-9a62-2f8b1c9d0e11',
      macs: ['f4:8e:38:aa:bb:cc', '0A-00-27-00-00-05', null, 'not-a-mac', 'F4:8E:38:AA:BB:CC'],
      manufacturer: 'Dell Inc.',
      model: 'OptiPlex 7070 ',
    };
    const { run } = fakeRunner(() => json(answer));
    await expect(new WindowsPlatform({ run }).hardwareFacts()).resolves.toEqual({
      smbiosUuid: '4C4C4544-0042-3510-8052-B4C04F4E4D32',
      systemSerial: 'B5RNMN2',
      baseboardSerial: '/B5RNMN2/CNWS20085L00GH/',
      diskSerials: ['E823_8FA6_BF53_0001_001B_448B_4A3D_2C5E.', 'S4EWNX0R123456'],
      machineGuid: '8d3b7f0e-7a4e-4c5d-9a62-2f8b1c9d0e11',
      macs: ['0A:00:27:00:00:05', 'F4:8E:38:AA:BB:CC'],
      manufacturer: 'Dell Inc.',
      model: 'OptiPlex 7070',
    });
  });

  it('drops what Windows left empty and keeps placeholders for machine-uid.ts to judge', async () => {
    const { run } = fakeRunner(() =>
      json({
        smbiosUuid: null,
        systemSerial: '   ',
        baseboardSerial: 'Default string',
        diskSerials: [],
        macs: [],
      }),
    );
    await expect(new WindowsPlatform({ run }).hardwareFacts()).resolves.toEqual({
      baseboardSerial: 'Default string',
      diskSerials: [],
      macs: [],
    });
  });

  it('reads the OS, trimming the caption Windows pads', async () => {
    const { run, calls } = fakeRunner(() =>
      json({ name: 'Microsoft Windows 11 Pro ', version: '10.0.22631', build: '22631' }),
    );
    await expect(new WindowsPlatform({ run }).osInfo()).resolves.toEqual({
      name: 'Microsoft Windows 11 Pro',
      version: '10.0.22631',
      build: '22631',
    });
    expect(calls[0]!.script).toContain('Win32_OperatingSystem');
  });

  it('derives the boot id from the boot counter, not from a clock that may be corrected, and the uptime', async () => {
    const { run, calls } = fakeRunner(() => json({ bootCount: 117, uptimeSeconds: 3600 }));
    const platform = new WindowsPlatform({ run });
    await expect(platform.bootId()).resolves.toBe('boot-117');
    await expect(platform.uptimeSeconds()).resolves.toBe(3600);
    expect(calls[0]!.script).toContain(
      "OpenSubKey('SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Memory Management\\PrefetchParameters')",
    );
    expect(calls[0]!.script).toContain("$prefetch.GetValue('BootId', $null)");
    expect(calls[0]!.script).toContain('[System.Diagnostics.Stopwatch]::GetTimestamp()');
    expect(calls[0]!.script).not.toContain('LastBootUpTime');
    const noCounter = new WindowsPlatform({ run: fakeRunner(() => json({ bootCount: null })).run });
    await expect(noCounter.bootId()).rejects.toThrow(/no boot counter/);
  });

  it('reads the hostname from COMPUTERNAME', async () => {
    const { run, calls } = fakeRunner(() => json('WS-0042'));
    await expect(new WindowsPlatform({ run }).hostname()).resolves.toBe('WS-0042');
    expect(calls[0]!.script).toContain('$env:COMPUTERNAME');
  });

  it('summarises the inventory, with null for a workgroup machine', async () => {
    const answer = {
      hostname: 'WS-0042',
      os: { name: 'Microsoft Windows 10 Enterprise', version: '10.0.19045', build: '19045' },
      manufacturer: 'LENOVO',
      model: '20XW0055GE',
      serial: 'PF2ABCDE',
      cpu: '11th Gen Intel(R) Core(TM) i5-1145G7 @ 2.60GHz',
      memoryBytes: 17_037_197_312,
      disks: [{ name: 'C:', sizeBytes: 511_101_063_168, freeBytes: 201_326_592_000 }],
      domain: null,
    };
    const { run, calls } = fakeRunner(() => json(answer));
    await expect(new WindowsPlatform({ run }).inventory()).resolves.toEqual({
      hostname: 'WS-0042',
      os: { name: 'Microsoft Windows 10 Enterprise', version: '10.0.19045', build: '19045' },
      manufacturer: 'LENOVO',
      model: '20XW0055GE',
      serial: 'PF2ABCDE',
      cpu: '11th Gen Intel(R) Core(TM) i5-1145G7 @ 2.60GHz',
      memoryMb: 16248,
      disks: [{ name: 'C:', sizeGb: 476, freeGb: 187.5 }],
      domain: null,
    });
    for (const cim of ['Win32_Processor', 'Win32_LogicalDisk', 'DriveType = 3', 'PartOfDomain']) {
      expect(calls[0]!.script).toContain(cim);
    }
  });

  it('reports the domain of a joined machine', async () => {
    const os = { name: 'Windows', version: '10.0', build: '1' };
    const { run } = fakeRunner(() => json({ hostname: 'WS', os, disks: [], domain: 'corp.example.com' }));
    await expect(new WindowsPlatform({ run }).inventory()).resolves.toMatchObject({
      domain: 'corp.example.com',
    });
  });

  it('turns a failed script into an error naming the first stderr line, not the script', async () => {
    const { run, calls } = fakeRunner(() => ({
      exitCode: 1,
      stdout: '',
      stderr: 'Access denied \r\n+ Get-CimInstance -ClassName Win32_BIOS\r\n',
    }));
    const error = await rejection(new WindowsPlatform({ run }).hardwareFacts());
    expect(error).toBeInstanceOf(PowerShellError);
    expect(error.message).toBe('PowerShell exited with code 1: Access denied');
    expect(error.message).not.toContain('Get-CimInstance');
    expect(calls[0]!.script).toContain('Get-CimInstance');
  });
});

describe('WindowsPlatform protected secrets', () => {
  const secret = "p@ss'w\u2019rd $(calc) `n; é😀";

  it('sends the secret on stdin only, base64-encoded, never in the script', async () => {
    const { run, calls } = fakeRunner(() => ok(''));
    await new WindowsPlatform({ run }).saveProtected('agent-key', secret);
    const [{ script, opts }] = calls as [(typeof calls)[0]];
    expect(opts?.stdin).toBe(base64(secret));
    for (const form of [secret, base64(secret), 'p@ss']) expect(script).not.toContain(form);
    expect(script).toContain('[Console]::In.ReadToEnd()');
    expect(script).toContain(
      "[System.Security.Cryptography.ProtectedData]::Protect($plain, $null, 'LocalMachine')",
    );
    expect(script).toContain('Add-Type -AssemblyName System.Security');
  });

  it('creates the directory with a protected ACL for SYSTEM and Administrators only', async () => {
    const { run, calls } = fakeRunner(() => ok(''));
    await new WindowsPlatform({ run }).saveProtected('agent-key', 'x');
    const { script } = calls[0]!;
    expect(script).toContain("$dir = 'C:\\ProgramData\\Drydock\\secrets'");
    expect(script).toContain("$path = [System.IO.Path]::Combine($dir, 'agent-key.dpapi')");
    expect(script).toContain("$trusted = 'S-1-5-18', 'S-1-5-32-544'");
    expect(script).toContain('$security.SetAccessRuleProtection($true, $false)');
    expect(script).toContain('[System.IO.Directory]::CreateDirectory($dir, $security)');
    expect(script).toMatch(/New-SecretsDir\nAssert-SecretsDir\n/);
    expect(script).toContain('[System.IO.File]::Replace($tmp, $path, [NullString]::Value)');
  });

  it('quotes the secrets directory it is given', async () => {
    const { run, calls } = fakeRunner(() => ok('absent'));
    await new WindowsPlatform({ run, secretsDir: "D:\\O'Brien\u2019s $(x)" }).loadProtected('k');
    expect(calls[0]!.script).toContain("$dir = 'D:\\O''Brien\u2019\u2019s $(x)'");
  });

  it('loads a secret back from the output, and null when absent', async () => {
    let stdout = `found:${base64(secret)}\r\n`;
    const { run, calls } = fakeRunner(() => ok(stdout));
    const platform = new WindowsPlatform({ run });
    await expect(platform.loadProtected('agent-key')).resolves.toBe(secret);
    expect(calls[0]!.script).toContain(
      "ProtectedData]::Unprotect([System.IO.File]::ReadAllBytes($path), $null, 'LocalMachine')",
    );
    expect(calls[0]!.script).toContain('Assert-SecretsDir');
    expect(calls[0]!.opts?.stdin).toBeUndefined();
    stdout = 'absent';
    await expect(platform.loadProtected('agent-key')).resolves.toBeNull();
    stdout = 'True';
    await expect(platform.loadProtected('agent-key')).rejects.toThrow(/unexpected output/);
  });

  it('deletes the secret and any half-written copy', async () => {
    const { run, calls } = fakeRunner(() => ok(''));
    await new WindowsPlatform({ run }).deleteProtected('agent-key');
    expect(calls[0]!.script).toContain('[System.IO.File]::Delete($path)');
    expect(calls[0]!.script).toContain('[System.IO.File]::Delete($tmp)');
  });

  it.each([
    '',
    '.',
    '..',
    'a/b',
    'a\\b',
    "a'b",
    'a b',
    'x.',
    'con',
    'NUL.txt',
    'com1',
    'é',
    'a~',
    'k'.repeat(101),
  ])('refuses the secret name %j without running anything', async (name) => {
    const { run, calls } = fakeRunner(() => ok(''));
    const platform = new WindowsPlatform({ run });
    await expect(platform.saveProtected(name, 'v')).rejects.toThrow(/invalid secret name/);
    await expect(platform.loadProtected(name)).rejects.toThrow(/invalid secret name/);
    await expect(platform.deleteProtected(name)).rejects.toThrow(/invalid secret name/);
    expect(calls).toHaveLength(0);
  });

  it('accepts ordinary names', async () => {
    const { run } = fakeRunner(() => ok(''));
    for (const name of ['agent-key', 'enrollment.token', 'A_1', '.hidden', 'console']) {
      await expect(new WindowsPlatform({ run }).deleteProtected(name)).resolves.toBeUndefined();
    }
  });

  it('reports a failed save without the secret or the script', async () => {
    const { run } = fakeRunner(() => ({
      exitCode: 1,
      stdout: '',
      stderr:
        'the secrets directory C:\\ProgramData\\Drydock\\secrets is not restricted to SYSTEM and Administrators; refusing to use it\r\n',
    }));
    const error = await rejection(new WindowsPlatform({ run }).saveProtected('agent-key', secret));
    expect(error).toBeInstanceOf(PowerShellError);
    expect(error.message).toMatch(
      /^PowerShell exited with code 1: the secrets directory .* refusing to use it$/,
    );
    expect(error.message).not.toContain(base64(secret));
    expect(error.message).not.toContain('ProtectedData');
  });

  it('refuses a secrets directory that is not an absolute local path', () => {
    expect(() => new WindowsPlatform({ secretsDir: 'secrets' })).toThrow(/absolute/);
    expect(() => new WindowsPlatform({ secretsDir: '\\\\server\\share' })).toThrow(/absolute/);
  });
});
