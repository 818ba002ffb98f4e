import type { RegistryData, WifiNetworkSpec } from '../platform';
import { psCommand } from './powershell';

/**
 * The PowerShell scripts behind WindowsPlatform's provisioning methods, and the checks and parsing
 * around them. Every value reaches a script through `psCommand` (a single-quoted literal assigned
 * to a variable at the top); the script bodies after it are constant text. The registry batches
 * take theirs on stdin instead (see readBatch).
 */

// --- Native programs -------------------------------------------------------------------------

/**
 * The C runtime's reading of one argument, written so that `NAME=value with spaces` stays the
 * msiexec-style `NAME="value with spaces"`: the C runtime (CommandLineToArgvW, and what winget,
 * shutdown.exe and most installers use) reads that as the single argument `NAME=value with spaces`,
 * and msiexec, which parses its own command line, needs exactly that form for property values.
 */
function quoteArgument(arg: string): string {
  if (arg !== '' && !/[\s"]/.test(arg)) return arg;
  const property = /^([A-Za-z_][\w.-]*=|[/-][A-Za-z_][\w.-]*[=:])(.+)$/s.exec(arg);
  if (property) return property[1]! + quoteWhole(property[2]!);
  return quoteWhole(arg);
}

/** Backslashes are literal except before a quote, where they (and the quote) must be escaped. */
function quoteWhole(arg: string): string {
  const escaped = arg.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\+)$/, '$1$1');
  return `"${escaped}"`;
}

/**
 * A Windows command line in which each element is exactly one argument. Windows hands a program one
 * string and the program splits it; Windows PowerShell 5.1 builds that string badly (embedded
 * quotes pass through unescaped, so a value could add arguments of its own), and Start-Process
 * joins -ArgumentList with spaces without quoting at all. So native programs get this string,
 * itself passed to the script as a quoted PowerShell literal.
 */
export function windowsCommandLine(args: readonly string[]): string {
  return args.map(quoteArgument).join(' ');
}

/**
 * Runs a console program without a window and returns its exit code and output. Through
 * System.Diagnostics.Process rather than `& program`: with $ErrorActionPreference = 'Stop',
 * Windows PowerShell 5.1 turns a native program's stderr lines into terminating errors, decodes
 * output with the console code page, and passes arguments as described above. The exit code is an
 * Int32, so winget's HRESULTs arrive negative. stderr is read asynchronously so that neither pipe
 * can fill up and block the program.
 */
const NATIVE_FUNCTIONS = String.raw`function Invoke-Native([string]$FilePath, [string]$Arguments, [System.Text.Encoding]$Encoding, [string]$PathPrefix) {
  $info = [System.Diagnostics.ProcessStartInfo]::new($FilePath, $Arguments)
  $info.UseShellExecute = $false
  if ($PathPrefix) { $info.EnvironmentVariables['PATH'] = $PathPrefix + ';' + $info.EnvironmentVariables['PATH'] }
  $info.CreateNoWindow = $true
  $info.RedirectStandardOutput = $true
  $info.RedirectStandardError = $true
  $info.WorkingDirectory = [System.IO.Path]::GetDirectoryName($FilePath)
  if ($Encoding) {
    $info.StandardOutputEncoding = $Encoding
    $info.StandardErrorEncoding = $Encoding
  }
  $process = [System.Diagnostics.Process]::Start($info)
  $stderr = $process.StandardError.ReadToEndAsync()
  $stdout = $process.StandardOutput.ReadToEnd()
  $process.WaitForExit()
  [pscustomobject]@{ exitCode = $process.ExitCode; output = $stdout + $stderr.Result }
}
function Get-FirstLine([string]$Text) {
  $line = @($Text -split '\r?\n' | ForEach-Object { ($_ -split '\r')[-1].Trim() } | Where-Object { $_ -ne '' })[0]
  if ($line) { $line } else { '(no output)' }
}
`;

/**
 * Puts this powershell.exe in a job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE (Win32
 * SetInformationJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION). Every process started after
 * it (winget, an installer, whatever those start) is in the job too, so when this PowerShell ends
 * — finished, killed by the agent's timeout, or killed because the step was cancelled — Windows
 * ends them all: a timeout or a cancel never leaves an installer running, and a retry never runs a
 * second one beside it. The handle is deliberately never closed: the job lives as long as the process.
 */
const JOB_FUNCTIONS = String.raw`Add-Type -Namespace Drydock -Name KillOnCloseJob -MemberDefinition @'
[StructLayout(LayoutKind.Sequential)]
public struct BasicLimits { public long PerProcessUserTimeLimit; public long PerJobUserTimeLimit; public uint LimitFlags; public UIntPtr MinimumWorkingSetSize; public UIntPtr MaximumWorkingSetSize; public uint ActiveProcessLimit; public UIntPtr Affinity; public uint PriorityClass; public uint SchedulingClass; }
[StructLayout(LayoutKind.Sequential)]
public struct IoCounters { public ulong ReadOperationCount; public ulong WriteOperationCount; public ulong OtherOperationCount; public ulong ReadTransferCount; public ulong WriteTransferCount; public ulong OtherTransferCount; }
[StructLayout(LayoutKind.Sequential)]
public struct ExtendedLimits { public BasicLimits Basic; public IoCounters Io; public UIntPtr ProcessMemoryLimit; public UIntPtr JobMemoryLimit; public UIntPtr PeakProcessMemoryUsed; public UIntPtr PeakJobMemoryUsed; }
[DllImport("kernel32.dll", SetLastError = true)] public static extern IntPtr CreateJobObject(IntPtr attributes, string name);
[DllImport("kernel32.dll", SetLastError = true)] public static extern bool SetInformationJobObject(IntPtr job, int infoClass, ref ExtendedLimits info, int length);
[DllImport("kernel32.dll", SetLastError = true)] public static extern bool AssignProcessToJobObject(IntPtr job, IntPtr process);
[DllImport("kernel32.dll")] public static extern IntPtr GetCurrentProcess();
public static void Enter() {
  IntPtr job = CreateJobObject(IntPtr.Zero, null);
  if (job == IntPtr.Zero) throw new System.ComponentModel.Win32Exception();
  ExtendedLimits limits = new ExtendedLimits();
  limits.Basic.LimitFlags = 0x2000;
  if (!SetInformationJobObject(job, 9, ref limits, Marshal.SizeOf(typeof(ExtendedLimits)))) throw new System.ComponentModel.Win32Exception();
  if (!AssignProcessToJobObject(job, GetCurrentProcess())) throw new System.ComponentModel.Win32Exception();
}
'@
[Drydock.KillOnCloseJob]::Enter()
`;

// --- Preflight -------------------------------------------------------------------------------

/**
 * One script for all preflight facts, each read defensively:
 * - Power: no Win32_Battery instance means a desktop. root/wmi BatteryStatus.PowerOnline says
 *   whether AC is connected; Win32_Battery.BatteryStatus is kept as a fallback (2 = on AC).
 * - TPM: the Win32_Tpm namespace or class is missing where there is no TPM (or its driver).
 * - Secure Boot: Confirm-SecureBootUEFI throws "Cmdlet not supported on this platform" on legacy
 *   BIOS; any other failure is a real error.
 */
export const PREFLIGHT = String.raw`$batteries = @(Get-CimInstance -ClassName Win32_Battery | ForEach-Object { [int]$_.BatteryStatus })
$powerOnline = @()
if ($batteries.Count -gt 0) {
  try { $powerOnline = @(Get-CimInstance -Namespace root/wmi -ClassName BatteryStatus | ForEach-Object { [bool]$_.PowerOnline }) }
  catch { $powerOnline = @() }
}
$disk = Get-CimInstance -ClassName Win32_LogicalDisk | Where-Object { $_.DeviceID -eq $env:SystemDrive } | Select-Object -First 1
$tpm = $null
try { $tpm = Get-CimInstance -Namespace root/cimv2/Security/MicrosoftTpm -ClassName Win32_Tpm | Select-Object -First 1 }
catch {
  $code = "$($_.Exception.NativeErrorCode)"
  if ($_.Exception.GetType().Name -ne 'CimException' -or $code -notin 'InvalidNamespace', 'InvalidClass', 'NotFound') { throw }
}
$secureBoot = $null
try { $secureBoot = [bool](Confirm-SecureBootUEFI) }
catch [System.PlatformNotSupportedException] { $secureBoot = $null }
catch { if ($_.Exception.Message -notmatch 'not supported') { throw } }
[pscustomobject]@{
  batteryStatus = $batteries
  powerOnline = $powerOnline
  freeBytes = if ($disk) { $disk.FreeSpace } else { $null }
  tpm = if ($tpm) {
    [pscustomobject]@{ enabled = $tpm.IsEnabled_InitialValue; activated = $tpm.IsActivated_InitialValue; specVersion = $tpm.SpecVersion }
  } else { $null }
  secureBoot = $secureBoot
  build = (Get-CimInstance -ClassName Win32_OperatingSystem).BuildNumber
}`;

// --- Computer name ---------------------------------------------------------------------------

/** ActiveComputerName is the name in effect; ComputerName\ComputerName is what the next boot uses. */
const COMPUTER_NAME_FUNCTIONS = String.raw`$control = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey('SYSTEM\CurrentControlSet\Control\ComputerName')
function Get-ComputerNameValue([string]$Key) {
  $sub = $control.OpenSubKey($Key)
  try { $sub.GetValue('ComputerName') } finally { $sub.Close() }
}
`;

