import type { MigrationTarget } from '../../../infra/wire/agent-steps';
import type { ProfileBackupRequest, RobocopyRequest } from '../platform';
import { psCommand } from './powershell';

/**
 * The profile-migration scripts (issue 17). Every value reaches a script through `psCommand` (the
 * agent's one quoting module); native tools get their arguments as PowerShell variables, never as
 * text pasted into a command line. Each script checks, then acts, so running it twice is harmless.
 * The commands and the Microsoft pages they follow are listed in docs/migration.md; the scripts
 * are pinned by golden files (test/fixtures/golden/profile-migration) and parsed by a PowerShell
 * grammar in the suite. Written for Windows, never run here.
 */

/** Shared helpers, defined at the top of every migration script. */
const HELPERS = `$sys = Join-Path $env:SystemRoot 'System32'
$profileList = 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList'
function Invoke-Native([string]$exe, [string[]]$arguments, [int]$maxOk = 0) {
  $out = & (Join-Path $sys $exe) @arguments 2>&1
  if ($LASTEXITCODE -gt $maxOk) { throw [System.InvalidOperationException]::new("$exe exited $LASTEXITCODE : $(($out | Select-Object -Last 3) -join ' ')") }
  $LASTEXITCODE
}
function Get-BackupDir([string]$id) { Join-Path $env:ProgramData ('Drydock\\migration\\' + $id) }
# A SID inside SDDL ends at ';', ')' or the next section: never a prefix of a longer SID.
function Set-SidInSddl([string]$sddl, [string]$from, [string]$to) { $sddl -replace ([regex]::Escape($from) + '(?![0-9-])'), $to }
function Mount-Hive([string]$file, [string]$tag) {
  $key = 'HKU\\' + $tag
  if (-not (Test-Path ('Registry::HKEY_USERS\\' + $tag))) { Invoke-Native 'reg.exe' @('load', $key, $file) | Out-Null }
  'Registry::HKEY_USERS\\' + $tag
}
function Dismount-Hive([string]$tag) {
  [gc]::Collect(); [gc]::WaitForPendingFinalizers()
  if (Test-Path ('Registry::HKEY_USERS\\' + $tag)) { Invoke-Native 'reg.exe' @('unload', ('HKU\\' + $tag)) | Out-Null }
}
$hiveFiles = @('NTUSER.DAT', 'AppData\\Local\\Microsoft\\Windows\\UsrClass.dat')
`;

const script = (body: string) => HELPERS + body;

export function profileFactsScript(source: string, target: MigrationTarget): string {
  const targetName = target.kind === 'entra' ? '' : target.name;
  const targetSid = target.kind === 'entra' ? target.sid : '';
  return script(psCommand`$source = ${source}
$targetKind = ${target.kind}
$targetName = ${targetName}
$targetSid = ${targetSid}
function Resolve-Sid([string]$name) {
  try { ([System.Security.Principal.NTAccount]::new($name)).Translate([System.Security.Principal.SecurityIdentifier]).Value } catch { $null }
}
$sid = if ($source -match '^S-1-') { $source } else { Resolve-Sid $source }
$profile = if ($sid) { Get-CimInstance -ClassName Win32_UserProfile | Where-Object { $_.SID -eq $sid } | Select-Object -First 1 } else { $null }
$sizeMb = 0
if ($profile) { $sizeMb = [math]::Round(((Get-ChildItem -LiteralPath $profile.LocalPath -Recurse -Force -File -ErrorAction SilentlyContinue | Measure-Object -Property Length -Sum).Sum) / 1048576) }
$detail = ''
if ($targetKind -eq 'local') { $targetSid = Resolve-Sid ($env:COMPUTERNAME + '\\' + $targetName) }
elseif ($targetKind -eq 'domain') {
  $cs = Get-CimInstance -ClassName Win32_ComputerSystem
  if (-not $cs.PartOfDomain) { $targetSid = $null; $detail = 'the machine is not joined to a domain' }
  else { $targetSid = Resolve-Sid $targetName }
}
if (-not $targetSid -and -not $detail) { $detail = $targetName + ' does not resolve (NTAccount.Translate)' }
elseif (-not $detail) { $detail = $targetSid }
$targetProfile = if ($targetSid) { Get-CimInstance -ClassName Win32_UserProfile | Where-Object { $_.SID -eq $targetSid } | Select-Object -First 1 } else { $null }
$dsreg = & (Join-Path $sys 'dsregcmd.exe') /status
$tenant = $null
if (($dsreg | Select-String -Pattern '^\\s*AzureAdJoined\\s*:\\s*YES' -Quiet)) {
  $line = $dsreg | Select-String -Pattern '^\\s*TenantId\\s*:\\s*(\\S+)' | Select-Object -First 1
  if ($line) { $tenant = $line.Matches[0].Groups[1].Value }
}
$disk = Get-CimInstance -ClassName Win32_LogicalDisk -Filter ("DeviceID='" + $env:SystemDrive + "'")
[pscustomobject]@{
  source = if ($profile) { [pscustomobject]@{ sid = $sid; profilePath = $profile.LocalPath; loaded = [bool]$profile.Loaded; sizeMb = $sizeMb } } else { $null }
  target = [pscustomobject]@{ sid = $targetSid; detail = $detail; profilePath = if ($targetProfile) { $targetProfile.LocalPath } else { $null } }
  entraTenantId = $tenant
  freeDiskGb = [math]::Floor($disk.FreeSpace / 1073741824)
}`);
}

