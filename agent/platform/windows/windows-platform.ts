import type { HardwareFacts, InventorySummary, OsInfo, Platform } from '../platform';
import {
  firstLine,
  PowerShellError,
  psCommand,
  runPowerShell,
  runPowerShellJson,
  type PsRunner,
  type PsRunOptions,
} from './powershell';

export interface WindowsPlatformOptions {
  /** Where DPAPI-protected secrets live. Default `C:\ProgramData\Drydock\secrets`. */
  secretsDir?: string;
  /** Runs one PowerShell script; tests pass a fake to inspect the scripts. */
  run?: PsRunner;
}

/**
 * The agent's view of a real Windows machine, through Windows PowerShell 5.1 (present on every
 * supported Windows) and CIM. Written for Windows; on Linux only its scripts and parsing are tested.
 */
export class WindowsPlatform implements Platform {
  readonly kind = 'windows' as const;
  private readonly secretsDir: string;
  private readonly run: PsRunner;

  constructor(options: WindowsPlatformOptions = {}) {
    this.secretsDir = options.secretsDir ?? 'C:\\ProgramData\\Drydock\\secrets';
    if (!/^[A-Za-z]:\\/.test(this.secretsDir)) {
      throw new Error('secretsDir must be an absolute path on a local drive');
    }
    this.run = options.run ?? runPowerShell;
  }

  async hardwareFacts(): Promise<HardwareFacts> {
    const raw = await this.json<Record<string, unknown>>(HARDWARE_FACTS);
    return parseHardwareFacts(raw);
  }

  async hostname(): Promise<string> {
    return required(await this.json<unknown>('$env:COMPUTERNAME'), 'hostname');
  }

  async osInfo(): Promise<OsInfo> {
    return parseOsInfo(await this.json<Record<string, unknown>>(OS_INFO));
  }

  /**
   * The last boot time in UTC, to the second: the same for the whole boot. A "shutdown" under Fast
   * Startup is a hibernation and keeps it; a restart (what provisioning does) changes it.
   */
  async bootId(): Promise<string> {
    const raw = await this.json<Record<string, unknown>>(BOOT);
    return new Date(requiredNum(raw.bootEpochSeconds, 'boot time') * 1000).toISOString();
  }

  async uptimeSeconds(): Promise<number> {
    return requiredNum((await this.json<Record<string, unknown>>(BOOT)).uptimeSeconds, 'uptime');
  }

  async inventory(): Promise<InventorySummary> {
    return parseInventory(await this.json<Record<string, unknown>>(INVENTORY));
  }

  /**
   * The value travels on stdin, base64-encoded (stdin bytes pass through the OEM code page, base64
   * is ASCII). Never on the command line nor in the script: any local user can read other
   * processes' command lines, process-creation auditing and EDR record them, and script block
   * logging (event 4104) records the script text. Inside, it only meets .NET methods, because
   * module logging (event 4103) records the values bound to cmdlet parameters.
   */
  async saveProtected(name: string, value: string): Promise<void> {
    const script = secretsScript(this.secretsDir, name, SAVE_SECRET);
    await this.exec(script, { stdin: Buffer.from(value, 'utf8').toString('base64') });
  }

  async loadProtected(name: string): Promise<string | null> {
    const out = (await this.exec(secretsScript(this.secretsDir, name, LOAD_SECRET))).trim();
    if (out === 'absent') return null;
    if (!out.startsWith('found:')) throw new Error('unexpected output from loading a protected secret');
    return Buffer.from(out.slice('found:'.length), 'base64').toString('utf8');
  }

  async deleteProtected(name: string): Promise<void> {
    await this.exec(secretsScript(this.secretsDir, name, DELETE_SECRET));
  }

  private json<T>(script: string): Promise<T> {
    return runPowerShellJson<T>(script, {}, this.run);
  }

  private async exec(script: string, opts?: PsRunOptions): Promise<string> {
    const result = await this.run(script, opts);
    if (result.exitCode !== 0) throw new PowerShellError(result.exitCode, firstLine(result.stderr));
    return result.stdout;
  }
}

// The 64-bit registry view: a 32-bit PowerShell would read WOW6432Node, which has no MachineGuid.
const HARDWARE_FACTS = String.raw`$system = Get-CimInstance -ClassName Win32_ComputerSystem
$crypto = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey('SOFTWARE\Microsoft\Cryptography')
[pscustomobject]@{
  smbiosUuid = (Get-CimInstance -ClassName Win32_ComputerSystemProduct).UUID
  systemSerial = (Get-CimInstance -ClassName Win32_BIOS).SerialNumber
  baseboardSerial = (Get-CimInstance -ClassName Win32_BaseBoard).SerialNumber
  diskSerials = @(Get-CimInstance -ClassName Win32_DiskDrive -Filter "MediaType = 'Fixed hard disk media'" | ForEach-Object { $_.SerialNumber })
  macs = @(Get-CimInstance -ClassName Win32_NetworkAdapter -Filter 'PhysicalAdapter = TRUE' | ForEach-Object { $_.MACAddress })
  machineGuid = if ($crypto) { $crypto.GetValue('MachineGuid') } else { $null }
  manufacturer = $system.Manufacturer
  model = $system.Model
}`;

