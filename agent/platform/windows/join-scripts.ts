import { psCommand } from './powershell';
import { checkComputerName } from './provisioning-scripts';

/**
 * The join phase's PowerShell (issue 16, ADR 0048), pinned by golden files
 * (test/fixtures/golden/join). It runs in Windows PowerShell 5.1, which the agent always starts
 * (powershell.ts): Add-Computer is not in PowerShell 7.
 */

/**
 * Membership as Windows reports it: Win32_ComputerSystem's PartOfDomain and Domain; the names in
 * effect now and after the restart; whether a join waits for its restart (Netlogon keeps a
 * JoinDomain key until then); the computer's DN as AD has it, read through the machine's own
 * account (the agent runs as SYSTEM, which is the computer on the network) once it is a member
 * after a restart; and dsregcmd /status's AzureAdJoined and TenantName.
 */
export const JOIN_STATE = String.raw`$control = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey('SYSTEM\CurrentControlSet\Control\ComputerName')
function Get-ComputerNameValue([string]$Key) {
  $sub = $control.OpenSubKey($Key)
  try { $sub.GetValue('ComputerName') } finally { $sub.Close() }
}
$system = Get-CimInstance -ClassName Win32_ComputerSystem
$active = Get-ComputerNameValue 'ActiveComputerName'
$joinPending = Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\Netlogon\JoinDomain'
$dn = $null
if ($system.PartOfDomain -and -not $joinPending) {
  try {
    $searcher = New-Object System.DirectoryServices.DirectorySearcher
    $searcher.Filter = '(&(objectCategory=computer)(sAMAccountName=' + $active + '$))'
    [void]$searcher.PropertiesToLoad.Add('distinguishedName')
    $found = $searcher.FindOne()
    if ($found) { $dn = [string]$found.Properties['distinguishedname'][0] }
  } catch { $dn = $null }
}
$dsreg = (& (Join-Path $env:SystemRoot 'System32\dsregcmd.exe') /status | Out-String)
[pscustomobject]@{
  active = $active
  pending = Get-ComputerNameValue 'ComputerName'
  domain = if ($system.PartOfDomain) { $system.Domain } else { $null }
  joinPending = $joinPending
  distinguishedName = $dn
  entraJoined = $dsreg -match 'AzureAdJoined\s*:\s*YES'
  tenantName = if ($dsreg -match 'TenantName\s*:\s*([^\r\n]+)') { $Matches[1].Trim() } else { $null }
}`;

export interface JoinScriptRequest {
  domain: string;
  /** DOMAIN\user or user@domain. */
  user: string;
  ouPath?: string;
  server?: string;
  /** Rename while joining (-NewName; Add-Computer sets JoinWithNewName with it). */
  newName?: string;
  /** A Rename-Computer waits for its restart: join under that name (-Options JoinWithNewName). */
  renamePending?: boolean;
}

/**
 * Add-Computer with a PSCredential built in memory from the password on stdin (base64 of UTF-8):
 * never on the command line, in the script text or in a cmdlet parameter as text — module logging
 * (event 4103) shows a PSCredential as its type name. -Options AccountCreate makes the computer
 * account in the OU (Add-Computer does by default; named so the script says it); with -NewName or a
 * pending rename, JoinWithNewName joins under the new name, so one restart renames and joins.
 * -PassThru's ComputerChangeInfo says whether it succeeded. No -Restart: the workflow restarts.
 */
export function joinDomainScript(r: JoinScriptRequest): string {
  if (r.newName !== undefined) checkComputerName(r.newName);
  let add = psCommand`Add-Computer -DomainName ${r.domain}`;
  if (r.ouPath !== undefined) add += psCommand` -OUPath ${r.ouPath}`;
  add += ' -Credential $credential';
  if (r.server !== undefined) add += psCommand` -Server ${r.server}`;
  // One string: PowerShell converts 'A, B' to the JoinOptions flags (Enum.Parse takes a comma list).
  if (r.newName !== undefined)
    add += psCommand` -NewName ${r.newName} -Options 'AccountCreate, JoinWithNewName'`;
  else if (r.renamePending) add += " -Options 'AccountCreate, JoinWithNewName'";
  else add += " -Options 'AccountCreate'";
  add += ' -Force -PassThru -ErrorAction Stop -WarningAction SilentlyContinue';
  return (
    psCommand`$user = ${r.user}
` +
    String.raw`$bytes = [Convert]::FromBase64String([Console]::In.ReadToEnd())
$secure = New-Object System.Security.SecureString
try {
  $chars = [System.Text.Encoding]::UTF8.GetChars($bytes)
  foreach ($c in $chars) { $secure.AppendChar($c) }
  [Array]::Clear($chars, 0, $chars.Length)
  $secure.MakeReadOnly()
  $credential = New-Object System.Management.Automation.PSCredential($user, $secure)
  $result = ${add}
  if (-not $result.HasSucceeded) { throw 'Add-Computer did not succeed' }
  [Console]::Out.Write((@{ joined = $true } | ConvertTo-Json -Compress))
} finally {
  [Array]::Clear($bytes, 0, $bytes.Length)
  $secure.Dispose()
}`
  );
}

/**
 * Applies a provisioning package (.ppkg, made with Windows Configuration Designer; for an Entra
 * join it holds a bulk enrollment token) after checking the file's SHA-256 once more as it is
 * about to be used. Install-ProvisioningPackage is the Provisioning module's cmdlet (Windows 10
 * 1607+): -ForceInstall applies it even if it was applied before, -QuietInstall asks nothing.
 */
export function installProvisioningPackageScript(file: string, sha256: string): string {
  return (
    psCommand`$path = ${file}
$expected = ${sha256.toLowerCase()}
` +
    String.raw`$actual = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
if ($actual -ne $expected) { throw [System.ArgumentException]::new('the provisioning package is not the one pinned by SHA-256') }
$result = Install-ProvisioningPackage -PackagePath $path -ForceInstall -QuietInstall -ErrorAction Stop
[Console]::Out.Write((@{ packageId = [string]$result.PackageId } | ConvertTo-Json -Compress))`
  );
}