export const COMPUTER_NAME =
  COMPUTER_NAME_FUNCTIONS +
  String.raw`$system = Get-CimInstance -ClassName Win32_ComputerSystem
[pscustomobject]@{
  active = Get-ComputerNameValue 'ActiveComputerName'
  pending = Get-ComputerNameValue 'ComputerName'
  domain = if ($system.PartOfDomain) { $system.Domain } else { $null }
}`;

/** NetBIOS rules Windows enforces for a computer name: 1–15 of A-Z a-z 0-9 -, not only digits. */
export function checkComputerName(name: string): void {
  if (!/^[A-Za-z0-9-]{1,15}$/.test(name) || /^[0-9]+$/.test(name)) {
    throw new Error('invalid computer name: use 1-15 of A-Z a-z 0-9 and -, not only digits (NetBIOS rules)');
  }
}

/**
 * Rename-Computer refuses a name equal to the current one, so a rename already pending (the
 * step running again before the reboot) is left alone: the comparison is case-insensitive, as
 * Windows' is. The warning "changes will take effect after you restart" is expected and dropped.
 */
export function renameComputerScript(name: string): string {
  checkComputerName(name);
  return (
    psCommand`$newName = ${name}
` +
    COMPUTER_NAME_FUNCTIONS +
    String.raw`if ((Get-ComputerNameValue 'ComputerName') -ne $newName) {
  Rename-Computer -NewName $newName -Force -WarningAction SilentlyContinue
}`
  );
}

// --- winget ----------------------------------------------------------------------------------

/**
 * winget.exe for SYSTEM, or a clear reason why there is none:
 * - By path only: SYSTEM's PATH has no App Installer alias, and a PATH fallback would run any
 *   winget.exe a user managed to put on a writable PATH entry. The newest
 *   Microsoft.DesktopAppInstaller folder for this architecture under WindowsApps (writable by
 *   TrustedInstaller only) wins, and its winget.exe must carry a valid Authenticode signature by
 *   Microsoft Corporation (Get-AuthenticodeSignature).
 * - Its runtime: run as SYSTEM, winget.exe does not get its package dependencies on the DLL search
 *   path and exits at once on images without the system-wide VC++ 2015-2022 runtime (winget-cli
 *   #2748, #4321, #4798). The Microsoft.VCLibs.140.00.UWPDesktop framework — App Installer's own
 *   dependency, so present wherever it is — goes first on the child's PATH, which the DLL search
 *   order includes.
 * - Its version: `--disable-interactivity` needs winget 1.4 or later.
 * LTSC editions ship without App Installer: no folder, a permanent failure that says so.
 */
const WINGET_FUNCTIONS = String.raw`$wingetArch = if ($env:PROCESSOR_ARCHITECTURE -eq 'ARM64') { 'arm64' } else { 'x64' }
$windowsApps = Join-Path $env:ProgramFiles 'WindowsApps'
function Get-NewestPackageDir([string]$Prefix) {
  $found = foreach ($dir in @(Get-ChildItem -LiteralPath $windowsApps -Directory -Filter "$($Prefix)_*_$($wingetArch)__8wekyb3d8bbwe" -ErrorAction SilentlyContinue)) {
    if ($dir.Name -match '_(\d+(?:\.\d+){1,3})_') { [pscustomobject]@{ version = [version]$Matches[1]; path = $dir.FullName } }
  }
  @($found | Sort-Object -Property version -Descending)[0]
}
function Get-Winget {
  $package = Get-NewestPackageDir 'Microsoft.DesktopAppInstaller'
  if (-not $package) { throw 'winget is not available: App Installer (Microsoft.DesktopAppInstaller) is not installed for the machine (LTSC editions have none)' }
  $exe = Join-Path $package.path 'winget.exe'
  if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) { throw "winget is not available: $exe is missing" }
  $signature = Get-AuthenticodeSignature -LiteralPath $exe
  if ($signature.Status -ne 'Valid' -or $signature.SignerCertificate.Subject -notmatch '(^|, )O=Microsoft Corporation(,|$)') {
    throw "winget.exe at $exe is not validly signed by Microsoft ($($signature.Status)); refusing to run it"
  }
  $vclibs = Get-NewestPackageDir 'Microsoft.VCLibs.140.00.UWPDesktop'
  [pscustomobject]@{ path = $exe; runtimePath = if ($vclibs) { $vclibs.path } else { '' } }
}
`;