/** msg.exe to each session the user has (found by their explorer.exe); double quotes would break msg.exe's own parsing. */
export function notifyUserScript(sid: string, message: string, seconds: number): string {
  return script(psCommand`$sid = ${sid}
$message = ${message.replace(/"/g, "'")}
$seconds = ${seconds}
$sessions = @(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'explorer.exe'" | Where-Object { (Invoke-CimMethod -InputObject $_ -MethodName GetOwnerSid).Sid -eq $sid } | ForEach-Object { $_.SessionId } | Sort-Object -Unique)
foreach ($s in $sessions) { Invoke-Native 'msg.exe' @([string]$s, ('/TIME:' + $seconds), $message) | Out-Null }
$sessions.Count`);
}

/**
 * The backup: ProfileList keys (reg export), the profile tree's DACLs (icacls /save /t /c), the
 * owner, every hive key's SDDL, group memberships and the OneDrive policy, into a folder only
 * SYSTEM and Administrators can open. The manifest (files and their SHA-256) is written last: a
 * backup without one is incomplete and is made again.
 */
export function backupScript(r: ProfileBackupRequest): string {
  return script(psCommand`$id = ${r.backupId}
$sourceSid = ${r.sourceSid}
$targetSid = ${r.targetSid}
$profilePath = ${r.profilePath}
$targetProfilePath = ${r.targetProfilePath ?? ''}
$dir = Get-BackupDir $id
$manifest = Join-Path $dir 'manifest.json'
if (Test-Path -LiteralPath $manifest) {
  return [pscustomobject]@{ checksum = (Get-FileHash -LiteralPath $manifest -Algorithm SHA256).Hash.ToLowerInvariant(); location = $dir; created = $false }
}
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Invoke-Native 'icacls.exe' @($dir, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F') | Out-Null
$keys = @{}
foreach ($pair in @(@('source', $sourceSid), @('target', $targetSid))) {
  $file = Join-Path $dir ('profilelist-' + $pair[0] + '.reg')
  if (Test-Path ('Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\' + $pair[1])) {
    Invoke-Native 'reg.exe' @('export', ($profileList + '\\' + $pair[1]), $file, '/y') | Out-Null
    $keys[$pair[0]] = $true
  } else { $keys[$pair[0]] = $false }
}
Invoke-Native 'icacls.exe' @($profilePath, '/save', (Join-Path $dir 'profile.acl'), '/t', '/c', '/q') 1 | Out-Null
$owner = (Get-Acl -LiteralPath $profilePath).GetOwner([System.Security.Principal.SecurityIdentifier]).Value
$hives = @{}
$i = 0
foreach ($h in $hiveFiles) {
  $i++
  $file = Join-Path $profilePath $h
  if (-not (Test-Path -LiteralPath $file)) { continue }
  $tag = 'Drydock_' + $id + '_' + $i
  $root = Mount-Hive $file $tag
  try {
    $sddl = @{ '' = (Get-Acl -Path $root).Sddl }
    foreach ($k in Get-ChildItem -Path $root -Recurse -ErrorAction SilentlyContinue) { $sddl[$k.Name.Substring($k.Name.IndexOf('\\') + 1 + $tag.Length)] = (Get-Acl -Path $k.PSPath).Sddl }
    $sddl | ConvertTo-Json -Compress | Set-Content -LiteralPath (Join-Path $dir ('hive-' + $i + '.json')) -Encoding UTF8
    $hives[$h] = 'hive-' + $i + '.json'
  } finally { Dismount-Hive $tag }
}
$groups = @(Get-CimInstance -ClassName Win32_Group -Filter 'LocalAccount = TRUE' | Where-Object {
  $g = [ADSI]('WinNT://' + $env:COMPUTERNAME + '/' + $_.Name + ',group')
  @($g.Invoke('Members') | ForEach-Object { (New-Object System.Security.Principal.SecurityIdentifier([byte[]]$_.GetType().InvokeMember('objectSid', 'GetProperty', $null, $_, $null), 0)).Value }) -contains $targetSid
} | ForEach-Object { $_.Name })
if (Test-Path 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\OneDrive') { Invoke-Native 'reg.exe' @('export', 'HKLM\\SOFTWARE\\Policies\\Microsoft\\OneDrive', (Join-Path $dir 'onedrive.reg'), '/y') | Out-Null }
$files = @{}
foreach ($f in Get-ChildItem -LiteralPath $dir -File | Where-Object { $_.Name -ne 'manifest.json' }) { $files[$f.Name] = (Get-FileHash -LiteralPath $f.FullName -Algorithm SHA256).Hash.ToLowerInvariant() }
[pscustomobject]@{ id = $id; sourceSid = $sourceSid; targetSid = $targetSid; profilePath = $profilePath; targetProfilePath = $targetProfilePath; owner = $owner; profileListKeys = $keys; hives = $hives; targetGroups = $groups; files = $files } | ConvertTo-Json -Depth 4 -Compress | Set-Content -LiteralPath $manifest -Encoding UTF8
[pscustomobject]@{ checksum = (Get-FileHash -LiteralPath $manifest -Algorithm SHA256).Hash.ToLowerInvariant(); location = $dir; created = $true }`);
}

