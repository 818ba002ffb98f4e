import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { fetch as undiciFetch } from 'undici';
import { describeExit, WingetCode } from '../../steps/winget-codes';
import type {
  AutopilotHash,
  ComputerName,
  HardwareFacts,
  InternationalSettings,
  InventorySummary,
  LocaleState,
  MachineFacts,
  MigrationTarget,
  OsInfo,
  ProfileBackupRequest,
  ProfileFacts,
  ProfileSnapshot,
  RobocopyRequest,
  Platform,
  PreflightFacts,
  RegistryApplyItem,
  RegistryApplyOutcome,
  RegistryData,
  TweakRecord,
  WifiNetworkSpec,
  BitLockerVolumeState,
  DomainJoinRequest,
  JoinState,
  WingetReadiness,
} from '../platform';
import { DownloadNetwork, parseWinHttpProxy, systemTrust, WINHTTP_PROXY } from './download-network';
import { installProvisioningPackageScript, JOIN_STATE, joinDomainScript } from './join-scripts';
import {
  firstLine,
  parseScriptError,
  PowerShellError,
  psCommand,
  runPowerShell,
  runPowerShellJson,
  type PsRunner,
  type PsRunOptions,
} from './powershell';
import {
  addWifiProfileScript,
  setLocalAdminPasswordScript,
  addRecoveryPasswordScript,
  bitlockerVolumeScript,
  enableBitLockerScript,
  removeKeyProtectorScript,
  AUTOPILOT,
  COMPUTER_NAME,
  installerScript,
  LOCALE_STATE,
  outputTail,
  parseWingetListVersion,
  PREFLIGHT,
  registryReadScript,
  registryWriteScript,
  renameComputerScript,
  restartScript,
  setInternationalScript,
  WINGET_READY,
  PENDING_REBOOT,
  MACHINE_FACTS,
  applyRegistryScript,
  readRegistryScript,
  tweakActionScript,
  TWEAK_RECORDS,
  restoreTweakRecordsScript,
  WIFI_ADAPTER,
  setLocaleScript,
  setTimeZoneScript,
  WIFI_PROFILES,
  type BatchScript,
  wingetInstallScript,
  wingetListScript,
} from './provisioning-scripts';
import {
  backupChecksumScript,
  backupScript,
  copyGroupsScript,
  firstLogonScript,
  knownFolderMoveScript,
  moveProfileListScript,
  notifyUserScript,
  profileFactsScript,
  profileSnapshotScript,
  restoreScript,
  retireAccountScript,
  robocopyScript,
  substituteAclScript,
  substituteHiveAclScript,
} from './profile-scripts';

export interface WindowsPlatformOptions {
  /** Where DPAPI-protected secrets live. Default `C:\ProgramData\Drydock\secrets`. */
  secretsDir?: string;
  /** Where download() puts files. Default `C:\ProgramData\Drydock\downloads`. */
  downloadsDir?: string;
  /** Runs one PowerShell script; tests pass a fake to inspect the scripts. */
  run?: PsRunner;
}

const MINUTE = 60_000;

/**
 * The agent's view of a real Windows machine, through Windows PowerShell 5.1 (present on every
 * supported Windows) and CIM. Written for Windows; on Linux only its scripts and parsing are tested.
 */
export class WindowsPlatform implements Platform {
  readonly kind = 'windows' as const;
  private readonly secretsDir: string;
  private readonly downloadsDir: string;
  private readonly run: PsRunner;
  private downloadsReady: Promise<void> | undefined;