const OS_INFO = `$os = Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{ name = $os.Caption; version = $os.Version; build = $os.BuildNumber }`;

const BOOT = `$os = Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{
  bootEpochSeconds = ([DateTimeOffset]$os.LastBootUpTime).ToUnixTimeSeconds()
  uptimeSeconds = [math]::Floor(((Get-Date) - $os.LastBootUpTime).TotalSeconds)
}`;

const INVENTORY = `$os = Get-CimInstance -ClassName Win32_OperatingSystem
$system = Get-CimInstance -ClassName Win32_ComputerSystem
[pscustomobject]@{
  hostname = $env:COMPUTERNAME
  os = [pscustomobject]@{ name = $os.Caption; version = $os.Version; build = $os.BuildNumber }
  manufacturer = $system.Manufacturer
  model = $system.Model
  serial = (Get-CimInstance -ClassName Win32_BIOS).SerialNumber
  cpu = @(Get-CimInstance -ClassName Win32_Processor)[0].Name
  memoryBytes = $system.TotalPhysicalMemory
  disks = @(Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType = 3' | ForEach-Object {
    [pscustomobject]@{ name = $_.DeviceID; sizeBytes = $_.Size; freeBytes = $_.FreeSpace }
  })
  domain = if ($system.PartOfDomain) { $system.Domain } else { $null }
}`;

/**
 * Shared by the secret scripts. The directory is trusted only if its owner is SYSTEM or
 * Administrators and its DACL is protected and names no one else: DPAPI LocalMachine lets any
 * local process decrypt a blob it can read, or plant one, so the ACL is the whole protection.
 * SIDs rather than names, which are localised. CreateDirectory with the security descriptor makes
 * the directory with its ACL at once: a moment inheriting ProgramData's (where Users may create
 * files) would be enough to plant one. Windows PowerShell 5.1 runs on .NET Framework, which has
 * these static ACL methods.
 */
const SECRETS_FUNCTIONS = `Add-Type -AssemblyName System.Security
$trusted = 'S-1-5-18', 'S-1-5-32-544'
function New-SecretsDir {
  if ([System.IO.Directory]::Exists($dir)) { return }
  $security = [System.Security.AccessControl.DirectorySecurity]::new()
  $security.SetAccessRuleProtection($true, $false)
  foreach ($sid in $trusted) {
    $id = [System.Security.Principal.SecurityIdentifier]::new($sid)
    $security.AddAccessRule([System.Security.AccessControl.FileSystemAccessRule]::new($id, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow'))
  }
  [void][System.IO.Directory]::CreateDirectory($dir, $security)
}
function Assert-SecretsDir {
  $acl = [System.IO.Directory]::GetAccessControl($dir)
  $sidType = [System.Security.Principal.SecurityIdentifier]
  $strangers = @($acl.GetAccessRules($true, $true, $sidType) | Where-Object { $trusted -notcontains $_.IdentityReference.Value })
  if (-not $acl.AreAccessRulesProtected -or $strangers.Count -gt 0 -or $trusted -notcontains $acl.GetOwner($sidType).Value) {
    throw "the secrets directory $dir is not restricted to SYSTEM and Administrators; refusing to use it"
  }
}
`;

// Written beside the target and swapped in, so a crash leaves the old secret or the new one.
// [NullString]::Value, not $null: PowerShell passes $null to a string parameter as "", which
// File.Replace rejects as a backup path.
const SAVE_SECRET = `New-SecretsDir
Assert-SecretsDir
$plain = [Convert]::FromBase64String([Console]::In.ReadToEnd())
try { $sealed = [System.Security.Cryptography.ProtectedData]::Protect($plain, $null, 'LocalMachine') }
finally { [Array]::Clear($plain, 0, $plain.Length) }
[System.IO.File]::WriteAllBytes($tmp, $sealed)
if ([System.IO.File]::Exists($path)) { [System.IO.File]::Replace($tmp, $path, [NullString]::Value) }
else { [System.IO.File]::Move($tmp, $path) }`;

// Straight to the console stream, not the pipeline: transcription records what reaches the host.
const LOAD_SECRET = `if ([System.IO.Directory]::Exists($dir)) { Assert-SecretsDir }
if ([System.IO.File]::Exists($path)) {
  $plain = [System.Security.Cryptography.ProtectedData]::Unprotect([System.IO.File]::ReadAllBytes($path), $null, 'LocalMachine')
  [Console]::Out.Write('found:' + [Convert]::ToBase64String($plain))
} else { [Console]::Out.Write('absent') }`;