export function backupChecksumScript(backupId: string): string {
  return script(psCommand`$manifest = Join-Path (Get-BackupDir ${backupId}) 'manifest.json'
if (Test-Path -LiteralPath $manifest) { (Get-FileHash -LiteralPath $manifest -Algorithm SHA256).Hash.ToLowerInvariant() } else { $null }`);
}

/** reg.exe copy to the new SID's key, its binary Sid value set, the old key deleted (the backup has its export). */
export function moveProfileListScript(sourceSid: string, targetSid: string): string {
  return script(psCommand`$sourceSid = ${sourceSid}
$targetSid = ${targetSid}
$old = 'Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\' + $sourceSid
$new = 'Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\' + $targetSid
$changed = $false
if (-not (Test-Path $new)) {
  if (-not (Test-Path $old)) { throw [System.ArgumentException]::new('ProfileList has neither ' + $sourceSid + ' nor ' + $targetSid) }
  Invoke-Native 'reg.exe' @('copy', ($profileList + '\\' + $sourceSid), ($profileList + '\\' + $targetSid), '/s', '/f') | Out-Null
  $changed = $true
}
$sid = [System.Security.Principal.SecurityIdentifier]::new($targetSid)
$bytes = New-Object byte[] $sid.BinaryLength
$sid.GetBinaryForm($bytes, 0)
$current = (Get-ItemProperty -Path $new -Name Sid -ErrorAction SilentlyContinue).Sid
if (-not $current -or [Convert]::ToBase64String([byte[]]$current) -ne [Convert]::ToBase64String($bytes)) { Set-ItemProperty -Path $new -Name Sid -Value $bytes -Type Binary; $changed = $true }
if (Test-Path $old) { Invoke-Native 'reg.exe' @('delete', ($profileList + '\\' + $sourceSid), '/f') | Out-Null; $changed = $true }
$changed`);
}

