import type { RegistryData, WifiNetworkSpec } from '../platform';
import { psCommand } from './powershell';

/**
 * The PowerShell scripts behind WindowsPlatform's provisioning methods, and the checks and parsing
 * around them. Every value reaches a script through `psCommand` (a single-quoted literal assigned
 * to a variable at the top); the script bodies after it are constant text.
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
const NATIVE_FUNCTIONS = String.raw`function Invoke-Native([string]$FilePath, [string]$Arguments, [System.Text.Encoding]$Encoding) {
  $info = [System.Diagnostics.ProcessStartInfo]::new($FilePath, $Arguments)
  $info.UseShellExecute = $false
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
  String.raw`[pscustomobject]@{
  active = Get-ComputerNameValue 'ActiveComputerName'
  pending = Get-ComputerNameValue 'ComputerName'
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
 * winget.exe by path: the agent runs as SYSTEM, whose PATH has no App Installer alias
 * (%LOCALAPPDATA%\Microsoft\WindowsApps exists only for signed-in users). The newest
 * Microsoft.DesktopAppInstaller package folder for this machine's architecture wins; a winget on
 * PATH is the fallback (a machine where it was installed some other way).
 */
const WINGET_FUNCTIONS = String.raw`function Get-WingetPath {
  $arch = if ($env:PROCESSOR_ARCHITECTURE -eq 'ARM64') { 'arm64' } else { 'x64' }
  $root = Join-Path $env:ProgramFiles 'WindowsApps'
  $candidates = foreach ($dir in @(Get-ChildItem -LiteralPath $root -Directory -Filter "Microsoft.DesktopAppInstaller_*_$($arch)__8wekyb3d8bbwe" -ErrorAction SilentlyContinue)) {
    $exe = Join-Path $dir.FullName 'winget.exe'
    if ($dir.Name -match '^Microsoft\.DesktopAppInstaller_(\d+(?:\.\d+){1,3})_' -and (Test-Path -LiteralPath $exe -PathType Leaf)) {
      [pscustomobject]@{ version = [version]$Matches[1]; path = $exe }
    }
  }
  $newest = @($candidates | Sort-Object -Property version -Descending)[0]
  if ($newest) { return $newest.path }
  $onPath = @(Get-Command -Name winget.exe -CommandType Application -ErrorAction SilentlyContinue)[0]
  if ($onPath) { return $onPath.Source }
  throw 'winget was not found: App Installer (Microsoft.DesktopAppInstaller) is not installed for the machine'
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

/** winget writes UTF-8 to a pipe, whatever the console code page. */
function wingetScript(args: string[]): string {
  return (
    psCommand`$arguments = ${windowsCommandLine(args)}
` +
    NATIVE_FUNCTIONS +
    WINGET_FUNCTIONS +
    String.raw`$result = Invoke-Native (Get-WingetPath) $arguments ([System.Text.UTF8Encoding]::new($false))
[pscustomobject]@{ exitCode = $result.exitCode; output = $result.output }`
  );
}

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
 * Start-Process -Wait -PassThru gives the exit code (with -WindowStyle Hidden, not -NoNewWindow or
 * redirection, which in Windows PowerShell lose it). An .msi is not a program: msiexec installs it,
 * quietly and without restarting (3010 tells the caller a restart is due). Other file types are
 * refused: ShellExecute would open them with whatever is associated (a .ps1 opens in Notepad).
 */
export function installerScript(file: string, args: readonly string[]): string {
  if (!/^[A-Za-z]:\\/.test(file)) throw new Error('installer path must be an absolute local path');
  const kind = /\.(msi|exe)$/i.exec(file)?.[1]?.toLowerCase();
  if (!kind) throw new Error('runInstaller runs .exe and .msi files only');
  const commandLine = windowsCommandLine(kind === 'msi' ? ['/i', file, '/qn', '/norestart', ...args] : args);
  return (
    psCommand`$file = ${file}