  constructor(options: WindowsPlatformOptions = {}) {
    this.secretsDir = options.secretsDir ?? 'C:\\ProgramData\\Drydock\\secrets';
    if (!/^[A-Za-z]:\\/.test(this.secretsDir)) {
      throw new Error('secretsDir must be an absolute path on a local drive');
    }
    this.downloadsDir = options.downloadsDir ?? 'C:\\ProgramData\\Drydock\\downloads';
    if (!/^[A-Za-z]:\\/.test(this.downloadsDir)) {
      throw new Error('downloadsDir must be an absolute path on a local drive');
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
   * Windows' boot counter (Session Manager\Memory Management\PrefetchParameters BootId, one up on
   * every boot), not the last boot time: Win32_OperatingSystem.LastBootUpTime is computed as "now
   * minus uptime", so it shifts when the clock is corrected (time sync after boot), and the
   * workflow would take that for a reboot. A "shutdown" under Fast Startup is a hibernation and
   * keeps it; a restart (what provisioning does) changes it.
   */
  async bootId(): Promise<string> {
    const raw = await this.json<Record<string, unknown>>(BOOT);
    return parseBootId(raw);
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

  // --- Provisioning (scripts and their reasons: provisioning-scripts.ts) ---

  async preflightFacts(): Promise<PreflightFacts> {
    return parsePreflightFacts(await this.json<Record<string, unknown>>(PREFLIGHT));
  }

  async computerName(): Promise<ComputerName> {
    const raw = await this.json<Record<string, unknown>>(COMPUTER_NAME);
    return {
      active: required(raw.active, 'active computer name'),
      pending: required(raw.pending, 'pending computer name'),
      domain: text(raw.domain) ?? null,
    };
  }

  async renameComputer(name: string): Promise<void> {
    await this.exec(renameComputerScript(name));
  }

  /**
   * Parses `winget list --id <id> --exact`: its exit code says whether the package is installed
   * (0x8A150014: no such package installed), its table gives the version. Not `winget export`,
   * which lists every package to a file to find one, and omits packages it cannot match to a source.
   */
  async wingetInstalledVersion(id: string): Promise<string | null> {
    const result = await this.native(wingetListScript(id), 10 * MINUTE);
    if (result.exitCode === WingetCode.NoApplicationsFound) return null;
    if (result.exitCode !== 0) {
      throw new Error(
        `winget list failed with ${describeExit(result.exitCode)}: ${firstLine(outputTail(result.output))}`,
      );
    }
    const version = parseWingetListVersion(result.output, id);
    if (version === undefined) {
      throw new Error(`winget list reported ${id} but no version could be read from its output`);
    }
    return version;
  }

  async wingetReady(): Promise<WingetReadiness> {
    const raw = await runPowerShellJson<Record<string, unknown>>(
      WINGET_READY,
      { timeoutMs: 5 * MINUTE },
      this.run,
    );
    if (raw?.ok === true)
      return {
        ok: true,
        path: required(raw.path, 'winget path'),
        version: required(raw.version, 'winget version'),
        runtime: required(raw.runtime, 'winget runtime'),
      };
    return { ok: false, reason: text(raw?.reason) ?? 'winget is not available' };
  }

  /**
   * Never throws for winget's own exit code: the caller classifies it (agent/steps/winget-codes.ts).
   * A cancel (signal) kills the PowerShell, and with its job object winget and the installer it ran.
   */
  async wingetInstall(
    id: string,
    version: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ exitCode: number; output: string }> {
    const result = await this.native(wingetInstallScript(id, version), 60 * MINUTE, signal);
    return { exitCode: result.exitCode, output: outputTail(result.output) };
  }

  /**
   * In Node: streamed to disk and hashed on the way (see downloadToFile). The directory is made
   * first, by PowerShell, with an ACL for SYSTEM and Administrators only (like the secrets
   * directory): the agent runs these files as SYSTEM, and ProgramData lets every user create files,
   * so an inherited ACL would let a user swap an installer between its hash check and its run.
   */
  async download(url: string, signal: AbortSignal): Promise<{ file: string; sha256: string }> {
    checkDownloadUrl(url, false);
    this.downloadsReady ??= this.exec(
      restrictedDirScript(this.downloadsDir, 'New-SecretsDir\nAssert-SecretsDir'),
    ).then(
      () => undefined,
      (error: unknown) => {
        this.downloadsReady = undefined;
        throw error;
      },
    );
    await this.downloadsReady;
    // Read for each download (a proxy set by policy may change while the agent runs).
    const network = await this.downloadNetwork();
    try {
      return await downloadToFile(url, this.downloadsDir, { signal, network });
    } finally {
      await network.close();
    }
  }

  /** The machine's WinHTTP proxy and the Windows certificate store, as downloads use them. */
  async downloadNetwork(): Promise<DownloadNetwork> {
    const proxy = parseWinHttpProxy((await this.json<Record<string, unknown> | null>(WINHTTP_PROXY)) ?? {});
    return new DownloadNetwork(proxy, systemTrust());
  }

  async runInstaller(file: string, args: string[], sha256: string, signal?: AbortSignal): Promise<number> {
    const raw = await runPowerShellJson<Record<string, unknown>>(
      installerScript(file, args, sha256),
      { timeoutMs: 60 * MINUTE, ...(signal ? { signal } : {}) },
      this.run,
    );
    const exitCode = num(raw?.exitCode);
    if (exitCode === undefined) throw new Error('the installer ended without an exit code');
    return exitCode | 0;
  }

  async registryRead(keyPath: string, name: string): Promise<RegistryData | null> {
    const raw = await runPowerShellJson<unknown>(
      registryReadScript(keyPath, name),
      { timeoutMs: 2 * MINUTE },
      this.run,
    );
    return parseRegistryValue(raw);
  }

  async registryWrite(
    keyPath: string,
    name: string,
    type: 'DWord' | 'String',
    value: RegistryData,
  ): Promise<void> {
    await this.exec(registryWriteScript(keyPath, name, type, value), { timeoutMs: 2 * MINUTE });
  }

  async pendingReboot(): Promise<string[]> {
    return list(await this.json<unknown>(PENDING_REBOOT)).filter((r): r is string => typeof r === 'string');
  }

  async machineFacts(): Promise<MachineFacts> {
    const raw = await this.json<Record<string, unknown>>(MACHINE_FACTS);
    const build = Number(text(raw.build));
    if (!Number.isInteger(build)) throw new Error('Windows reported no build number');
    return {
      editionId: required(raw.editionId, 'EditionID'),
      build,
      hasBattery: (num(raw.batteries) ?? 0) > 0,
    };
  }

  /** One script for all values: the default user hive is loaded once per step, not once per value. */
  async applyRegistry(items: RegistryApplyItem[]): Promise<RegistryApplyOutcome[]> {
    if (items.length === 0) return [];
    const raw = list(await this.batch(applyRegistryScript(items), 5 * MINUTE)) as Record<string, unknown>[];
    return items.map((_, i) => {
      const o = raw.find((r) => r?.i === i);
      if (!o) return { changed: false, error: { message: 'no answer for this value', permanent: false } };
      return typeof o.error === 'string'
        ? { changed: false, error: { message: o.error, permanent: o.permanent === true } }
        : { changed: o.changed === true };
    });
  }

  async readRegistry(items: { path: string; name: string }[]): Promise<(RegistryData | null)[]> {
    if (items.length === 0) return [];
    const raw = list(await this.batch(readRegistryScript(items), 5 * MINUTE)) as Record<string, unknown>[];
    return items.map((_, i) => {
      const o = raw.find((r) => r?.i === i);
      return o && o.kind !== 'absent' ? parseRegistryValue(o) : null;
    });
  }

  async applyTweakAction(action: 'restore-point' | 'hibernation-off', tweak: string): Promise<boolean> {
    const raw = await runPowerShellJson<Record<string, unknown>>(
      tweakActionScript(action, tweak),
      { timeoutMs: 10 * MINUTE },
      this.run,
    );
    return raw?.changed === true;
  }

  async tweakRecords(): Promise<TweakRecord[]> {
    return list(await this.json<unknown>(TWEAK_RECORDS)).flatMap((t) => {
      try {
        const record = JSON.parse(String(t)) as TweakRecord;
        return typeof record.key === 'string' && typeof record.tweak === 'string' ? [record] : [];
      } catch {
        return [];
      }
    });
  }

  async restoreTweakRecords(keys: string[]): Promise<{ key: string; error?: string }[]> {
    const raw = list(await this.batch(restoreTweakRecordsScript(keys), 10 * MINUTE)) as Record<
      string,
      unknown
    >[];
    return keys.map((key) => {
      const o = raw.find((r) => r?.key === key);
      if (!o) return { key, error: 'no answer for this record' };
      return typeof o.error === 'string' ? { key, error: o.error } : { key };
    });
  }

  async localeState(): Promise<LocaleState> {
    return parseLocaleState(await this.json<Record<string, unknown>>(LOCALE_STATE));
  }

  async setTimeZone(id: string): Promise<void> {
    await this.exec(setTimeZoneScript(id));
  }

  async setLocale(tag: string): Promise<void> {
    await this.exec(setLocaleScript(tag));
  }

  /** Language list changes can take a while (Windows may fetch language features). */
  async setInternational(settings: InternationalSettings): Promise<void> {
    await this.exec(setInternationalScript(settings), { timeoutMs: 5 * MINUTE });
  }

  async wifiAdapterPresent(): Promise<boolean> {
    return (await this.json<unknown>(WIFI_ADAPTER)) === true;
  }

  /** Names as Windows stores them: not trimmed (an SSID may begin or end with a space). */
  async wifiProfiles(): Promise<string[]> {
    const names = list(await this.json<unknown>(WIFI_PROFILES));
    return [...new Set(names.filter((n): n is string => typeof n === 'string' && n !== ''))];
  }

  async bitlockerVolume(mountPoint: string): Promise<BitLockerVolumeState> {
    const raw = await this.json<Record<string, unknown>>(bitlockerVolumeScript(mountPoint));
    const list = raw.protectors === null || raw.protectors === undefined ? [] : [raw.protectors].flat();
    return {
      volumeStatus: String(raw.volumeStatus ?? ''),
      protectionStatus: String(raw.protectionStatus ?? ''),
      encryptionPercentage: Number(raw.encryptionPercentage ?? 0),
      protectors: (list as { id?: unknown; type?: unknown }[]).map((p) => ({
        id: String(p.id ?? ''),
        type: String(p.type ?? ''),
      })),
    };
  }

  /** See addRecoveryPasswordScript: the password travels on stdin and meets only .NET. */
  async addRecoveryPasswordProtector(mountPoint: string, password: string): Promise<{ protectorId: string }> {
    const out = await this.exec(addRecoveryPasswordScript(mountPoint), {
      stdin: Buffer.from(password, 'ascii').toString('base64'),
    });
    const { protectorId } = JSON.parse(out.trim()) as { protectorId?: unknown };
    if (typeof protectorId !== 'string' || !/^\{[0-9A-Fa-f-]{36}\}$/.test(protectorId))
      throw new Error('unexpected output from adding a recovery password protector');
    return { protectorId };
  }

  async removeKeyProtector(mountPoint: string, protectorId: string): Promise<void> {
    await this.exec(removeKeyProtectorScript(mountPoint, protectorId));
  }

  async enableBitLockerTpm(
    mountPoint: string,
    options: { encryptionMethod: 'XtsAes128' | 'XtsAes256'; usedSpaceOnly: boolean },
  ): Promise<void> {
    await this.exec(enableBitLockerScript(mountPoint, options), { timeoutMs: 300_000 });
  }

  /** See setLocalAdminPasswordScript: the password travels on stdin, as saveProtected's secrets do. */
  async setLocalAdminPassword(
    account: string,
    password: string,
    options: { create: boolean },
  ): Promise<{ created: boolean }> {
    const out = await this.exec(setLocalAdminPasswordScript(account, options.create), {
      stdin: Buffer.from(password, 'utf8').toString('base64'),
    });
    const parsed = JSON.parse(out.trim()) as { created?: unknown };
    return { created: parsed.created === true };
  }

  async addWifiProfile(network: WifiNetworkSpec): Promise<void> {
    await this.exec(addWifiProfileScript(network));
  }

  async autopilotHash(): Promise<AutopilotHash> {
    return parseAutopilotHash(await this.json<Record<string, unknown>>(AUTOPILOT));
  }

  async restart(reason: string): Promise<void> {
    await this.exec(restartScript(reason));
  }

  // --- Join (scripts and their reasons: join-scripts.ts) ---

  async joinState(): Promise<JoinState> {
    const raw = await this.json<Record<string, unknown>>(JOIN_STATE);
    return {
      active: required(raw.active, 'active computer name'),
      pending: required(raw.pending, 'pending computer name'),
      domain: text(raw.domain) ?? null,
      joinPending: raw.joinPending === true,
      distinguishedName: text(raw.distinguishedName) ?? null,
      entraJoined: raw.entraJoined === true,
      tenantName: text(raw.tenantName) ?? null,
    };
  }

  /** See joinDomainScript: the password travels on stdin and meets only .NET and a PSCredential. */
  async joinDomain(
    request: DomainJoinRequest,
    credential: { user: string; password: string },
  ): Promise<void> {
    await this.exec(joinDomainScript({ ...request, user: credential.user }), {
      stdin: Buffer.from(credential.password, 'utf8').toString('base64'),
      timeoutMs: 300_000,
    });
  }

  async installProvisioningPackage(file: string, sha256: string): Promise<void> {
    await this.exec(installProvisioningPackageScript(file, sha256), { timeoutMs: 600_000 });
  }

  private json<T>(script: string, opts: PsRunOptions = {}): Promise<T> {
    return runPowerShellJson<T>(script, opts, this.run);
  }

  // --- Profile migration (profile-scripts.ts; docs/migration.md) ---
  async profileFacts(source: string, target: MigrationTarget): Promise<ProfileFacts> {
    const raw = await this.json<Omit<ProfileFacts, 'pendingReboot'>>(profileFactsScript(source, target), {
      timeoutMs: 10 * MINUTE,
    });
    return { ...raw, pendingReboot: await this.pendingReboot() };
  }
  async notifyUser(sid: string, message: string, seconds: number): Promise<number> {
    return Number(await this.json<number>(notifyUserScript(sid, message, seconds)));
  }
  async backupProfile(request: ProfileBackupRequest) {
    return this.json<{ checksum: string; location: string; created: boolean }>(backupScript(request), {
      timeoutMs: 60 * MINUTE,
    });
  }
  async backupChecksum(backupId: string): Promise<string | null> {
    return this.json<string | null>(backupChecksumScript(backupId));
  }
  async moveProfileListEntry(sourceSid: string, targetSid: string): Promise<boolean> {
    return (await this.json<boolean>(moveProfileListScript(sourceSid, targetSid))) === true;
  }
  async substituteProfileAcl(backupId: string, profilePath: string, sourceSid: string, targetSid: string) {
    return (
      (await this.json<boolean>(substituteAclScript(backupId, profilePath, sourceSid, targetSid), {
        timeoutMs: 60 * MINUTE,
      })) === true
    );
  }
  async substituteHiveAcls(profilePath: string, sourceSid: string, targetSid: string) {
    return (
      (await this.json<boolean>(substituteHiveAclScript(profilePath, sourceSid, targetSid), {
        timeoutMs: 20 * MINUTE,
      })) === true
    );
  }
  async copyGroupMemberships(sourceSid: string, targetSid: string): Promise<string[]> {
    return list(await this.json<unknown>(copyGroupsScript(sourceSid, targetSid))).map(String);
  }
  async robocopyProfile(request: RobocopyRequest) {
    return this.json<{ exitCode: number; copied: number; skipped: number; resumed: boolean; log: string }>(
      robocopyScript(request),
      { timeoutMs: 180 * MINUTE },
    );
  }
  async setKnownFolderMove(tenantId: string, notifyUser: boolean): Promise<string[]> {
    return list(await this.json<unknown>(knownFolderMoveScript(tenantId, notifyUser))).map(String);
  }
  async prepareFirstLogon(sourceSid: string, targetSid: string, profilePath: string) {
    const raw = await this.json<{ appx: unknown; caches: unknown; notMovable: unknown }>(
      firstLogonScript(sourceSid, targetSid, profilePath),
      { timeoutMs: 10 * MINUTE },
    );
    return {
      appx: list(raw.appx).map(String),
      caches: list(raw.caches).map(String),
      notMovable: list(raw.notMovable) as { item: string; reason: string }[],
    };
  }
  async profileSnapshot(sids: string[], paths: string[]): Promise<ProfileSnapshot> {
    const raw = await this.json<ProfileSnapshot>(profileSnapshotScript(sids, paths), {
      timeoutMs: 10 * MINUTE,
    });
    return {
      ...raw,
      files: list(raw.files) as ProfileSnapshot['files'],
      hives: list(raw.hives) as ProfileSnapshot['hives'],
    };
  }
  async restoreProfileBackup(backupId: string): Promise<string[]> {
    return list(await this.json<unknown>(restoreScript(backupId), { timeoutMs: 60 * MINUTE })).map(String);
  }
  async retireAccount(sid: string, action: 'disable' | 'delete'): Promise<boolean> {
    return (await this.json<boolean>(retireAccountScript(sid, action))) === true;
  }

  /** A registry batch: its data on stdin (see readBatch in provisioning-scripts.ts). */
  private batch(batch: BatchScript, timeoutMs: number): Promise<unknown> {
    return runPowerShellJson<unknown>(batch.script, { timeoutMs, stdin: batch.stdin }, this.run);
  }

  /** A script answering a native program's { exitCode, output }. */
  private async native(
    script: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<{ exitCode: number; output: string }> {
    const raw = await runPowerShellJson<Record<string, unknown>>(
      script,
      { timeoutMs, ...(signal ? { signal } : {}) },
      this.run,
    );
    const exitCode = num(raw?.exitCode);
    if (exitCode === undefined) throw new Error('PowerShell reported no exit code for the program it ran');
    return { exitCode: exitCode | 0, output: typeof raw.output === 'string' ? raw.output : '' };
  }

  private async exec(script: string, opts?: PsRunOptions): Promise<string> {
    const result = await this.run(script, opts);
    if (result.exitCode !== 0) throw new PowerShellError(result.exitCode, parseScriptError(result.stderr));
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

// Uptime from the performance counter (QueryPerformanceCounter counts from boot, whatever the clock says).
export const BOOT = String.raw`$prefetch = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', 'Registry64').OpenSubKey('SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management\PrefetchParameters')
try { $bootCount = if ($prefetch) { $prefetch.GetValue('BootId', $null) } else { $null } } finally { if ($prefetch) { $prefetch.Close() } }
[pscustomobject]@{
  bootCount = $bootCount
  uptimeSeconds = [math]::Floor([System.Diagnostics.Stopwatch]::GetTimestamp() / [System.Diagnostics.Stopwatch]::Frequency)
}`;

/** `boot-<n>` from the boot counter; a machine without one cannot tell boots apart safely. */
export function parseBootId(raw: Record<string, unknown>): string {
  const count = num(raw.bootCount);
  if (count === undefined || !Number.isInteger(count))
    throw new Error('Windows reported no boot counter (PrefetchParameters BootId)');
  return `boot-${count >>> 0}`;
}

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
    throw "the directory $dir is not restricted to SYSTEM and Administrators; refusing to use it"
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

/** The secrets directory's creation and check, for another directory (the downloads). */
function restrictedDirScript(dir: string, body: string): string {
  return (
    psCommand`$dir = ${dir}
` +
    SECRETS_FUNCTIONS +
    body
  );
}

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

// --- Provisioning answers ---

/** Win32_Battery.BatteryStatus values that mean mains power: 2 (on AC) and 6–9 (charging). */
const AC_BATTERY_STATUSES = new Set([2, 6, 7, 8, 9]);

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : value == null ? [] : [value]);

export function parsePreflightFacts(raw: Record<string, unknown>): PreflightFacts {
  const statuses = list(raw.batteryStatus).flatMap((s) => num(s) ?? []);
  const online = list(raw.powerOnline).filter((p): p is boolean => typeof p === 'boolean');
  let onAcPower: boolean | null = null;
  if (statuses.length > 0) {
    // PowerOnline (root/wmi) says it directly; BatteryStatus is the fallback where it is missing.
    onAcPower = online.length > 0 ? online.includes(true) : statuses.some((s) => AC_BATTERY_STATUSES.has(s));
  }
  const tpm =
    raw.tpm !== null && typeof raw.tpm === 'object' ? (raw.tpm as Record<string, unknown>) : undefined;
  const build = Number(text(raw.build) ?? num(raw.build));
  if (!Number.isInteger(build) || build <= 0) throw new Error('Windows reported no OS build');
  return {
    onAcPower,
    freeDiskGb: roundTo1(requiredNum(raw.freeBytes, 'free space on the system drive') / GB),
    tpm: tpm
      ? {
          present: true,
          ready: tpm.enabled === true && tpm.activated === true,
          // SpecVersion is "2.0, 0, 1.59": the TPM version, then the revision of the spec.
          version: text(tpm.specVersion)?.split(',')[0]?.trim() || null,
        }
      : { present: false, ready: false, version: null },
    secureBoot: typeof raw.secureBoot === 'boolean' ? raw.secureBoot : null,
    osBuild: build,
  };
}

/** DWORDs come back as .NET's Int32; returned unsigned, as written (0xFFFFFFFF, not -1). */
export function parseRegistryValue(raw: unknown): RegistryData | null {
  if (raw === null || typeof raw !== 'object') return null;
  const { kind, value } = raw as Record<string, unknown>;
  if (kind === 'DWord') return num(value) === undefined ? null : num(value)! >>> 0;
  if (kind === 'QWord') return num(value) ?? null;
  if (kind === 'String' || kind === 'ExpandString' || kind === 'MultiString') {
    return typeof value === 'string' ? value : null;
  }
  return null;
}

export function parseLocaleState(raw: Record<string, unknown>): LocaleState {
  const tips = texts(raw.keyboards).map((tip) => tip.toUpperCase());
  const override = text(raw.override)?.toUpperCase();
  return {
    timeZone: required(raw.timeZone, 'time zone'),
    locale: required(raw.locale, 'system locale'),
    keyboards: [...new Set(override ? [override, ...tips] : tips)],
  };
}

export function parseAutopilotHash(raw: Record<string, unknown>): AutopilotHash {
  const hardwareHash = required(raw.hardwareHash, 'Autopilot hardware hash (MDM_DevDetail_Ext01)');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(hardwareHash))
    throw new Error('the Autopilot hardware hash is not base64');
  return { serial: text(raw.serial) ?? '', productId: text(raw.productId) ?? null, hardwareHash };
}

// --- Downloads ---

export interface DownloadOptions {
  signal?: AbortSignal;
  /** For tests against a local server only: WindowsPlatform.download never sets it. */
  allowHttp?: boolean;
  /** The proxy and trusted certificates (WindowsPlatform: the WinHTTP proxy and the Windows store). */
  network?: DownloadNetwork;
}

/** Redirects a download follows, each hop checked (https only) and routed (proxy or bypass) on its own. */
const MAX_REDIRECTS = 5;

export function checkDownloadUrl(url: string, allowHttp: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('invalid download URL');
  }
  if (parsed.protocol !== 'https:' && !(allowHttp && parsed.protocol === 'http:')) {
    throw new Error('downloads must use https');
  }
  return parsed;
}

const MSI_SIGNATURE = Buffer.from('d0cf11e0a1b11ae1', 'hex'); // an OLE compound file, which an .msi is

/**
 * `<first 12 hex of SHA-256(url)>-<last path segment, reduced to A-Z a-z 0-9 . _ ->`: the same URL
 * lands on the same file, two URLs never do, and the name cannot be a device name (con, nul…).
 */
function downloadFileName(url: URL): string {
  let last = url.pathname.split('/').pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {
    // keep it encoded
  }
  const safe =
    last
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^[._]+/, '')
      .slice(-100) || 'download';
  return `${createHash('sha256').update(url.href).digest('hex').slice(0, 12)}-${safe}`;
}

/** A name without an extension gets the one its content shows, so runInstaller can tell .exe from .msi. */
function extensionFor(name: string, head: Buffer): string {
  if (/\.[A-Za-z0-9]{1,8}$/.test(name)) return '';
  if (head.subarray(0, 2).toString('latin1') === 'MZ') return '.exe';
  if (head.subarray(0, 8).equals(MSI_SIGNATURE)) return '.msi';
  return '';
}

/**
 * Streams a URL's body into `dir`, hashing it on the way (so no second read, and the hash is of
 * exactly the bytes written). Written to a unique `.partial` file created exclusively, and renamed
 * once complete: a failed or aborted download never leaves a file under the final name. Errors name
 * the host only: a signed URL's query string is a credential.
 */
export async function downloadToFile(
  url: string,
  dir: string,
  options: DownloadOptions = {},
): Promise<{ file: string; sha256: string }> {
  const allowHttp = options.allowHttp ?? false;
  const parsed = checkDownloadUrl(url, allowHttp);
  const network = options.network ?? new DownloadNetwork(null, systemTrust());
  let target = parsed;
  let response: Awaited<ReturnType<typeof undiciFetch>> | undefined;
  for (let hop = 0; ; hop++) {
    const { dispatcher, via } = network.route(target);
    try {
      response = await undiciFetch(target, { signal: options.signal, redirect: 'manual', dispatcher });
    } catch (error) {
      // fetch says "fetch failed"; the cause says why (certificate, refused, proxy). Host only: a
      // signed URL's query string is a credential.
      const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new Error(`download from ${target.host} (${via}) failed: ${cause}`);
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || location === null) break;
    await response.body?.cancel();
    if (hop >= MAX_REDIRECTS)
      throw new Error(`download from ${parsed.host}: more than ${MAX_REDIRECTS} redirects`);
    // A redirect must not downgrade to http.
    target = checkDownloadUrl(new URL(location, target).href, allowHttp);
  }
  const where = target.host;
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`download from ${where} failed: HTTP ${response.status}`);
  }
  await mkdir(dir, { recursive: true });
  const base = path.join(dir, downloadFileName(parsed));
  const partial = `${base}.${randomBytes(6).toString('hex')}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  let head = Buffer.alloc(0);
  const hasher = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      if (head.length < 8) head = Buffer.concat([head, chunk.subarray(0, 8 - head.length)]);
      done(null, chunk);
    },
  });
  try {
    const body = Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>);
    await pipeline(body, hasher, createWriteStream(partial, { flags: 'wx' }), { signal: options.signal });
    // fetch decompresses a Content-Encoding, after which Content-Length no longer counts the bytes.
    const length = response.headers.get('content-length');
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    if (length !== null && !encoded && Number(length) !== bytes) {
      throw new Error(`download from ${where} ended after ${bytes} of ${length} bytes`);
    }
    const file = base + extensionFor(base, head);
    await rename(partial, file);
    return { file, sha256: hash.digest('hex') };
  } catch (error) {
    await unlink(partial).catch(() => {});
    throw error;
  }
}