/**
 * icacls restores the DACLs saved before the migration with the old SID substituted by the new one
 * (/substitute works only with /restore, on the parent the save was made from), then /setowner.
 * Restoring the same saved file twice gives the same ACLs: idempotent by construction.
 */
export function substituteAclScript(
  backupId: string,
  profilePath: string,
  sourceSid: string,
  targetSid: string,
): string {
  return script(psCommand`$dir = Get-BackupDir ${backupId}
$profilePath = ${profilePath}
$sourceSid = ${sourceSid}
$targetSid = ${targetSid}
$acl = Join-Path $dir 'profile.acl'
if (-not (Test-Path -LiteralPath $acl)) { throw [System.ArgumentException]::new('no ACL backup: ' + $acl) }
$parent = Split-Path -Path $profilePath -Parent
Invoke-Native 'icacls.exe' @($parent, '/substitute', ('*' + $sourceSid), ('*' + $targetSid), '/restore', $acl, '/c', '/q') 1 | Out-Null
Invoke-Native 'icacls.exe' @($profilePath, '/setowner', ('*' + $targetSid), '/t', '/c', '/q') 1 | Out-Null
$true`);
}

/** Both hives loaded under HKU, every key's SDDL rewritten old → new SID, unloaded (also on failure). */
export function substituteHiveAclScript(profilePath: string, sourceSid: string, targetSid: string): string {
  return script(psCommand`$profilePath = ${profilePath}
$sourceSid = ${sourceSid}
$targetSid = ${targetSid}
$changed = $false
$i = 0
foreach ($h in $hiveFiles) {
  $i++
  $file = Join-Path $profilePath $h
  if (-not (Test-Path -LiteralPath $file)) { continue }
  $tag = 'Drydock_hive_' + $i
  $root = Mount-Hive $file $tag
  try {
    foreach ($path in @($root) + @(Get-ChildItem -Path $root -Recurse -ErrorAction SilentlyContinue | ForEach-Object { $_.PSPath })) {
      $a = Get-Acl -Path $path
      $sddl = Set-SidInSddl $a.Sddl $sourceSid $targetSid
      if ($sddl -ne $a.Sddl) { $a.SetSecurityDescriptorSddlForm($sddl); Set-Acl -Path $path -AclObject $a; $changed = $true }
    }
  } finally { Dismount-Hive $tag }
}
$changed`);
}

export function copyGroupsScript(sourceSid: string, targetSid: string): string {
  return script(psCommand`$sourceSid = ${sourceSid}
$targetSid = ${targetSid}
$added = @()
foreach ($g in Get-CimInstance -ClassName Win32_Group -Filter 'LocalAccount = TRUE') {
  $adsi = [ADSI]('WinNT://' + $env:COMPUTERNAME + '/' + $g.Name + ',group')
  $members = @($adsi.Invoke('Members') | ForEach-Object { (New-Object System.Security.Principal.SecurityIdentifier([byte[]]$_.GetType().InvokeMember('objectSid', 'GetProperty', $null, $_, $null), 0)).Value })
  if ($members -contains $sourceSid -and -not ($members -contains $targetSid)) { $adsi.Add('WinNT://' + $targetSid); $added += $g.Name }
}
,$added`);
}

/**
 * robocopy in restartable mode (/Z) with retries and a Unicode log appended to (/UNILOG+); a second
 * run skips what the first copied (same size and time), so an interrupted copy resumes. The hives
 * stay behind (the target has its own); ACLs are inherited from the target profile (/COPY:DAT).
 */