const DELETE_SECRET = `if ([System.IO.Directory]::Exists($dir)) {
  Assert-SecretsDir
  [System.IO.File]::Delete($path)
  [System.IO.File]::Delete($tmp)
}`;

function secretsScript(dir: string, name: string, body: string): string {
  const file = secretFileName(name);
  return (
    psCommand`$dir = ${dir}
$path = [System.IO.Path]::Combine($dir, ${file})
$tmp = $path + '~'
` +
    SECRETS_FUNCTIONS +
    body
  );
}

const SECRET_NAME = /^[A-Za-z0-9._-]{1,100}$/;
// Windows maps these to devices whatever the extension.
const DEVICE_NAME = /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i;

/** `<name>.dpapi`; the temporary `<name>.dpapi~` cannot collide with it since names have no `~`. */
export function secretFileName(name: string): string {
  // A trailing dot is dropped by Windows ("a." is "a"), which also rules out "." and "..".
  if (!SECRET_NAME.test(name) || name.endsWith('.') || DEVICE_NAME.test(name)) {
    throw new Error(
      'invalid secret name: use 1-100 of A-Z a-z 0-9 . _ - , not ending in a dot, not a device name',
    );
  }
  return `${name}.dpapi`;
}

// Parsing: CIM strings often carry padding; empty means absent. Placeholder values ("To Be Filled
// By O.E.M.") are kept: judging them is infra/wire/machine-uid.ts's job.

function text(value: unknown): string | undefined {
  const first = Array.isArray(value) ? value.find((v) => typeof v === 'string' && v.trim() !== '') : value;
  if (typeof first !== 'string') return undefined;
  return first.trim() || undefined;
}

function texts(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).map(text).filter((v): v is string => v !== undefined);
}

function required(value: unknown, what: string): string {
  const result = text(value);
  if (result === undefined) throw new Error(`Windows reported no ${what}`);
  return result;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function requiredNum(value: unknown, what: string): number {
  const result = num(value);
  if (result === undefined) throw new Error(`Windows reported no ${what}`);
  return result;
}

/** `aa-bb-cc-dd-ee-ff` or any separators → `AA:BB:CC:DD:EE:FF`; anything else → undefined. */
export function normaliseMac(value: string): string | undefined {
  const hex = value.replace(/[-:.\s]/g, '').toUpperCase();
  return /^[0-9A-F]{12}$/.test(hex) ? hex.match(/../g)!.join(':') : undefined;
}

const sortedUnique = (values: string[]): string[] => [...new Set(values)].sort();

export function parseHardwareFacts(raw: Record<string, unknown>): HardwareFacts {
  const facts: HardwareFacts = {
    smbiosUuid: text(raw.smbiosUuid),
    systemSerial: text(raw.systemSerial),
    baseboardSerial: text(raw.baseboardSerial),
    // Sorted by value: PhysicalDrive numbers (Index) may change between boots, the set of serials does not.
    diskSerials: sortedUnique(texts(raw.diskSerials)),
    machineGuid: text(raw.machineGuid),
    macs: sortedUnique(texts(raw.macs).flatMap((m) => normaliseMac(m) ?? [])),
    manufacturer: text(raw.manufacturer),
    model: text(raw.model),
  };
  return Object.fromEntries(Object.entries(facts).filter(([, v]) => v !== undefined)) as HardwareFacts;
}

export function parseOsInfo(raw: Record<string, unknown>): OsInfo {
  return {
    name: required(raw.name, 'OS name'),
    version: required(raw.version, 'OS version'),
    build: required(raw.build, 'OS build'),
  };
}

const GB = 1024 ** 3;
const roundTo1 = (n: number): number => Math.round(n * 10) / 10;

export function parseInventory(raw: Record<string, unknown>): InventorySummary {
  const memoryBytes = num(raw.memoryBytes);
  const disks = (Array.isArray(raw.disks) ? (raw.disks as Record<string, unknown>[]) : []).map((d) => ({
    name: required(d.name, 'disk name'),
    sizeGb: roundTo1((num(d.sizeBytes) ?? 0) / GB),
    freeGb: roundTo1((num(d.freeBytes) ?? 0) / GB),
  }));
  return {
    hostname: required(raw.hostname, 'hostname'),
    os: parseOsInfo((raw.os ?? {}) as Record<string, unknown>),
    manufacturer: text(raw.manufacturer),
    model: text(raw.model),
    serial: text(raw.serial),
    cpu: text(raw.cpu),
    memoryMb: memoryBytes === undefined ? undefined : Math.round(memoryBytes / 1024 ** 2),
    disks,
    domain: text(raw.domain) ?? null,
  };
}
