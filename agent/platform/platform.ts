import type { MigrationTarget } from '../../infra/wire/agent-steps';

export type { MigrationTarget };

/**
 * What the agent needs from the machine it runs on. Two implementations: `windows/` (PowerShell,
 * registry, services, DPAPI — for real Windows) and `simulated/` (a persisted simulated Windows
 * host for the harness, dev mode and tests; it says so in every answer that could be mistaken).
 */
export interface HardwareFacts {
  /** SMBIOS system UUID (Win32_ComputerSystemProduct.UUID). */
  smbiosUuid?: string;
  /** System serial number (Win32_BIOS.SerialNumber). */
  systemSerial?: string;
  /** Baseboard serial (Win32_BaseBoard.SerialNumber). */
  baseboardSerial?: string;
  /** Serials of fixed disks (Win32_DiskDrive.SerialNumber), in a stable order. */
  diskSerials?: string[];
  /** HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid: changes on every OS install. */
  machineGuid?: string;
  /** Physical network adapters' MAC addresses, upper-case, colon-separated. */
  macs?: string[];
  manufacturer?: string;
  model?: string;
}

export interface OsInfo {
  name: string;
  version: string;
  build: string;
}

export interface InventorySummary {
  hostname: string;
  os: OsInfo;
  manufacturer?: string;
  model?: string;
  serial?: string;
  cpu?: string;
  memoryMb?: number;
  disks?: { name: string; sizeGb: number; freeGb: number }[];
  domain?: string | null;
}

export interface StepContext {
  /** Stable across redeliveries of the same step: use it to make side effects happen once. */
  idempotencyKey: string;
  /** Report progress (0–100) and a short message; becomes a Temporal activity heartbeat. */
  progress(percent: number, message: string): Promise<void>;
  /** A timed, authenticated round trip to the API (preflight's network check). */
  checkApi(): Promise<{ ok: boolean; ms: number; detail: string }>;
  signal: AbortSignal;
  /**
   * The site's domain credential the API resolved into this task's claim (a gateway's step that
   * names `credentialRef`): in memory for this step only, never journaled or logged (ADR 0026).
   */
  credential?: { domain: string; user: string; password: string };
  /**
   * Secrets this agent process sealed for escrow and has not applied yet (agent/steps/escrow.ts):
   * memory only, so a restart forgets them and the apply step refuses rather than guess.
   */
  pendingSecrets?: import('../steps/escrow').PendingSecrets;
  /** A `winrm.install` step's one-time installer link, from the claim: in memory only (ADR 0043). */
  installerUrl?: string;
}