export function robocopyScript(r: RobocopyRequest): string {
  return script(psCommand`$dir = Get-BackupDir ${r.backupId}
$source = ${r.sourcePath}
$target = ${r.targetPath}
$exclude = ${r.excludeDirs}
$log = Join-Path $dir 'robocopy.log'
$resumed = Test-Path -LiteralPath $log
$arguments = @($source, $target, '/E', '/COPY:DAT', '/DCOPY:DAT', '/Z', '/R:3', '/W:10', '/XJ', '/MT:8', '/NP', '/NDL', '/FP', ('/UNILOG+:' + $log), '/XF', 'NTUSER.DAT*', 'UsrClass.dat*', 'ntuser.ini')
if ($exclude.Count -gt 0) { $arguments += '/XD'; $arguments += @($exclude | ForEach-Object { Join-Path $source $_ }) }
$code = Invoke-Native 'robocopy.exe' $arguments 7
$summary = Get-Content -LiteralPath $log -Encoding Unicode | Select-String -Pattern '^\\s*Files\\s*:\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)' | Select-Object -Last 1
[pscustomobject]@{ exitCode = $code; copied = if ($summary) { [int]$summary.Matches[0].Groups[2].Value } else { 0 }; skipped = if ($summary) { [int]$summary.Matches[0].Groups[3].Value } else { 0 }; resumed = $resumed; log = $log }`);
}

/** OneDrive's Known Folder Move policy: silent opt-in for the tenant (Microsoft Learn, "Redirect and move Windows known folders to OneDrive"). */
export function knownFolderMoveScript(tenantId: string, notifyUser: boolean): string {
  return script(psCommand`$key = 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\OneDrive'
$wanted = [ordered]@{ KFMSilentOptIn = ${tenantId}; KFMSilentOptInWithNotification = ${notifyUser ? 1 : 0}; SilentAccountConfig = 1 }
if (-not (Test-Path $key)) { New-Item -Path $key -Force | Out-Null }
$changed = @()
foreach ($name in $wanted.Keys) {
  $now = (Get-ItemProperty -Path $key -Name $name -ErrorAction SilentlyContinue).$name
  if ($now -ne $wanted[$name]) {
    $type = if ($wanted[$name] -is [string]) { 'String' } else { 'DWord' }
    Set-ItemProperty -Path $key -Name $name -Value $wanted[$name] -Type $type
    $changed += 'HKLM\\SOFTWARE\\Policies\\Microsoft\\OneDrive\\' + $name
  }
}
,$changed`);
}

/** What the new account runs once at its first sign-in (RunOnce): fixed text, it reads its list from a file. */
export const FIRST_LOGON_SCRIPT = `$list = Join-Path $env:LOCALAPPDATA 'Drydock\\appx-manifests.json'
if (Test-Path -LiteralPath $list) {
  foreach ($m in (Get-Content -LiteralPath $list -Raw | ConvertFrom-Json)) { if (Test-Path -LiteralPath $m) { Add-AppxPackage -DisableDevelopmentMode -Register $m -ErrorAction SilentlyContinue } }
}
Get-Process -Name StartMenuExperienceHost, SearchHost, SearchApp -ErrorAction SilentlyContinue | Stop-Process -Force
Remove-Item -Path (Join-Path $env:LOCALAPPDATA 'Packages\\Microsoft.Windows.StartMenuExperienceHost_cw5n1h2txyewy\\TempState\\*') -Recurse -Force -ErrorAction SilentlyContinue
`;

/**
 * AppX packages registered for the old SID are re-registered by the new account at its first
 * sign-in (Add-AppxPackage -Register registers for the user who runs it), through a RunOnce value
 * in its hive; DPAPI-bound items present in the profile are listed, not moved.
 */