// winget-cli's manifest schema: PackageIdentifier and PackageVersion.
const WINGET_ID = /^[^.\s\\/:*?"<>|\x00-\x1f]{1,32}(\.[^.\s\\/:*?"<>|\x00-\x1f]{1,32}){1,7}$/;
const WINGET_VERSION = /^[^\\/:*?"<>|\x00-\x1f]{1,128}$/;

export function checkWingetId(id: string): void {
  if (!WINGET_ID.test(id) || id.startsWith('-')) {
    throw new Error(`invalid winget package id ${JSON.stringify(id)}: expected Publisher.Package`);
  }
}

function checkWingetVersion(version: string): void {
  if (!WINGET_VERSION.test(version) || version.startsWith('-') || version.trim() !== version) {
    throw new Error(`invalid winget package version ${JSON.stringify(version)}`);
  }
}

/** winget writes UTF-8 to a pipe, whatever the console code page. In a kill-on-close job (see JOB_FUNCTIONS). */
function wingetScript(args: string[]): string {
  return (
    psCommand`$arguments = ${windowsCommandLine(args)}
` +
    NATIVE_FUNCTIONS +
    JOB_FUNCTIONS +
    WINGET_FUNCTIONS +
    String.raw`$winget = Get-Winget
$result = Invoke-Native $winget.path $arguments ([System.Text.UTF8Encoding]::new($false)) $winget.runtimePath
[pscustomobject]@{ exitCode = $result.exitCode; output = $result.output }`
  );
}

/**
 * Finds winget (see WINGET_FUNCTIONS) and runs `winget --version`: a winget that cannot load its
 * runtime exits at once with STATUS_DLL_NOT_FOUND and no output. Answers ok with path, version and
 * how the runtime was found, or ok = $false with the reason (the step then fails permanently).
 */
export const WINGET_READY =
  NATIVE_FUNCTIONS +
  WINGET_FUNCTIONS +
  String.raw`try { $winget = Get-Winget } catch { return [pscustomobject]@{ ok = $false; reason = $_.Exception.Message } }
$result = Invoke-Native $winget.path '--version' ([System.Text.UTF8Encoding]::new($false)) $winget.runtimePath
$text = "$($result.output)".Trim()
if ($result.exitCode -ne 0 -or $text -notmatch '^v?(\d+)\.(\d+)') {
  $hex = '0x{0:X8}' -f $result.exitCode
  return [pscustomobject]@{ ok = $false; reason = "winget.exe at $($winget.path) does not start as SYSTEM (exit $hex): install the VC++ 2015-2022 runtime (x64) or repair App Installer and its VCLibs framework" }
}
if ([int]$Matches[1] -lt 1 -or ([int]$Matches[1] -eq 1 -and [int]$Matches[2] -lt 4)) {
  return [pscustomobject]@{ ok = $false; reason = "winget $text is older than 1.4 (no --disable-interactivity): update App Installer" }
}
[pscustomobject]@{
  ok = $true
  path = $winget.path
  version = $text.TrimStart('v')
  runtime = if ($winget.runtimePath) { 'VCLibs framework folder on PATH' } else { 'VC++ runtime (system-wide)' }
}`;

/**
 * `winget list` for exactly one id. Only the winget source: what the agent installs comes from it,
 * and the msstore source needs agreements and a user that SYSTEM lacks.
 */
export function wingetListScript(id: string): string {
  checkWingetId(id);
  return wingetScript([
    'list',
    '--id',
    id,
    '--exact',
    '--source',
    'winget',
    '--accept-source-agreements',
    '--disable-interactivity',
  ]);
}

export function wingetInstallScript(id: string, version: string | undefined): string {
  checkWingetId(id);
  if (version !== undefined) checkWingetVersion(version);
  return wingetScript([
    'install',
    '--id',
    id,
    '--exact',
    '--source',
    'winget',
    '--scope',
    'machine',
    '--silent',
    '--accept-package-agreements',
    '--accept-source-agreements',
    '--disable-interactivity',
    ...(version === undefined ? [] : ['--version', version]),
  ]);
}

const ESCAPE_SEQUENCE = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * winget's output as lines a person would read: escape sequences dropped, and of each line only
 * what follows its last carriage return (the spinner and progress bars redraw with \r).
 */
export function cleanNativeOutput(output: string): string[] {
  return output
    .replace(ESCAPE_SEQUENCE, '')
    .split(/\r?\n/)
    .map((line) => (line.split('\r').pop() ?? '').trimEnd())
    .filter((line) => line.trim() !== '' && !/^\s*[-\\|/]\s*$/.test(line));
}

/** The end of an output, for a caller that wants to show why an install failed. */
export function outputTail(output: string, max = 2000): string {
  const text = cleanNativeOutput(output).join('\n').trim();
  return text.length > max ? text.slice(text.length - max).trimStart() : text;
}

/**
 * The Version column of `winget list --id <id> --exact`. The headers are localised and the
 * columns are padded by display width (a wide character in Name shifts them), so rather than
 * column offsets: the row is the one with the id as a whole word (or cut short with "…" in a
 * narrow table), and the version is the word after it ("< 1.2" and "> 1.2" are two words). The
 * last matching word counts, in case the Name is the id too. undefined: no such row.
 */
export function parseWingetListVersion(output: string, id: string): string | undefined {
  const wanted = id.toLowerCase();
  const isId = (word: string) => {
    const lower = word.toLowerCase();
    if (lower === wanted) return true;
    return lower.endsWith('…') && lower.length > 4 && wanted.startsWith(lower.slice(0, -1));
  };
  const lines = cleanNativeOutput(output);
  const rule = lines.findIndex((line) => /^-{3,}$/.test(line.trim()));
  for (const line of rule === -1 ? lines : lines.slice(rule + 1)) {
    const words = line.trim().split(/\s+/);
    for (let i = words.length - 2; i >= 0; i--) {
      if (!isId(words[i]!)) continue;
      const version = words[i + 1]!;
      if ((version === '<' || version === '>') && words[i + 2]) return `${version} ${words[i + 2]}`;
      return version;
    }
  }
  return undefined;
}

// --- Installers ------------------------------------------------------------------------------

/**
 * msiexec parses its own command line: a property value with spaces or quotes is written
 * `NAME="va""lue"` (a quote inside is doubled), which the C runtime's rules (`\"`) would break
 * (Microsoft Learn, "Command-Line Options" for msiexec: property values with spaces in quotes).
 * Switches and anything else are quoted the same way when they need it.
 */
function msiexecArgument(arg: string): string {
  const property = /^([A-Za-z_][\w.]*)=(.*)$/s.exec(arg);
  const quote = (v: string) => (v !== '' && !/[\s"]/.test(v) ? v : `"${v.replace(/"/g, '""')}"`);
  return property ? `${property[1]}=${quote(property[2]!)}` : quote(arg);
}

/**
 * NSIS reads `/D=` as the install directory only as the very last parameter, and takes the rest of
 * the command line verbatim, spaces included, with no quotes (NSIS manual, 3.2 Installer Usage). So
 * it goes last, unquoted; a quote in it could never be meant and is refused.
 */
function exeCommandLine(args: readonly string[]): string {
  const dirs = args.filter((a) => /^\/D=/.test(a));
  if (dirs.length > 1) throw new Error('at most one /D= argument (the NSIS install directory)');
  if (dirs.some((d) => /["\r\n]/.test(d)))
    throw new Error('an NSIS /D= directory cannot contain quotes or line breaks');
  const rest = windowsCommandLine(args.filter((a) => !/^\/D=/.test(a)));
  return [rest, ...dirs].filter((part) => part !== '').join(' ');
}

/** The command line an installer gets: msiexec's own rules for an .msi, NSIS's /D= last for an .exe. */
export function installerCommandLine(file: string, kind: 'msi' | 'exe', args: readonly string[]): string {
  if (kind === 'exe') return exeCommandLine(args);
  return ['/i', file, '/qn', '/norestart', ...args].map(msiexecArgument).join(' ');
}

/**
 * Runs a downloaded installer that has the pinned SHA-256, and returns its exit code.
 * - The exact file run is the file hashed: it is opened with FileShare.Read (no one may write,
 *   rename or delete it while the handle is open), hashed through that handle, and kept open until
 *   the installer has exited. Before that, every folder from %ProgramData% down to the file must
 *   be owned by SYSTEM or Administrators and writable by no one else (a user who owned a parent
 *   could swap the folder under the agent).
 * - It waits for the installer process itself: Start-Process -Wait in Windows PowerShell 5.1 waits
 *   for every descendant, so an installer that starts its app hung the step. What it leaves
 *   running ends with this PowerShell (the kill-on-close job), as does everything on a timeout.
 * An .msi is not a program: msiexec installs it, quietly and without restarting (3010 tells the
 * caller a restart is due). Other file types are refused.
 */
export function installerScript(file: string, args: readonly string[], sha256: string): string {
  if (!/^[A-Za-z]:\\/.test(file)) throw new Error('installer path must be an absolute local path');
  const kind = /\.(msi|exe)$/i.exec(file)?.[1]?.toLowerCase() as 'msi' | 'exe' | undefined;
  if (!kind) throw new Error('runInstaller runs .exe and .msi files only');
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('the pinned SHA-256 must be 64 lower-case hex digits');
  const commandLine = installerCommandLine(file, kind, args);
  return (
    psCommand`$file = ${file}
$arguments = ${commandLine}
$isMsi = ${kind === 'msi'}
$pinned = ${sha256}
` +
    TRUSTED_PATH_FUNCTIONS +
    JOB_FUNCTIONS +
    String.raw`Assert-TrustedPath ([System.IO.Path]::GetDirectoryName($file))
$stream = [System.IO.File]::Open($file, 'Open', 'Read', 'Read')
try {
  $sha = [System.Security.Cryptography.SHA256]::Create()
  $actual = -join ($sha.ComputeHash($stream) | ForEach-Object { $_.ToString('x2') })
  if ($actual -ne $pinned) { throw "the installer $file has SHA-256 $actual, not the pinned $($pinned): not run" }
  $exe = if ($isMsi) { Join-Path $env:SystemRoot 'System32\msiexec.exe' } else { $file }
  $info = [System.Diagnostics.ProcessStartInfo]::new($exe, $arguments)
  $info.UseShellExecute = $false
  $info.CreateNoWindow = $true
  $info.WorkingDirectory = [System.IO.Path]::GetDirectoryName($file)
  $process = [System.Diagnostics.Process]::Start($info)
  $process.WaitForExit()
  [pscustomobject]@{ exitCode = $process.ExitCode }
} finally { $stream.Dispose() }`
  );
}

/**
 * Every folder from below %ProgramData% down to `$Path`: owner SYSTEM or Administrators, and no
 * allow entry that lets anyone else write, create, delete, or change permissions or owner
 * (FileSystemRights WriteData 0x2, AppendData 0x4, WriteExtendedAttributes 0x10, DeleteSubdirectoriesAndFiles 0x40,
 * WriteAttributes 0x100, Delete 0x10000, ChangePermissions 0x40000, TakeOwnership 0x80000). SIDs, not localised names.
 */
const TRUSTED_PATH_FUNCTIONS = String.raw`function Assert-TrustedPath([string]$Path) {
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
`;

// --- Registry --------------------------------------------------------------------------------

export interface RegistryPath {
  /** HKU: HKEY_USERS as it is (e.g. .DEFAULT, the profile of the sign-in screen). */
  hive: 'HKLM' | 'HKCU' | 'HKU';
  /** Below the hive, backslash-separated, e.g. SOFTWARE\Policies\Contoso. */
  subKey: string;
}

const HIVES: [RegExp, RegistryPath['hive']][] = [
  [/^(?:Registry::)?(?:HKLM:?|HKEY_LOCAL_MACHINE)\\/i, 'HKLM'],
  [/^(?:Registry::)?(?:HKCU:?|HKEY_CURRENT_USER)\\/i, 'HKCU'],
  [/^(?:Registry::)?(?:HKU:?|HKEY_USERS)\\/i, 'HKU'],
];

/** `HKLM:\SOFTWARE\…` as PowerShell writes it (also `HKLM\…` and `HKEY_LOCAL_MACHINE\…`); same for HKCU. */
export function parseRegistryPath(path: string): RegistryPath {
  for (const [prefix, hive] of HIVES) {
    const match = prefix.exec(path);
    if (!match) continue;
    const subKey = path.slice(match[0].length).replace(/\\+$/, '');
    if (subKey === '' || subKey.split('\\').some((part) => part === '' || part.length > 255)) break;
    return { hive, subKey };
  }
  throw new Error('invalid registry path: expected HKLM:\\<key>, HKCU:\\<key> or HKU:\\<key>');
}

const BASE_KEY = { HKLM: 'LocalMachine', HKU: 'Users' } as const;

function checkValueName(name: string): void {
  if (name.length > 16383) throw new Error('registry value name too long');
}

/**
 * HKCU as SYSTEM: the agent's own HKCU is SYSTEM's profile, useless to users. So "HKCU" means the
 * default user profile (C:\Users\Default\NTUSER.DAT, copied for every new user), loaded under a
 * fixed HKU key and unloaded again, plus the hive of every user loaded now (signed-in users: local
 * and domain S-1-5-21-*, Entra ID S-1-12-1-*; not *_Classes, .DEFAULT or service accounts).
 * Profiles of users not signed in now are left as they are (their hives are files nobody has
 * loaded, possibly roaming or redirected). The fixed mount name lets a run after a crash find and
 * unload a hive left loaded (a loaded default hive breaks the creation of new profiles). reg.exe unload fails while any handle is open: .NET keys are
 * closed explicitly and the garbage collector run before it, and it is retried briefly.
 */
const REGISTRY_FUNCTIONS = String.raw`$users = [Microsoft.Win32.RegistryKey]::OpenBaseKey('Users', 'Registry64')
$mount = 'Drydock_DefaultUser'
$reg = Join-Path $env:SystemRoot 'System32\reg.exe'
function Use-DefaultUserHive([scriptblock]$Action) {
  if ($users.GetSubKeyNames() -notcontains $mount) {
    $profiles = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey('SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList')
    $defaultDir = $profiles.GetValue('Default')
    $profiles.Close()
    if (-not $defaultDir) { $defaultDir = Join-Path $env:SystemDrive 'Users\Default' }
    $hive = Join-Path ([Environment]::ExpandEnvironmentVariables($defaultDir)) 'NTUSER.DAT'
    $load = Invoke-Native $reg "load ""HKU\$mount"" ""$hive"""
    if ($load.exitCode -ne 0) { throw "reg.exe could not load the default user hive: $(Get-FirstLine $load.output)" }
  }
  try { & $Action $mount }
  finally {
    for ($attempt = 1; $attempt -le 5; $attempt++) {
      [gc]::Collect()
      [gc]::WaitForPendingFinalizers()
      $unload = Invoke-Native $reg "unload ""HKU\$mount"""
      if ($unload.exitCode -eq 0) { break }
      if ($attempt -eq 5) { throw "reg.exe could not unload the default user hive: $(Get-FirstLine $unload.output)" }
      Start-Sleep -Seconds 1
    }
  }
}
function Get-UserHives {
  @($users.GetSubKeyNames() | Where-Object { $_ -match '^S-1-(5-21|12-1)(-\d+)+$' })
}
`;

/** The values of the kinds a step writes come back as they were written; see registryReadScript. */
const READ_VALUE = String.raw`function Read-Value($Root, [string]$Path) {
  $key = $Root.OpenSubKey($Path)
  if (-not $key) { return $null }
  try {
    if ($key.GetValueNames() -notcontains $name) { return $null }
    $kind = $key.GetValueKind($name).ToString()
    $value = $key.GetValue($name, $null, 'DoNotExpandEnvironmentNames')
    if ($kind -eq 'MultiString') { $value = $value -join [char]10 }
    [pscustomobject]@{ kind = $kind; value = $value }
  } finally { $key.Close() }
}
`;

/**
 * Reads one value: DWord and QWord as numbers, String and ExpandString as text (unexpanded),
 * MultiString as lines joined by \n. Binary values answer as kind only (the caller sees no value a
 * step could have written, so a write replaces it). HKCU reads the default user profile.
 */
export function registryReadScript(path: string, name: string): string {
  const { hive, subKey } = parseRegistryPath(path);
  checkValueName(name);
  const head = psCommand`$subKey = ${subKey}
$name = ${name}
`;
  if (hive === 'HKLM' || hive === 'HKU') {
    return (
      head +
      READ_VALUE +
      `Read-Value ([Microsoft.Win32.RegistryKey]::OpenBaseKey('${BASE_KEY[hive]}', 'Registry64')) $subKey`
    );
  }
  return (
    head +
    NATIVE_FUNCTIONS +
    REGISTRY_FUNCTIONS +
    READ_VALUE +
    String.raw`Use-DefaultUserHive { param($mountName) Read-Value $users "$mountName\$subKey" }`
  );
}

/** DWord: an integer that fits 32 bits, signed or not (0xFFFFFFFF and -1 are the same DWORD). */
function registryValue(type: 'DWord' | 'String', value: RegistryData): string | number {
  if (type === 'String') {
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new Error('registry String value must be text');
    return String(value);
  }
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -(2 ** 31) || n > 2 ** 32 - 1) {
    throw new Error('registry DWord value must be an integer that fits 32 bits');
  }
  // As the Int32 that .NET's SetValue(…, DWord) takes.
  return n | 0;
}

/**
 * Creates the key if missing and sets the value, through .NET's RegistryKey (the 64-bit view, as
 * a 32-bit PowerShell would otherwise write to WOW6432Node; no wildcard reading of key names, as
 * the registry provider does with [ and ]; handles closed at once, which unloading a hive needs).
 */
export function registryWriteScript(
  path: string,
  name: string,
  type: 'DWord' | 'String',
  value: RegistryData,
): string {
  const { hive, subKey } = parseRegistryPath(path);
  checkValueName(name);
  if (type !== 'DWord' && type !== 'String') throw new Error('registry type must be DWord or String');
  const data = registryValue(type, value);
  const head =
    psCommand`$subKey = ${subKey}
$name = ${name}
$kind = [Microsoft.Win32.RegistryValueKind]${type}
` + (type === 'DWord' ? psCommand`$value = [int]${data}` : psCommand`$value = [string]${data}`);
  const write = String.raw`
function Write-Value($Root, [string]$Path) {
  $key = $Root.CreateSubKey($Path)
  try { $key.SetValue($name, $value, $kind) } finally { $key.Close() }
}
`;
  if (hive === 'HKLM' || hive === 'HKU') {
    return (
      head +
      write +
      `Write-Value ([Microsoft.Win32.RegistryKey]::OpenBaseKey('${BASE_KEY[hive]}', 'Registry64')) $subKey`
    );
  }
  return (
    head +
    write +
    NATIVE_FUNCTIONS +
    REGISTRY_FUNCTIONS +
    String.raw`Use-DefaultUserHive { param($mountName) Write-Value $users "$mountName\$subKey" }
foreach ($sid in Get-UserHives) { Write-Value $users "$sid\$subKey" }`
  );
}

// --- Registry in batches (tweaks, their undo, validation) -------------------------------------

/** The key under HKLM where the agent records what each tweaked value was before (TweakRecord). */
export const TWEAK_RECORDS_SUBKEY = 'SOFTWARE\\Drydock\\TweakUndo';

/**
 * Where one registry path lands: HKLM and HKU as they are; HKCU in the default user hive (mounted
 * once for the whole script by Use-DefaultUserHive) and every loaded user hive. Values are read as
 * kind + data (Binary as base64, MultiString as an array) so a record can put back exactly them.
 * Get-Cause: PowerShell wraps what a .NET method throws (RegistryKey.SetValue's
 * UnauthorizedAccessException for a UCPD-protected value) in a MethodInvocationException, an
 * ExtendedTypeSystemException whose InnerException is the original (Microsoft Learn,
 * System.Management.Automation.MethodInvocationException); `-is` sees only the wrapper, so the
 * cause is unwrapped before it is judged and reported.
 */
const BATCH_FUNCTIONS = String.raw`$machine = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64')
function Get-Targets([string]$Hive, [string]$SubKey, [string]$MountName) {
  if ($Hive -eq 'HKLM') { return ,@([pscustomobject]@{ target = 'HKLM'; root = $machine; path = $SubKey }) }
  if ($Hive -eq 'HKU') { return ,@([pscustomobject]@{ target = 'HKU'; root = $users; path = $SubKey }) }
  $list = @([pscustomobject]@{ target = 'default'; root = $users; path = "$MountName\$SubKey" })
  foreach ($sid in Get-UserHives) { $list += [pscustomobject]@{ target = $sid; root = $users; path = "$sid\$SubKey" } }
  ,$list
}
function Get-State($Root, [string]$Path, [string]$Name) {
  $key = $Root.OpenSubKey($Path)
  if (-not $key) { return $null }
  try {
    if ($key.GetValueNames() -notcontains $Name) { return $null }
    $kind = $key.GetValueKind($Name).ToString()
    $value = $key.GetValue($Name, $null, 'DoNotExpandEnvironmentNames')
    if ($kind -eq 'Binary') { $value = [Convert]::ToBase64String([byte[]]$value) }
    [pscustomobject]@{ kind = $kind; value = $value }
  } finally { $key.Close() }
}
function ConvertTo-Data([string]$Kind, $Value) {
  switch ($Kind) {
    'DWord' { return [int]$Value }
    'QWord' { return [long]$Value }
    'MultiString' { return [string[]]@($Value) }
    'Binary' { return [Convert]::FromBase64String([string]$Value) }
    default { return [string]$Value }
  }
}
function Set-State($Root, [string]$Path, [string]$Name, $State) {
  if ($null -eq $State) {
    $key = $Root.OpenSubKey($Path, $true)
    if ($key) { try { $key.DeleteValue($Name, $false) } finally { $key.Close() } }
    return
  }
  $key = $Root.CreateSubKey($Path)
  try { $key.SetValue($Name, (ConvertTo-Data $State.kind $State.value), [Microsoft.Win32.RegistryValueKind]$State.kind) } finally { $key.Close() }
}
function Get-Cause($Exception) {
  while (($Exception -is [System.Management.Automation.ExtendedTypeSystemException] -or $Exception -is [System.Reflection.TargetInvocationException]) -and $Exception.InnerException) { $Exception = $Exception.InnerException }
  $Exception
}
function Test-Permanent($Exception) {
  $Exception -is [System.UnauthorizedAccessException] -or $Exception -is [System.Security.SecurityException] -or $Exception -is [System.ArgumentException]
}
`;

interface BatchItem {
  hive: 'HKLM' | 'HKCU' | 'HKU';
  subKey: string;
  path: string;
  name: string;
}

function batchItems<T extends { path: string; name: string }>(items: readonly T[]): (T & BatchItem)[] {
  return items.map((item) => {
    checkValueName(item.name);
    return { ...item, ...parseRegistryPath(item.path) };
  });
}

/** A batch script and the data it reads on stdin. */
export interface BatchScript {
  script: string;
  /** Base64 of the UTF-8 JSON the script reads (runPowerShell writes it to stdin). */
  stdin: string;
}

/**
 * The registry batches read their data from stdin, as base64 of UTF-8 JSON (stdin passes through
 * the OEM code page; base64 is ASCII). Not in the script: -EncodedCommand turns each character into
 * about 2.7, and a Windows command line holds 32,767 characters (CreateProcess), so the Standard
 * profile's values alone made the tweak step's script too long to start.
 * `@((ConvertFrom-Json $batch))`: Windows PowerShell 5.1's ConvertFrom-Json writes an array as ONE
 * pipeline object (PowerShell/PowerShell#3424, changed only in PowerShell 7), so
 * `@(ConvertFrom-Json …)` is an array holding the array, and a foreach ran once over all items at
 * once; the parentheses make the result an expression, which @() enumerates, in 5.1 and 7 alike.
 */
function readBatch(variable: '$items' | '$keys', data: unknown): { head: string; stdin: string } {
  return {
    head: String.raw`$batch = [System.Text.Encoding]::UTF8.GetString([Convert]::FromBase64String([Console]::In.ReadToEnd()))
${variable} = @((ConvertFrom-Json $batch))
`,
    stdin: Buffer.from(JSON.stringify(data), 'utf8').toString('base64'),
  };
}

/** Runs `body` with the default user hive mounted once when any item is HKCU (and not at all otherwise). */
function batchScript(head: string, items: readonly BatchItem[], body: string): string {
  const needsHive = items.some((i) => i.hive === 'HKCU');
  return (
    head +
    NATIVE_FUNCTIONS +
    REGISTRY_FUNCTIONS +
    BATCH_FUNCTIONS +
    (needsHive
      ? `Use-DefaultUserHive { param($mountName)\n${body}\n}`
      : `$mountName = $null\n& {\n${body}\n}`)
  );
}

/**
 * Tweaks' values in one script: for each, read every target; if all hold the value, nothing;
 * else record what each had (or that it was absent) under HKLM\SOFTWARE\Drydock\TweakUndo —
 * once: a later run never overwrites the original with a tweaked value — then write. A value
 * Windows refuses (UCPD answers "access denied" for Explorer\Advanced\TaskbarDa) is reported for
 * its tweak; the others go on. Data is compared case-sensitively (`-cne`: PowerShell's `-ne`
 * ignores case, about_Comparison_Operators), so a String value that differs only in case is
 * written. Answers one { i, changed, error?, permanent? } per item.
 */
export function applyRegistryScript(
  items: readonly {
    path: string;
    name: string;
    type: 'DWord' | 'String';
    value: RegistryData;
    tweak: string;
  }[],
): BatchScript {
  const checked = batchItems(items);
  const batch = checked.map((item, i) => ({
    i,
    hive: item.hive,
    subKey: item.subKey,
    path: item.path,
    name: item.name,
    kind: item.type,
    data: registryValue(item.type, item.value),
    tweak: item.tweak,
  }));
  const input = readBatch('$items', batch);
  const head =
    input.head +
    psCommand`$undoPath = ${TWEAK_RECORDS_SUBKEY}
`;
  const script = batchScript(
    head,
    checked,
    String.raw`foreach ($item in $items) {
  try {
    $targets = Get-Targets $item.hive $item.subKey $mountName
    $before = [ordered]@{}
    $differs = $false
    foreach ($t in $targets) {
      $state = Get-State $t.root $t.path $item.name
      $before[$t.target] = $state
      if ($null -eq $state -or $state.kind -ne $item.kind -or "$($state.value)" -cne "$($item.data)") { $differs = $true }
    }
    if (-not $differs) { [pscustomobject]@{ i = $item.i; changed = $false }; continue }
    $recordName = 'registry:' + $item.path + '\' + $item.name
    $undo = $machine.CreateSubKey($undoPath)
    try {
      if ($undo.GetValueNames() -notcontains $recordName) {
        $record = [pscustomobject]@{ key = $recordName; tweak = $item.tweak; before = [pscustomobject]$before }
        $undo.SetValue($recordName, (ConvertTo-Json -InputObject $record -Compress -Depth 5), 'String')
      }
    } finally { $undo.Close() }
    foreach ($t in $targets) { Set-State $t.root $t.path $item.name ([pscustomobject]@{ kind = $item.kind; value = $item.data }) }
    [pscustomobject]@{ i = $item.i; changed = $true }
  } catch {
    $cause = Get-Cause $_.Exception
    [pscustomobject]@{ i = $item.i; changed = $false; error = $cause.Message; permanent = (Test-Permanent $cause) }
  }
}`,
  );
  return { script, stdin: input.stdin };
}

/** Many values in one script (one hive load): HKCU answers from the default user profile. */
export function readRegistryScript(items: readonly { path: string; name: string }[]): BatchScript {
  const checked = batchItems(items);
  const batch = checked.map((item, i) => ({ i, hive: item.hive, subKey: item.subKey, name: item.name }));
  const input = readBatch('$items', batch);
  const script = batchScript(
    input.head,
    checked,
    String.raw`foreach ($item in $items) {
  $t = @(Get-Targets $item.hive $item.subKey $mountName)[0]
  $state = Get-State $t.root $t.path $item.name
  if ($state) { [pscustomobject]@{ i = $item.i; kind = $state.kind; value = $state.value } }
  else { [pscustomobject]@{ i = $item.i; kind = 'absent'; value = $null } }
}`,
  );
  return { script, stdin: input.stdin };
}

/** Every record under HKLM\SOFTWARE\Drydock\TweakUndo, as the JSON text each was written as. */
export const TWEAK_RECORDS =
  psCommand`$undoPath = ${TWEAK_RECORDS_SUBKEY}
` +
  String.raw`$undo = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey($undoPath)
$texts = [System.Collections.Generic.List[string]]::new()
if ($undo) {
  try { foreach ($name in $undo.GetValueNames()) { $texts.Add([string]$undo.GetValue($name)) } } finally { $undo.Close() }
}
,$texts.ToArray()`;

/**
 * Puts recorded values back: each target gets the kind and data it had, or loses the value if it
 * had none. A user whose hive is not loaded now (signed out) is loaded from the ProfileList for
 * the moment, as the default user's is, and unloaded again with the same retries (a user's hive
 * left loaded by SYSTEM would give that user a temporary profile at the next sign-in, as the file
 * is in use). `action:hibernation-off` runs powercfg /hibernate on when
 * hibernation was on. The record goes once its values are back; one failure does not stop the others.
 */
export function restoreTweakRecordsScript(keys: readonly string[]): BatchScript {
  for (const key of keys)
    if (!/^(registry:|action:)/.test(key) || key.length > 20_000) throw new Error('invalid tweak record key');
  const input = readBatch('$keys', keys);
  const head =
    input.head +
    psCommand`$undoPath = ${TWEAK_RECORDS_SUBKEY}
`;
  const script =
    head +
    NATIVE_FUNCTIONS +
    REGISTRY_FUNCTIONS +
    BATCH_FUNCTIONS +
    String.raw`$userMount = 'Drydock_User'
function Use-UserHive([string]$Sid, [scriptblock]$Action) {
  if ($users.GetSubKeyNames() -contains $Sid) { return (& $Action $Sid) }
  $profileKey = $machine.OpenSubKey("SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\$Sid")
  if (-not $profileKey) { throw "the user $Sid has no profile on this machine any more" }
  $dir = [Environment]::ExpandEnvironmentVariables([string]$profileKey.GetValue('ProfileImagePath'))
  $profileKey.Close()
  $load = Invoke-Native $reg "load ""HKU\$userMount"" ""$(Join-Path $dir 'NTUSER.DAT')"""
  if ($load.exitCode -ne 0) { throw "reg.exe could not load the hive of $($Sid): $(Get-FirstLine $load.output)" }
  try { & $Action $userMount }
  finally {
    for ($attempt = 1; $attempt -le 5; $attempt++) {
      [gc]::Collect()
      [gc]::WaitForPendingFinalizers()
      $unload = Invoke-Native $reg "unload ""HKU\$userMount"""
      if ($unload.exitCode -eq 0) { break }
      if ($attempt -eq 5) { throw "reg.exe could not unload the hive of $($Sid): $(Get-FirstLine $unload.output)" }
      Start-Sleep -Seconds 1
    }
  }
}
Use-DefaultUserHive { param($mountName)
  foreach ($recordKey in $keys) {
    try {
      $undo = $machine.OpenSubKey($undoPath, $true)
      if (-not $undo -or $undo.GetValueNames() -notcontains $recordKey) {
        if ($undo) { $undo.Close() }
        [pscustomobject]@{ key = $recordKey }
        continue
      }
      $record = ConvertFrom-Json ([string]$undo.GetValue($recordKey))
      $undo.Close()
      if ($recordKey -eq 'action:hibernation-off') {
        if ($record.before.hibernation) {
          $result = Invoke-Native (Join-Path $env:SystemRoot 'System32\powercfg.exe') '/hibernate on'
          if ($result.exitCode -ne 0) { throw "powercfg /hibernate on failed: $(Get-FirstLine $result.output)" }
        }
      } else {
        $full = $recordKey.Substring('registry:'.Length)
        $cut = $full.LastIndexOf('\')
        $path = $full.Substring(0, $cut)
        $name = $full.Substring($cut + 1)
        $subKey = $path -replace '^(Registry::)?[^\\]+\\', ''
        foreach ($property in $record.before.PSObject.Properties) {
          $state = $property.Value
          switch ($property.Name) {
            'HKLM' { Set-State $machine $subKey $name $state }
            'HKU' { Set-State $users $subKey $name $state }
            'default' { Set-State $users "$mountName\$subKey" $name $state }
            default { Use-UserHive $property.Name { param($at) Set-State $users "$at\$subKey" $name $state } }
          }
        }
      }
      $undo = $machine.OpenSubKey($undoPath, $true)
      try { $undo.DeleteValue($recordKey, $false) } finally { $undo.Close() }
      [pscustomobject]@{ key = $recordKey }
    } catch {
      [pscustomobject]@{ key = $recordKey; error = (Get-Cause $_.Exception).Message }
    }
  }
}`;
  return { script, stdin: input.stdin };
}

/**
 * A tweak's action. `restore-point`: System Restore is turned on for the system drive, then
 * Checkpoint-Computer (the tweak's registry part has set the creation frequency to 0 first).
 * `hibernation-off`: records whether hibernation was on (HKLM\SYSTEM\CurrentControlSet\Control\Power
 * HibernateEnabled), then `powercfg /hibernate off`, which takes effect at once. Answers { changed }.
 */
export function tweakActionScript(action: 'restore-point' | 'hibernation-off', tweak: string): string {
  if (action === 'restore-point') {
    return (
      psCommand`$description = ${`Drydock: before tweaks (${tweak})`.slice(0, 200)}
` +
      String.raw`try { Enable-ComputerRestore -Drive ($env:SystemDrive + '\') } catch { throw "System Restore cannot be turned on: $($_.Exception.Message)" }
Checkpoint-Computer -Description $description -RestorePointType MODIFY_SETTINGS
[pscustomobject]@{ changed = $true }`
    );
  }
  if (action !== 'hibernation-off') throw new Error('unknown tweak action');
  return (
    psCommand`$tweak = ${tweak}
$undoPath = ${TWEAK_RECORDS_SUBKEY}
` +
    NATIVE_FUNCTIONS +
    String.raw`$machine = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64')
$power = $machine.OpenSubKey('SYSTEM\CurrentControlSet\Control\Power')
$enabled = $power -and [int]$power.GetValue('HibernateEnabled', 0) -ne 0
if ($power) { $power.Close() }
if (-not $enabled) { return [pscustomobject]@{ changed = $false } }
$undo = $machine.CreateSubKey($undoPath)
try {
  if ($undo.GetValueNames() -notcontains 'action:hibernation-off') {
    $record = [pscustomobject]@{ key = 'action:hibernation-off'; tweak = $tweak; before = [pscustomobject]@{ hibernation = $true } }
    $undo.SetValue('action:hibernation-off', (ConvertTo-Json -InputObject $record -Compress), 'String')
  }
} finally { $undo.Close() }
$result = Invoke-Native (Join-Path $env:SystemRoot 'System32\powercfg.exe') '/hibernate off'
if ($result.exitCode -ne 0) { throw "powercfg /hibernate off failed: $(Get-FirstLine $result.output)" }
[pscustomobject]@{ changed = $true }`
  );
}

// --- Restart indicators, machine facts -------------------------------------------------------

/**
 * Windows' own pending-restart indicators, as servicing and installers set them: CBS
 * `Component Based Servicing\RebootPending` (key), Windows Update `Auto Update\RebootRequired`
 * (key), `Session Manager\PendingFileRenameOperations` (a value with entries: MSI's files in use),
 * and a pending computer name (ComputerName differs from ActiveComputerName).
 */
export const PENDING_REBOOT = String.raw`$machine = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64')
function Test-Key([string]$Path) { $key = $machine.OpenSubKey($Path); if ($key) { $key.Close(); $true } else { $false } }
$reasons = [System.Collections.Generic.List[string]]::new()
if (Test-Key 'SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') { $reasons.Add('CBS RebootPending') }
if (Test-Key 'SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') { $reasons.Add('Windows Update RebootRequired') }
$session = $machine.OpenSubKey('SYSTEM\CurrentControlSet\Control\Session Manager')
if ($session) {
  try { if (@($session.GetValue('PendingFileRenameOperations', $null) | Where-Object { $_ }).Count -gt 0) { $reasons.Add('PendingFileRenameOperations') } }
  finally { $session.Close() }
}
$names = $machine.OpenSubKey('SYSTEM\CurrentControlSet\Control\ComputerName')
if ($names) {
  try {
    $active = $names.OpenSubKey('ActiveComputerName').GetValue('ComputerName')
    $next = $names.OpenSubKey('ComputerName').GetValue('ComputerName')
    if ($active -ne $next) { $reasons.Add('computer name change') }
  } finally { $names.Close() }
}
,$reasons.ToArray()`;

/** EditionID and build from the registry (not localised), battery presence from CIM. */
export const MACHINE_FACTS = String.raw`$version = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey('SOFTWARE\Microsoft\Windows NT\CurrentVersion')
try {
  [pscustomobject]@{
    editionId = $version.GetValue('EditionID')
    build = $version.GetValue('CurrentBuildNumber')
    batteries = @(Get-CimInstance -ClassName Win32_Battery).Count
  }
} finally { $version.Close() }`;

// --- Locale ----------------------------------------------------------------------------------

/**
 * The agent runs as SYSTEM, so the user language list read here is SYSTEM's, which is also what the
 * welcome screen uses (HKU\.DEFAULT). `newUser` is what a user signing in for the first time gets:
 * the default user hive's Control Panel\International LocaleName, Keyboard Layout\Preload and
 * International\Geo Nation, read from the hive itself.
 */
export const LOCALE_STATE =
  NATIVE_FUNCTIONS +
  REGISTRY_FUNCTIONS +
  String.raw`$override = Get-WinDefaultInputMethodOverride
$newUser = Use-DefaultUserHive { param($mountName)
  $intl = $users.OpenSubKey("$mountName\Control Panel\International")
  $geo = $users.OpenSubKey("$mountName\Control Panel\International\Geo")
  $preload = $users.OpenSubKey("$mountName\Keyboard Layout\Preload")
  try {
    $layouts = if ($preload) { @($preload.GetValueNames() | Sort-Object { [int]$_ } | ForEach-Object { [string]$preload.GetValue($_) }) } else { @() }
    [pscustomobject]@{
      formats = if ($intl) { $intl.GetValue('LocaleName') } else { $null }
      layouts = $layouts
      homeLocation = if ($geo) { $geo.GetValue('Nation') } else { $null }
    }
  } finally { foreach ($k in $intl, $geo, $preload) { if ($k) { $k.Close() } } }
}
[pscustomobject]@{
  timeZone = (Get-TimeZone).Id
  locale = (Get-WinSystemLocale).Name
  keyboards = @(foreach ($language in Get-WinUserLanguageList) { foreach ($tip in $language.InputMethodTips) { $tip } })
  override = if ($override) { $override.InputMethodTip } else { $null }
  newUser = $newUser
}`;

export function setTimeZoneScript(id: string): string {
  if (!/^[\w .+()-]{1,100}$/.test(id)) throw new Error(`invalid time zone id ${JSON.stringify(id)}`);
  return psCommand`Set-TimeZone -Id ${id}`;
}

/** Takes effect after a restart, as Windows says. */
export function setLocaleScript(tag: string): string {
  if (!/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(tag))
    throw new Error(`invalid locale ${JSON.stringify(tag)}`);
  return psCommand`Set-WinSystemLocale -SystemLocale ${tag}`;
}

/** LANGID:KLID (0409:00000407) or, for an IME, LANGID:{CLSID}{profile GUID}; upper-case, as Windows writes them. */
export function normaliseInputTip(tip: string): string {
  const guid = '\\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\\}';
  if (!new RegExp(`^[0-9A-F]{4}:(?:[0-9A-F]{8}|${guid}${guid})$`, 'i').test(tip)) {
    throw new Error(`invalid input locale ${JSON.stringify(tip)}: expected e.g. 0409:00000409`);
  }
  return tip.toUpperCase();
}

/**
 * A Windows Globalization Services answer file (Microsoft Learn, "Guide to Windows Vista
 * Multilingual User Interface" / intl.cpl `/f:`; the way MDT and ConfigMgr task sequences set
 * regional settings as SYSTEM): the user locale (formats), the input method as default, the home
 * location, for the current user (SYSTEM) with CopySettingsToSystemAcct (welcome screen) and
 * CopySettingsToDefaultUserAcct (every new user). It works the same on Windows 10 and 11, where
 * Copy-UserInternationalSettingsToSystem exists on Windows 11 only.
 */
export function internationalXml(settings: {
  formats: string;
  keyboard: string;
  homeLocation: number;
}): string {
  if (!/^[a-z]{2,3}-[A-Z]{2}$/.test(settings.formats))
    throw new Error(`invalid formats locale ${JSON.stringify(settings.formats)}`);
  if (
    !Number.isInteger(settings.homeLocation) ||
    settings.homeLocation < 1 ||
    settings.homeLocation > 999_999
  )
    throw new Error('invalid home location (a Windows GeoID)');
  const tip = normaliseInputTip(settings.keyboard);
  return `<gs:GlobalizationServices xmlns:gs="urn:longhornGlobalizationUnattend">
  <gs:UserList>
    <gs:User UserID="Current" CopySettingsToDefaultUserAcct="true" CopySettingsToSystemAcct="true"/>
  </gs:UserList>
  <gs:LocationPreferences>
    <gs:GeoID Value="${settings.homeLocation}"/>
  </gs:LocationPreferences>
  <gs:InputPreferences>
    <gs:InputLanguageID Action="add" ID="${tip}" Default="true"/>
  </gs:InputPreferences>
  <gs:UserLocale>
    <gs:Locale Name="${settings.formats}" SetAsCurrent="true" ResetAllSettings="false"/>
  </gs:UserLocale>
</gs:GlobalizationServices>
`;
}

/**
 * Applies the answer file with `control.exe intl.cpl,,/f:"<file>"` (which returns before it is done,
 * so the script waits for the rundll32 it starts), then checks the default user hive got it.
 */
export function setInternationalScript(settings: {
  formats: string;
  keyboard: string;
  homeLocation: number;
}): string {
  const xml = internationalXml(settings);
  return (
    psCommand`$xml = ${xml}
$formats = ${settings.formats}
` +
    NATIVE_FUNCTIONS +
    REGISTRY_FUNCTIONS +
    String.raw`$file = Join-Path ([System.IO.Path]::GetTempPath()) ("drydock-intl-" + [guid]::NewGuid().ToString('N') + '.xml')
try {
  [System.IO.File]::WriteAllText($file, $xml, [System.Text.UTF8Encoding]::new($false))
  $control = Join-Path $env:SystemRoot 'System32\control.exe'
  $result = Invoke-Native $control "intl.cpl,,/f:""$file"""
  if ($result.exitCode -ne 0) { throw "control.exe intl.cpl failed with exit code $($result.exitCode)" }
  for ($i = 0; $i -lt 60 -and @(Get-Process -Name rundll32 -ErrorAction SilentlyContinue | Where-Object { $_.SessionId -eq 0 }).Count -gt 0; $i++) { Start-Sleep -Seconds 1 }
} finally { [System.IO.File]::Delete($file) }
$got = Use-DefaultUserHive { param($mountName)
  $intl = $users.OpenSubKey("$mountName\Control Panel\International")
  try { if ($intl) { $intl.GetValue('LocaleName') } } finally { if ($intl) { $intl.Close() } }
}
if ($got -ne $formats) { throw "the regional settings did not reach the default user profile (it has $got, not $formats)" }`
  );
}

// --- Wi-Fi -----------------------------------------------------------------------------------

/**
 * The profile names from the WLAN service's own files, one XML per profile and interface:
 * `netsh wlan show profiles` is localised ("All User Profile" is translated), and exporting
 * profiles would write their keys in clear. Only <name> is read; the files' key material is
 * never touched. No WLAN service (a desktop without Wi-Fi): no folder, no profiles.
 */
export const WIFI_PROFILES = String.raw`$root = Join-Path $env:ProgramData 'Microsoft\Wlansvc\Profiles\Interfaces'
$names = [System.Collections.Generic.List[string]]::new()
if (Test-Path -LiteralPath $root -PathType Container) {
  foreach ($file in @(Get-ChildItem -LiteralPath $root -Directory | Get-ChildItem -File -Filter '*.xml')) {
    try {
      $doc = [System.Xml.XmlDocument]::new()
      $doc.XmlResolver = $null
      $doc.Load($file.FullName)
      $name = $doc.DocumentElement.SelectSingleNode("*[local-name()='name']")
      if ($name -and -not $names.Contains($name.InnerText)) { $names.Add($name.InnerText) }
    } catch { }
  }
}
,$names.ToArray()`;

/**
 * Whether WLAN AutoConfig has an interface to configure: Get-NetAdapter -Physical with the native
 * 802.11 medium (NdisPhysicalMedium 9), present or disabled. A desktop without one: no Wi-Fi step work.
 */
export const WIFI_ADAPTER = String.raw`@(Get-NetAdapter -Physical -IncludeHidden -ErrorAction SilentlyContinue | Where-Object { $_.NdisPhysicalMedium -eq 9 }).Count -gt 0`;

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};
const xmlText = (value: string) => value.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** An SSID is 1–32 bytes; as UTF-8 text here, without control characters (XML cannot carry most). */
export function checkSsid(ssid: string): void {
  const bytes = Buffer.byteLength(ssid, 'utf8');
  if (bytes < 1 || bytes > 32 || /[\x00-\x1f\x7f]/.test(ssid) || LONE_SURROGATE.test(ssid)) {
    throw new Error('invalid SSID: 1-32 bytes of UTF-8 without control characters');
  }
}

/**
 * PEAP with EAP-MSCHAPv2 inside, as the computer (authMode machine, UseWinLogonCredentials: the
 * domain computer account), so the machine connects before anyone signs in and no credential is
 * stored. The RADIUS server is pinned (Microsoft Learn, MsPeapConnectionPropertiesV1 schema):
 * ServerNames (its certificate must carry one of them), TrustedRootCA (the SHA-1 thumbprints of
 * the roots that may issue it), no prompt to trust another (DisableUserPromptForServerValidation),
 * and AcceptServerName so the names are enforced.
 */
function onexPeapMachine(radius: { serverNames: string[]; trustedRootCaThumbprints: string[] }): string {
  for (const name of radius.serverNames)
    if (!/^[A-Za-z0-9*][A-Za-z0-9.*-]{0,252}$/.test(name)) throw new Error('invalid RADIUS server name');
  for (const t of radius.trustedRootCaThumbprints)
    if (!/^[0-9A-Fa-f]{40}$/.test(t)) throw new Error('invalid root CA thumbprint (SHA-1, 40 hex digits)');
  if (radius.serverNames.length === 0 || radius.trustedRootCaThumbprints.length === 0)
    throw new Error('an enterprise network needs RADIUS server names and root CA thumbprints');
  const roots = radius.trustedRootCaThumbprints
    .map(
      (t) =>
        `                    <TrustedRootCA>${t.toLowerCase().replace(/(..)(?!$)/g, '$1 ')}</TrustedRootCA>\n`,
    )
    .join('');
  return ONEX_PEAP_MACHINE.replace(
    '<DisableUserPromptForServerValidation>false',
    '<DisableUserPromptForServerValidation>true',
  )
    .replace(
      '<ServerNames></ServerNames>\n',
      `<ServerNames>${xmlText(radius.serverNames.join(';'))}</ServerNames>\n${roots}`,
    )
    .replace(
      '<AcceptServerName xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2">false',
      '<AcceptServerName xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2">true',
    );
}

const ONEX_PEAP_MACHINE = `      <OneX xmlns="http://www.microsoft.com/networking/OneX/v1">
        <authMode>machine</authMode>
        <EAPConfig>
          <EapHostConfig xmlns="http://www.microsoft.com/provisioning/EapHostConfig">
            <EapMethod>
              <Type xmlns="http://www.microsoft.com/provisioning/EapCommon">25</Type>
              <VendorId xmlns="http://www.microsoft.com/provisioning/EapCommon">0</VendorId>
              <VendorType xmlns="http://www.microsoft.com/provisioning/EapCommon">0</VendorType>
              <AuthorId xmlns="http://www.microsoft.com/provisioning/EapCommon">0</AuthorId>
            </EapMethod>
            <Config xmlns="http://www.microsoft.com/provisioning/EapHostConfig">
              <Eap xmlns="http://www.microsoft.com/provisioning/BaseEapConnectionPropertiesV1">
                <Type>25</Type>
                <EapType xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV1">
                  <ServerValidation>
                    <DisableUserPromptForServerValidation>false</DisableUserPromptForServerValidation>
                    <ServerNames></ServerNames>
                  </ServerValidation>
                  <FastReconnect>true</FastReconnect>
                  <InnerEapOptional>false</InnerEapOptional>
                  <Eap xmlns="http://www.microsoft.com/provisioning/BaseEapConnectionPropertiesV1">
                    <Type>26</Type>
                    <EapType xmlns="http://www.microsoft.com/provisioning/MsChapV2ConnectionPropertiesV1">
                      <UseWinLogonCredentials>true</UseWinLogonCredentials>
                    </EapType>
                  </Eap>
                  <EnableQuarantineChecks>false</EnableQuarantineChecks>
                  <RequireCryptoBinding>false</RequireCryptoBinding>
                  <PeapExtensions>
                    <PerformServerValidation xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2">true</PerformServerValidation>
                    <AcceptServerName xmlns="http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2">false</AcceptServerName>
                  </PeapExtensions>
                </EapType>
              </Eap>
            </Config>
          </EapHostConfig>
        </EAPConfig>
      </OneX>
`;

/**
 * WLAN profile schema pairs: open/none; WPA2/AES (WPA2-Enterprise); WPA3ENT/AES (WPA3-Enterprise,
 * Windows 11: WPA2-Enterprise with protected management frames required). Not WPA3ENT192/GCMP256:
 * the 192-bit mode allows EAP-TLS only, and this profile uses PEAP.
 */
const SECURITY: Record<WifiNetworkSpec['authentication'], { auth: string; enc: string; oneX: boolean }> = {
  open: { auth: 'open', enc: 'none', oneX: false },
  'wpa2-enterprise': { auth: 'WPA2', enc: 'AES', oneX: true },
  'wpa3-enterprise': { auth: 'WPA3ENT', enc: 'AES', oneX: true },
};

/** A WLANProfile v1 document. The SSID is given as <hex> (exact bytes, what Windows matches on) and <name>. */
export function wlanProfileXml(network: WifiNetworkSpec): string {
  checkSsid(network.ssid);
  const security = SECURITY[network.authentication];
  if (!security)
    throw new Error('unsupported Wi-Fi authentication: use open, wpa2-enterprise or wpa3-enterprise');
  const name = xmlText(network.ssid);
  const hex = Buffer.from(network.ssid, 'utf8').toString('hex').toUpperCase();
  return `<?xml version="1.0" encoding="UTF-8"?>
<WLANProfile xmlns="http://www.microsoft.com/networking/WLAN/profile/v1">
  <name>${name}</name>
  <SSIDConfig>
    <SSID>
      <hex>${hex}</hex>
      <name>${name}</name>
    </SSID>
  </SSIDConfig>
  <connectionType>ESS</connectionType>
  <connectionMode>${network.autoConnect ? 'auto' : 'manual'}</connectionMode>
  <MSM>
    <security>
      <authEncryption>
        <authentication>${security.auth}</authentication>
        <encryption>${security.enc}</encryption>
        <useOneX>${security.oneX}</useOneX>
      </authEncryption>
${security.oneX ? onexPeapMachine(network.radius ?? { serverNames: [], trustedRootCaThumbprints: [] }) : ''}    </security>
  </MSM>
</WLANProfile>
`;
}

/**
 * Writes the profile to a fresh temporary file (UTF-8, as its declaration says), adds it for all
 * users with netsh, and deletes the file whatever happened. The file holds no secret: only open
 * and 802.1X networks are supported, never a pre-shared key.
 */
export function addWifiProfileScript(network: WifiNetworkSpec): string {
  const xml = wlanProfileXml(network);
  return (
    psCommand`$xml = ${xml}
` +
    NATIVE_FUNCTIONS +
    String.raw`$file = Join-Path ([System.IO.Path]::GetTempPath()) ("drydock-wlan-" + [guid]::NewGuid().ToString('N') + '.xml')
try {
  [System.IO.File]::WriteAllText($file, $xml, [System.Text.UTF8Encoding]::new($false))
  $result = Invoke-Native (Join-Path $env:SystemRoot 'System32\netsh.exe') "wlan add profile filename=""$file"" user=all"
  if ($result.exitCode -ne 0) { throw "netsh wlan add profile failed with exit code $($result.exitCode): $(Get-FirstLine $result.output)" }
} finally { [System.IO.File]::Delete($file) }`
  );
}

// --- Autopilot, restart ----------------------------------------------------------------------

/**
 * What Get-WindowsAutopilotInfo collects: the 4K hardware hash from the MDM bridge (SYSTEM or an
 * administrator only) and the BIOS serial. Its "Windows Product ID" column stays empty, as that
 * script leaves it (it sets the product id to ""): Intune does not use it, and the OS serial
 * number is not it.
 */
export const AUTOPILOT = String.raw`$devDetail = Get-CimInstance -Namespace root/cimv2/mdm/dmmap -ClassName MDM_DevDetail_Ext01 -Filter "InstanceID='Ext' AND ParentID='./DevDetail'"
[pscustomobject]@{
  hardwareHash = $devDetail.DeviceHardwareData
  serial = (Get-CimInstance -ClassName Win32_BIOS).SerialNumber
  productId = $null
}`;

/**
 * shutdown.exe /r /t 10 /d p:4:1 (planned: application, maintenance), with the reason as the
 * comment (at most 512 characters; control characters become spaces). Exit code 1190 means a
 * shutdown is already scheduled, which the restart asked for also achieves.
 */
export function restartScript(reason: string): string {
  const comment = reason.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 512);
  const commandLine = windowsCommandLine(['/r', '/t', '10', '/c', comment, '/d', 'p:4:1']);
  return (
    psCommand`$arguments = ${commandLine}
` +
    NATIVE_FUNCTIONS +
    String.raw`$result = Invoke-Native (Join-Path $env:SystemRoot 'System32\shutdown.exe') $arguments
if ($result.exitCode -ne 0 -and $result.exitCode -ne 1190) { throw "shutdown.exe failed with exit code $($result.exitCode): $(Get-FirstLine $result.output)" }`
  );
}

/**
 * Sets a local administrator's password, or creates the account in Administrators (by its SID,
 * S-1-5-32-544: the group's name is localised). The password arrives on stdin as base64 and meets
 * only .NET on the way into a SecureString: never `ConvertTo-SecureString -AsPlainText`, whose
 * -String argument module logging (event 4103) records; `Set-LocalUser -Password` and
 * `New-LocalUser -Password` bind the SecureString, which logging shows only as its type name
 * (Microsoft.PowerShell.LocalAccounts docs: both take `-Password <SecureString>`). Prints
 * `{"created":bool}`.
 */
export function setLocalAdminPasswordScript(account: string, create: boolean): string {
  return psCommand`$name = ${account}
$create = ${create}
$bytes = [Convert]::FromBase64String([Console]::In.ReadToEnd())
$secure = New-Object System.Security.SecureString
try {
  $chars = [System.Text.Encoding]::UTF8.GetChars($bytes)
  foreach ($c in $chars) { $secure.AppendChar($c) }
  [Array]::Clear($chars, 0, $chars.Length)
  $secure.MakeReadOnly()
  $created = $false
  if ($null -eq (Get-LocalUser -Name $name -ErrorAction SilentlyContinue)) {
    if (-not $create) { throw [System.ArgumentException]::new('the local account does not exist') }
    New-LocalUser -Name $name -Password $secure -PasswordNeverExpires -AccountNeverExpires -Description 'Drydock escrowed local administrator' | Out-Null
    $created = $true
  } else {
    Set-LocalUser -Name $name -Password $secure
  }
  try { Add-LocalGroupMember -SID 'S-1-5-32-544' -Member $name -ErrorAction Stop }
  catch [Microsoft.PowerShell.Commands.MemberExistsException] { }
  [Console]::Out.Write((@{ created = $created } | ConvertTo-Json -Compress))
} finally {
  [Array]::Clear($bytes, 0, $bytes.Length)
  $secure.Dispose()
}`;
}

/** A volume's BitLocker state and key protectors, as JSON (Get-BitLockerVolume). */
export function bitlockerVolumeScript(mountPoint: string): string {
  return psCommand`$v = Get-BitLockerVolume -MountPoint ${mountPoint} -ErrorAction Stop
[pscustomobject]@{
  volumeStatus = [string]$v.VolumeStatus
  protectionStatus = [string]$v.ProtectionStatus
  encryptionPercentage = [double]$v.EncryptionPercentage
  protectors = @($v.KeyProtector | ForEach-Object { [pscustomobject]@{ id = [string]$_.KeyProtectorId; type = [string]$_.KeyProtectorType } })
}`;
}

/**
 * Adds a recovery-password protector with the password read from stdin (base64). Through WMI's
 * Win32_EncryptableVolume.ProtectKeyWithNumericalPassword as a .NET method call on the
 * ManagementObject — not `Add-BitLockerKeyProtector -RecoveryPassword <string>`, whose argument
 * module logging (event 4103) would record. Prints the new protector's id.
 */
export function addRecoveryPasswordScript(mountPoint: string): string {
  return psCommand`$drive = ${mountPoint}
$bytes = [Convert]::FromBase64String([Console]::In.ReadToEnd())
try {
  $password = [System.Text.Encoding]::ASCII.GetString($bytes)
  $volume = Get-WmiObject -Namespace 'root\\cimv2\\Security\\MicrosoftVolumeEncryption' -Class Win32_EncryptableVolume | Where-Object { $_.DriveLetter -eq $drive }
  if ($null -eq $volume) { throw [System.ArgumentException]::new('no BitLocker volume with that drive letter') }
  $result = $volume.ProtectKeyWithNumericalPassword('Drydock escrow', $password)
  if ($result.ReturnValue -ne 0) { throw [System.ComponentModel.Win32Exception]::new([int]$result.ReturnValue, 'ProtectKeyWithNumericalPassword failed') }
  [Console]::Out.Write((@{ protectorId = [string]$result.VolumeKeyProtectorID } | ConvertTo-Json -Compress))
} finally {
  [Array]::Clear($bytes, 0, $bytes.Length)
  $password = $null
}`;
}

export function removeKeyProtectorScript(mountPoint: string, protectorId: string): string {
  return psCommand`Remove-BitLockerKeyProtector -MountPoint ${mountPoint} -KeyProtectorId ${protectorId} -ErrorAction Stop | Out-Null`;
}

/**
 * Starts encryption with the TPM protector (Microsoft's Enable-BitLocker: one protector per call;
 * the recovery password was added before). -SkipHardwareTest: no restart for a hardware test, as
 * Intune's silent enable does; -UsedSpaceOnly for a new machine.
 */
export function enableBitLockerScript(
  mountPoint: string,
  options: { encryptionMethod: 'XtsAes128' | 'XtsAes256'; usedSpaceOnly: boolean },
): string {
  return psCommand`Enable-BitLocker -MountPoint ${mountPoint} -EncryptionMethod ${options.encryptionMethod} -TpmProtector -SkipHardwareTest -UsedSpaceOnly:${options.usedSpaceOnly} -ErrorAction Stop | Out-Null`;
}