/** A failure of the machine's own API that says whether running the step again can help. */
export class PlatformError extends Error {
  override name = 'PlatformError';
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** A failure the step classifies itself: retryable (transient) or permanent. */
export class StepError extends Error {
  override name = 'StepError';
  constructor(
    readonly type: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface PreflightFacts {
  /** null: no battery (a desktop), which counts as on AC power. */
  onAcPower: boolean | null;
  /** Free space on the system drive. */
  freeDiskGb: number;
  tpm: { present: boolean; ready: boolean; version: string | null };
  /** null: legacy BIOS (no UEFI), so no Secure Boot. */
  secureBoot: boolean | null;
  osBuild: number;
}

export interface ComputerName {
  /** The name in effect now. */
  active: string;
  /** The name after the next reboot (equal to `active` when no rename is pending). */
  pending: string;
  /** The AD domain the machine is joined to, or null (workgroup). */
  domain?: string | null;
}

/** What decides whether a tweak applies here. */
export interface MachineFacts {
  /** HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\EditionID, e.g. Professional, Enterprise, EnterpriseS. */
  editionId: string;
  build: number;
  /** A battery is present (laptop, tablet): Modern Standby relies on hibernation there. */
  hasBattery: boolean;
}

/** winget as the agent will run it, or why it cannot run (a permanent condition of the machine). */
export type WingetReadiness =
  { ok: true; path: string; version: string; runtime: string } | { ok: false; reason: string };

/** A value in one place a registry path reaches: HKLM/HKU as it is, or for HKCU `default` and each loaded user's SID. */
export type RegistryTargetValue = { kind: string; value: RegistryData } | null;
export type RegistrySnapshot = Record<string, RegistryTargetValue>;

export interface RegistryApplyItem {
  path: string;
  name: string;
  type: 'DWord' | 'String';
  value: RegistryData;
  /** The tweak it belongs to: its previous value is recorded under it the first time (for undo). */
  tweak: string;
}
export interface RegistryApplyOutcome {
  changed: boolean;
  /** This value could not be set; the others were still tried. */
  error?: { message: string; permanent: boolean };
}

/** What the machine had before Drydock changed it: kept on the machine until undone. */
export interface TweakRecord {
  /** `registry:<path>\<name>` or `action:<action>`. */
  key: string;
  tweak: string;
  before: RegistrySnapshot | { hibernation: boolean };
}

export interface InternationalSettings {
  /** Regional formats (user locale), e.g. en-GB. */
  formats: string;
  /** Default input method, e.g. 0409:00000409. */
  keyboard: string;
  /** Home location GeoID. */
  homeLocation: number;
}

export interface LocaleState {
  timeZone: string;
  /** System locale, e.g. en-US. */
  locale: string;
  /** Input locales of the default user, e.g. 0409:00000409. */
  keyboards: string[];
  /** What a user signing in for the first time gets (the default user profile). */
  newUser?: { formats: string | null; keyboards: string[]; homeLocation: number | null };
}

export interface AutopilotHash {
  serial: string;
  productId: string | null;
  /** Base64 of MDM_DevDetail_Ext01.DeviceHardwareData (the 4K hardware hash). */
  hardwareHash: string;
}

export type RegistryData = string | number;

/** What a profile migration's preconditions read on the machine (the step judges them). */
export interface ProfileFacts {
  /** The profile to move, or null when the source resolves to no profile here. */
  source: { sid: string; profilePath: string; loaded: boolean; sizeMb: number } | null;
  /** The new owner: its SID when it resolves (null: unknown here), and its own profile if it has one. */
  target: { sid: string | null; detail: string; profilePath: string | null };
  /** The Entra ID tenant the machine is joined to (dsregcmd AzureAdJoined), or null. */
  entraTenantId: string | null;
  freeDiskGb: number;
  pendingReboot: string[];
}

export interface ProfileBackupRequest {
  backupId: string;
  mode: 'in-place' | 'copy' | 'cloud';
  sourceSid: string;
  targetSid: string;
  profilePath: string;
  targetProfilePath?: string;
}

/** The profile state a migration changes, as verification and the tests read it. */
export interface ProfileSnapshot {
  /** ProfileList entries by SID (null: no entry). */
  profileList: Record<string, { profileImagePath: string } | null>;
  /** A sample of the profile's files (up to 50): owner and the SIDs their ACL names. */
  files: { path: string; owner: string; sids: string[] }[];
  /** Each hive's root key ACL (NTUSER.DAT, UsrClass.dat): the SIDs it names. */
  hives: { path: string; sids: string[] }[];
  /** AppX packages registered per SID. */
  appx: Record<string, string[]>;
  /** Local groups each SID is a member of. */
  groups: Record<string, string[]>;
  /** HKLM\SOFTWARE\Policies\Microsoft\OneDrive KFMSilentOptIn, or null. */
  kfmTenantId: string | null;
  /** Accounts' state: enabled, disabled or absent (local accounts only; null for others). */
  accounts: Record<string, 'enabled' | 'disabled' | 'absent' | null>;
}

export interface RobocopyRequest {
  backupId: string;
  sourcePath: string;
  targetPath: string;
  targetSid: string;
  excludeDirs: string[];
}

export interface Platform {
  /** 'windows' or 'simulated'. */
  readonly kind: 'windows' | 'simulated';
  hardwareFacts(): Promise<HardwareFacts>;
  hostname(): Promise<string>;
  osInfo(): Promise<OsInfo>;
  /** Changes on every boot (Windows: last boot-up time; simulated: a fresh id per simulated boot). */
  bootId(): Promise<string>;
  uptimeSeconds(): Promise<number>;
  inventory(): Promise<InventorySummary>;
  /** Protects a secret for this machine only (Windows: DPAPI LocalMachine in a SYSTEM-only file). */
  saveProtected(name: string, value: string): Promise<void>;
  loadProtected(name: string): Promise<string | null>;
  deleteProtected(name: string): Promise<void>;

  // --- Provisioning (each step checks with the reader, then acts with the writer) ---
  preflightFacts(): Promise<PreflightFacts>;
  computerName(): Promise<ComputerName>;
  /** Sets the name for the next boot (Rename-Computer, no restart). */
  renameComputer(name: string): Promise<void>;
  /** The installed version of a winget package, or null when it is not installed. */
  wingetInstalledVersion(id: string): Promise<string | null>;
  /** Finds winget for SYSTEM (signed by Microsoft, new enough, its runtime reachable) and checks it starts. */
  wingetReady(): Promise<WingetReadiness>;
  /** Runs `winget install` for one package id; returns winget's exit code (see agent/steps/winget-codes.ts). */
  wingetInstall(
    id: string,
    version: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ exitCode: number; output: string }>;
  /** Downloads to a local file and returns its SHA-256 (hex, lower-case), computed while writing. */
  download(url: string, signal: AbortSignal): Promise<{ file: string; sha256: string }>;
  /**
   * Runs a downloaded installer with its arguments and returns its exit code; refuses to run it
   * unless the file it opens has `sha256`. Waits for the installer itself, not for programs it
   * starts; a timeout or `signal` ends the installer and everything it started.
   */
  runInstaller(file: string, args: string[], sha256: string, signal?: AbortSignal): Promise<number>;
  /** Windows' pending-restart indicators that are set now (empty: none). */
  pendingReboot(): Promise<string[]>;
  machineFacts(): Promise<MachineFacts>;
  /**
   * Sets many values at once (the default user hive is loaded once): for each, records what every
   * target had before (first time only), then writes where it differs. One failure does not stop the others.
   */
  applyRegistry(items: RegistryApplyItem[]): Promise<RegistryApplyOutcome[]>;
  /** Reads many values at once; HKCU: the default user profile (what a new user gets). */
  readRegistry(items: { path: string; name: string }[]): Promise<(RegistryData | null)[]>;
  /** Takes a tweak action; `hibernation-off` records the previous state first. Returns whether it changed anything. */
  applyTweakAction(action: 'restore-point' | 'hibernation-off', tweak: string): Promise<boolean>;
  /** Every record of what the machine had before a tweak changed it. */
  tweakRecords(): Promise<TweakRecord[]>;
  /** Puts each record's values back (deleting values that were absent), then drops the record. */
  restoreTweakRecords(keys: string[]): Promise<{ key: string; error?: string }[]>;
  /** HKLM:/HKCU: paths as PowerShell writes them; HKCU means the default user profile and every existing one. */
  registryRead(path: string, name: string): Promise<RegistryData | null>;
  registryWrite(path: string, name: string, type: 'DWord' | 'String', value: RegistryData): Promise<void>;
  localeState(): Promise<LocaleState>;
  setTimeZone(id: string): Promise<void>;
  setLocale(tag: string): Promise<void>;
  /** Formats, keyboard and home location, for the welcome screen and every new user (Windows 10 and 11). */
  setInternational(settings: InternationalSettings): Promise<void>;
  /** Names (SSIDs) of the machine's Wi-Fi profiles. */
  wifiProfiles(): Promise<string[]>;
  /** Whether the machine has a Wi-Fi adapter (WLAN AutoConfig has something to configure). */
  wifiAdapterPresent(): Promise<boolean>;
  addWifiProfile(network: WifiNetworkSpec): Promise<void>;
  autopilotHash(): Promise<AutopilotHash>;
  /**
   * Sets a local account's password (escrow has stored it first); creates the account as a member of
   * Administrators when `create` and it is absent. The password never reaches a command line or a log.
   */
  setLocalAdminPassword(
    account: string,
    password: string,
    options: { create: boolean },
  ): Promise<{ created: boolean }>;
  /** A volume's BitLocker state and key protectors (Get-BitLockerVolume). */
  bitlockerVolume(mountPoint: string): Promise<BitLockerVolumeState>;
  /**
   * Adds a recovery-password protector holding `password` (escrow has stored it first); its id.
   * The password never reaches a command line, a cmdlet parameter or a log.
   */
  addRecoveryPasswordProtector(mountPoint: string, password: string): Promise<{ protectorId: string }>;
  removeKeyProtector(mountPoint: string, protectorId: string): Promise<void>;
  /** Starts encryption with the TPM protector (the recovery password is already on the volume). */
  enableBitLockerTpm(
    mountPoint: string,
    options: { encryptionMethod: 'XtsAes128' | 'XtsAes256'; usedSpaceOnly: boolean },
  ): Promise<void>;
  /** Restarts the machine shortly (Windows: shutdown.exe /r /t 10); the agent stops with it. */
  restart(reason: string): Promise<void>;

  // --- Join (issue 16, ADR 0048) ---
  /** Domain membership, names, the computer's DN and the Entra join as Windows reports them. */
  joinState(): Promise<JoinState>;
  /**
   * Add-Computer with the credential (the password in memory only: never on a command line, in a
   * script or a log). Throws a PlatformError carrying Windows' message (never the password).
   */
  joinDomain(request: DomainJoinRequest, credential: { user: string; password: string }): Promise<void>;
  /** Install-ProvisioningPackage of a downloaded .ppkg, refused unless the file has `sha256`. */
  installProvisioningPackage(file: string, sha256: string): Promise<void>;

  // --- Profile migration (issue 17; docs/migration.md). Each call is idempotent: run twice, it finds its work done. ---
  /** Resolves the source (SID or name) and the target (local, domain through the machine's own domain, Entra). */
  profileFacts(source: string, target: MigrationTarget): Promise<ProfileFacts>;
  /** Tells the user's sessions to sign out (msg.exe); returns how many sessions were told. */
  notifyUser(sid: string, message: string, seconds: number): Promise<number>;
  /** Saves what the migration will change (ProfileList keys, icacls /save, hive ACLs, groups) on the machine; once per id. */
  backupProfile(
    request: ProfileBackupRequest,
  ): Promise<{ checksum: string; location: string; created: boolean }>;
  /** The checksum of a backup kept on the machine, or null when there is none. */
  backupChecksum(backupId: string): Promise<string | null>;
  /** Moves the ProfileList entry to the new SID (its values, the binary Sid); false when it was done already. */
  moveProfileListEntry(sourceSid: string, targetSid: string): Promise<boolean>;
  /** Rewrites the profile tree's ACL entries and owner from the old SID to the new one (icacls /substitute, /setowner). */
  substituteProfileAcl(
    backupId: string,
    profilePath: string,
    sourceSid: string,
    targetSid: string,
  ): Promise<boolean>;
  /** Loads both hives, rewrites their keys' ACL entries old → new, unloads them. */
  substituteHiveAcls(profilePath: string, sourceSid: string, targetSid: string): Promise<boolean>;
  /** Adds the new SID to every local group the old one is in; returns the groups it was added to. */
  copyGroupMemberships(sourceSid: string, targetSid: string): Promise<string[]>;
  /** Copies the profile's folders with robocopy (restartable, resumes), ACLs inherited from the target profile. */
  robocopyProfile(
    request: RobocopyRequest,
  ): Promise<{ exitCode: number; copied: number; skipped: number; resumed: boolean; log: string }>;
  /** Sets the OneDrive Known Folder Move policy (silent opt-in for the tenant); returns the values it changed. */
  setKnownFolderMove(tenantId: string, notifyUser: boolean): Promise<string[]>;
  /** Prepares the new SID's first sign-in: AppX re-registration, Start/Search cache reset; lists what cannot move. */
  prepareFirstLogon(
    sourceSid: string,
    targetSid: string,
    profilePath: string,
  ): Promise<{ appx: string[]; caches: string[]; notMovable: { item: string; reason: string }[] }>;
  /** The state verification compares (and the tests check item by item). */
  profileSnapshot(sids: string[], paths: string[]): Promise<ProfileSnapshot>;
  /** Puts back everything a backup recorded; returns what it put back. Fails when the backup is missing. */
  restoreProfileBackup(backupId: string): Promise<string[]>;
  /** Disables or deletes a local account; false when it already is. */
  retireAccount(sid: string, action: 'disable' | 'delete'): Promise<boolean>;

  /**
   * Optional hook: told as a step starts to run here, by its kind and idempotency key — after its payload
   * was checked, and only when it really runs (the journal answers a finished step's redelivery
   * without running it). The simulated host counts executions with it (the tests' proof that
   * nothing ran twice); the steps themselves know nothing of the platform they run on.
   */
  stepStarted?(idempotencyKey: string, kind: string): void;
}

export interface JoinState {
  /** The name in effect now, and after the next restart. */
  active: string;
  pending: string;
  /** The AD domain (DNS name) the machine is a member of, or null (workgroup). */
  domain: string | null;
  /** A join waits for its restart (Netlogon's JoinDomain key). */
  joinPending: boolean;
  /** The computer object's DN in AD, once a member after the restart (null: not a member, or unreadable). */
  distinguishedName: string | null;
  /** dsregcmd /status: AzureAdJoined : YES, and the tenant's name. */
  entraJoined: boolean;
  tenantName: string | null;
}

export interface DomainJoinRequest {
  domain: string;
  ouPath?: string;
  server?: string;
  /** Rename while joining (Add-Computer -NewName). */
  newName?: string;
  /** A rename waits for its restart: join under it (-Options JoinWithNewName). */
  renamePending?: boolean;
}

export interface BitLockerVolumeState {
  /** As Windows names it: FullyDecrypted, EncryptionInProgress, FullyEncrypted, DecryptionInProgress, … */
  volumeStatus: string;
  /** On or Off. */
  protectionStatus: string;
  encryptionPercentage: number;
  /** Key protectors: braced GUID ids and their type (Tpm, RecoveryPassword, …). */
  protectors: { id: string; type: string }[];
}

export interface WifiNetworkSpec {
  ssid: string;
  authentication: 'open' | 'wpa2-enterprise' | 'wpa3-enterprise';
  autoConnect: boolean;
  radius?: { serverNames: string[]; trustedRootCaThumbprints: string[] };
}