export function firstLogonScript(sourceSid: string, targetSid: string, profilePath: string): string {
  return script(psCommand`$sourceSid = ${sourceSid}
$targetSid = ${targetSid}
$profilePath = ${profilePath}
$firstLogon = ${FIRST_LOGON_SCRIPT}
$packages = @(Get-AppxPackage -AllUsers | Where-Object { $_.PackageUserInformation | Where-Object { $_.UserSecurityId.Sid -eq $sourceSid } })
$dir = Join-Path $profilePath 'AppData\\Local\\Drydock'
New-Item -ItemType Directory -Force -Path $dir | Out-Null
ConvertTo-Json -InputObject @($packages | ForEach-Object { Join-Path $_.InstallLocation 'AppxManifest.xml' }) | Set-Content -LiteralPath (Join-Path $dir 'appx-manifests.json') -Encoding UTF8
Set-Content -LiteralPath (Join-Path $dir 'first-logon.ps1') -Value $firstLogon -Encoding UTF8
$root = Mount-Hive (Join-Path $profilePath 'NTUSER.DAT') 'Drydock_firstlogon'
try {
  $runOnce = $root + '\\Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce'
  if (-not (Test-Path $runOnce)) { New-Item -Path $runOnce -Force | Out-Null }
  Set-ItemProperty -Path $runOnce -Name 'DrydockFirstLogon' -Value ('powershell.exe -NoProfile -ExecutionPolicy Bypass -WindowStyle Hidden -File "%LOCALAPPDATA%\\Drydock\\first-logon.ps1"') -Type ExpandString
} finally { Dismount-Hive 'Drydock_firstlogon' }
$notMovable = @()
if (Test-Path -LiteralPath (Join-Path $profilePath 'AppData\\Roaming\\Microsoft\\Protect')) { $notMovable += [pscustomobject]@{ item = 'DPAPI master keys (AppData\\Roaming\\Microsoft\\Protect)'; reason = 'bound to the old SID and its password: Credential Manager entries and other DPAPI secrets do not open for the new account' } }
foreach ($b in @('Google\\Chrome', 'Microsoft\\Edge')) {
  if (Test-Path -LiteralPath (Join-Path $profilePath ('AppData\\Local\\' + $b + '\\User Data\\Default\\Login Data'))) { $notMovable += [pscustomobject]@{ item = ($b + ' saved passwords'); reason = 'encrypted with a DPAPI key of the old account: export them before, or sign in to browser sync after' } }
}
if (Test-Path -LiteralPath (Join-Path $profilePath 'AppData\\Roaming\\Microsoft\\SystemCertificates\\My\\Certificates')) { $notMovable += [pscustomobject]@{ item = 'personal certificates (EFS, S/MIME)'; reason = 'their private keys are DPAPI-protected for the old account' } }
[pscustomobject]@{ appx = @($packages | ForEach-Object { $_.Name }); caches = @('Start menu (StartMenuExperienceHost)', 'Windows Search (SearchHost)', 'file associations (UserChoice hashes)'); notMovable = $notMovable }`);
}