$arguments = ${commandLine}
$isMsi = ${kind === 'msi'}
` +
    String.raw`if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { throw "the installer $file does not exist" }
$start = @{ FilePath = $file; Wait = $true; PassThru = $true; WindowStyle = 'Hidden' }
if ($isMsi) { $start.FilePath = Join-Path $env:SystemRoot 'System32\msiexec.exe' }
if ($arguments) { $start.ArgumentList = $arguments }
$process = Start-Process @start
[pscustomobject]@{ exitCode = $process.ExitCode }`
  );
}

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

// --- Locale ----------------------------------------------------------------------------------

/**
 * The agent runs as SYSTEM, so the user language list read and written here is SYSTEM's, which
 * is also what the welcome screen uses (HKU\.DEFAULT); Copy-UserInternationalSettingsToSystem
 * (Windows 11) copies it to new users. The default input method override, when set, is listed first.
 */
export const LOCALE_STATE = String.raw`$override = Get-WinDefaultInputMethodOverride
[pscustomobject]@{
  timeZone = (Get-TimeZone).Id
  locale = (Get-WinSystemLocale).Name
  keyboards = @(foreach ($language in Get-WinUserLanguageList) { foreach ($tip in $language.InputMethodTips) { $tip } })
  override = if ($override) { $override.InputMethodTip } else { $null }
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
 * Adds the keyboard to the language its LANGID names (adding that language if the list lacks it:
 * a tip belongs to one language) and makes it the default input method, without reordering the
 * languages, which would change the display language. Then, where the cmdlet exists (Windows 11),
 * copies the settings to the welcome screen and new users.
 */
export function setKeyboardScript(inputLocale: string): string {
  const tip = normaliseInputTip(inputLocale);
  return (
    psCommand`$tip = ${tip}
` +
    String.raw`$langId = [Convert]::ToInt32($tip.Substring(0, 4), 16)
$list = Get-WinUserLanguageList
$owner = @($list | Where-Object { $_.InputMethodTips -contains $tip })[0]
if (-not $owner) {
  $owner = @($list | Where-Object {
    try { [System.Globalization.CultureInfo]::GetCultureInfo($_.LanguageTag).LCID -eq $langId } catch { $false }
  })[0]
}
if (-not $owner) {
  $list.Add([System.Globalization.CultureInfo]::GetCultureInfo($langId).Name)
  $owner = $list[$list.Count - 1]
}
if ($owner.InputMethodTips -notcontains $tip) { $owner.InputMethodTips.Add($tip) }
Set-WinUserLanguageList -LanguageList $list -Force
Set-WinDefaultInputMethodOverride -InputTip $tip
if (Get-Command -Name Copy-UserInternationalSettingsToSystem -ErrorAction SilentlyContinue) {
  Copy-UserInternationalSettingsToSystem -WelcomeScreen $true -NewUser $true
}`
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
 * stored. The server's certificate is validated against the machine's trusted roots (no prompt
 * is possible in machine mode; pinning roots or server names needs a policy-deployed profile).
 */
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
${security.oneX ? ONEX_PEAP_MACHINE : ''}    </security>
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
 * administrator only), the BIOS serial, and the "Product ID" of Win32_OperatingSystem. Not
 * SoftwareLicensingService.OA3xOriginalProductKey: that is the firmware's product key itself.
 */
export const AUTOPILOT = String.raw`$devDetail = Get-CimInstance -Namespace root/cimv2/mdm/dmmap -ClassName MDM_DevDetail_Ext01 -Filter "InstanceID='Ext' AND ParentID='./DevDetail'"
[pscustomobject]@{
  hardwareHash = $devDetail.DeviceHardwareData
  serial = (Get-CimInstance -ClassName Win32_BIOS).SerialNumber
  productId = (Get-CimInstance -ClassName Win32_OperatingSystem).SerialNumber
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