export function profileSnapshotScript(sids: string[], paths: string[]): string {
  return script(psCommand`$sids = ${sids}
$paths = ${paths}
$sidType = [System.Security.Principal.SecurityIdentifier]
$list = @{}
foreach ($s in $sids) {
  $k = 'Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\' + $s
  $list[$s] = if (Test-Path $k) { [pscustomobject]@{ profileImagePath = (Get-ItemProperty -Path $k).ProfileImagePath } } else { $null }
}
$files = @(foreach ($p in $paths) { Get-ChildItem -LiteralPath $p -Recurse -Force -ErrorAction SilentlyContinue | Select-Object -First 25 }) | ForEach-Object {
  $a = Get-Acl -LiteralPath $_.FullName
  [pscustomobject]@{ path = $_.FullName; owner = $a.GetOwner($sidType).Value; sids = @($a.GetAccessRules($true, $true, $sidType) | ForEach-Object { $_.IdentityReference.Value } | Sort-Object -Unique) }
}
$hives = @()
$i = 0
foreach ($p in $paths) { foreach ($h in $hiveFiles) {
  $i++
  $file = Join-Path $p $h
  if (-not (Test-Path -LiteralPath $file)) { continue }
  $tag = 'Drydock_verify_' + $i
  $root = Mount-Hive $file $tag
  try { $hives += [pscustomobject]@{ path = $file; sids = @((Get-Acl -Path $root).GetAccessRules($true, $true, $sidType) | ForEach-Object { $_.IdentityReference.Value } | Sort-Object -Unique) } } finally { Dismount-Hive $tag }
} }
$appx = @{}
$all = @(Get-AppxPackage -AllUsers)
foreach ($s in $sids) { $appx[$s] = @($all | Where-Object { $_.PackageUserInformation | Where-Object { $_.UserSecurityId.Sid -eq $s -and $_.InstallState -ne 'Staged' } } | ForEach-Object { $_.Name } | Sort-Object) }
$groups = @{}
foreach ($s in $sids) { $groups[$s] = @() }
foreach ($g in Get-CimInstance -ClassName Win32_Group -Filter 'LocalAccount = TRUE') {
  $adsi = [ADSI]('WinNT://' + $env:COMPUTERNAME + '/' + $g.Name + ',group')
  $members = @($adsi.Invoke('Members') | ForEach-Object { (New-Object System.Security.Principal.SecurityIdentifier([byte[]]$_.GetType().InvokeMember('objectSid', 'GetProperty', $null, $_, $null), 0)).Value })
  foreach ($s in $sids) { if ($members -contains $s) { $groups[$s] += $g.Name } }
}
$accounts = @{}
foreach ($s in $sids) {
  $u = Get-LocalUser -SID $s -ErrorAction SilentlyContinue
  $accounts[$s] = if ($u) { if ($u.Enabled) { 'enabled' } else { 'disabled' } } elseif ($s -like ('S-1-5-21-*')) { 'absent' } else { $null }
}
$kfm = (Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\OneDrive' -Name KFMSilentOptIn -ErrorAction SilentlyContinue).KFMSilentOptIn
[pscustomobject]@{ profileList = $list; files = $files; hives = $hives; appx = $appx; groups = $groups; kfmTenantId = $kfm; accounts = $accounts }`);
}

/**
 * The compensation: everything the backup recorded goes back — ProfileList keys (reg import, the
 * new SID's key deleted), DACLs (icacls /restore without substitution) and the owner, each hive
 * key's SDDL, the groups the new SID was added to, the RunOnce and first-logon files, the OneDrive
 * policy, and robocopy's new files (the "New File" lines of its log).
 */
export function restoreScript(backupId: string): string {
  return script(psCommand`$dir = Get-BackupDir ${backupId}
$manifestFile = Join-Path $dir 'manifest.json'
if (-not (Test-Path -LiteralPath $manifestFile)) { throw [System.ArgumentException]::new('no backup at ' + $dir) }
$m = Get-Content -LiteralPath $manifestFile -Raw | ConvertFrom-Json
foreach ($f in $m.files.PSObject.Properties) {
  if ((Get-FileHash -LiteralPath (Join-Path $dir $f.Name) -Algorithm SHA256).Hash.ToLowerInvariant() -ne $f.Value) { throw [System.ArgumentException]::new('backup file changed: ' + $f.Name) }
}
$restored = @()
$targetKey = 'Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\' + $m.targetSid
if (-not $m.profileListKeys.target -and (Test-Path $targetKey)) { Invoke-Native 'reg.exe' @('delete', ($profileList + '\\' + $m.targetSid), '/f') | Out-Null; $restored += 'ProfileList\\' + $m.targetSid }
foreach ($side in @('source', 'target')) {
  if ($m.profileListKeys.$side) { Invoke-Native 'reg.exe' @('import', (Join-Path $dir ('profilelist-' + $side + '.reg'))) | Out-Null; $restored += 'ProfileList (' + $side + ')' }
}
Invoke-Native 'icacls.exe' @((Split-Path -Path $m.profilePath -Parent), '/restore', (Join-Path $dir 'profile.acl'), '/c', '/q') 1 | Out-Null
Invoke-Native 'icacls.exe' @($m.profilePath, '/setowner', ('*' + $m.owner), '/t', '/c', '/q') 1 | Out-Null
$restored += 'ACLs under ' + $m.profilePath
$i = 0
foreach ($h in $hiveFiles) {
  $i++
  $saved = $m.hives.$h
  if (-not $saved) { continue }
  $sddl = Get-Content -LiteralPath (Join-Path $dir $saved) -Raw | ConvertFrom-Json
  $tag = 'Drydock_restore_' + $i
  $root = Mount-Hive (Join-Path $m.profilePath $h) $tag
  try {
    foreach ($entry in $sddl.PSObject.Properties) {
      $path = if ($entry.Name -eq '') { $root } else { $root + '\\' + $entry.Name }
      if (-not (Test-Path $path)) { continue }
      $a = Get-Acl -Path $path
      if ($a.Sddl -ne $entry.Value) { $a.SetSecurityDescriptorSddlForm($entry.Value); Set-Acl -Path $path -AclObject $a }
    }
  } finally { Dismount-Hive $tag }
  $restored += 'hive ' + $h
}
foreach ($g in Get-CimInstance -ClassName Win32_Group -Filter 'LocalAccount = TRUE') {
  if (@($m.targetGroups) -contains $g.Name) { continue }
  $adsi = [ADSI]('WinNT://' + $env:COMPUTERNAME + '/' + $g.Name + ',group')
  $members = @($adsi.Invoke('Members') | ForEach-Object { (New-Object System.Security.Principal.SecurityIdentifier([byte[]]$_.GetType().InvokeMember('objectSid', 'GetProperty', $null, $_, $null), 0)).Value })
  if ($members -contains $m.targetSid) { $adsi.Remove('WinNT://' + $m.targetSid); $restored += 'group ' + $g.Name }
}
$firstLogon = Join-Path $m.profilePath 'AppData\\Local\\Drydock'
if (Test-Path -LiteralPath $firstLogon) { Remove-Item -LiteralPath $firstLogon -Recurse -Force; $restored += 'first-logon repair' }
if (Test-Path -LiteralPath (Join-Path $dir 'onedrive.reg')) { Invoke-Native 'reg.exe' @('import', (Join-Path $dir 'onedrive.reg')) | Out-Null }
elseif (Test-Path 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\OneDrive') { foreach ($n in @('KFMSilentOptIn', 'KFMSilentOptInWithNotification', 'SilentAccountConfig')) { Remove-ItemProperty -Path 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\OneDrive' -Name $n -ErrorAction SilentlyContinue } }
$log = Join-Path $dir 'robocopy.log'
if (Test-Path -LiteralPath $log) {
  foreach ($line in Get-Content -LiteralPath $log -Encoding Unicode) {
    if ($line -match '^\\s*New File\\s+\\S+\\s+(.+)$') {
      $copy = Join-Path $m.targetProfilePath ($Matches[1].Substring($m.profilePath.Length).TrimStart('\\'))
      if (Test-Path -LiteralPath $copy) { Remove-Item -LiteralPath $copy -Force }
    }
  }
  Remove-Item -LiteralPath $log -Force
  $restored += 'robocopy copies'
}
,$restored`);
}

export function retireAccountScript(sid: string, action: 'disable' | 'delete'): string {
  return script(psCommand`$sid = ${sid}
$action = ${action}
$u = Get-LocalUser -SID $sid -ErrorAction SilentlyContinue
if (-not $u) {
  if ($sid -notlike 'S-1-5-21-*' -or $action -eq 'disable') { throw [System.ArgumentException]::new($sid + ' is not a local account here: disable it in its directory') }
  return $false
}
if ($action -eq 'disable') { if (-not $u.Enabled) { return $false }; Disable-LocalUser -SID $sid; return $true }
Remove-LocalUser -SID $sid
$true`);
}
