/**
 * The provisioning steps an agent runs: task kinds, their payloads and their results. Shared by
 * the workflows (which dispatch them), the agent (which runs them) and the tests. Payloads carry
 * settings only, never secrets: they are recorded in workflow histories and in agent_tasks.
 */
export enum StepKind {
  Preflight = 'preflight.check',
  Rename = 'identity.rename',
  Winget = 'apps.winget',
  Installer = 'apps.installer',
  Tweaks = 'tweaks.apply',
  /** Restores the values the tweaks step recorded before changing them (undoTweaks). */
  TweaksUndo = 'tweaks.undo',
  /** Finds winget for SYSTEM, checks its signature and version, and that it starts (before the winget steps). */
  WingetReady = 'apps.winget-ready',
  Locale = 'locale.apply',
  Wifi = 'wifi.apply',
  Inventory = 'inventory.collect',
  Validate = 'validation.verify',
  Reboot = 'system.reboot',
  BootId = 'system.boot-id',
}

/** Every step result may ask for a reboot; the workflow then sends a reboot task and waits for a new boot id. */
export interface StepResultBase {
  /** Nothing was changed: the machine already was in the asked-for state. */
  alreadyDone?: boolean;
  reboot?: boolean;
}

export interface PreflightPayload {
  requireAcPower: boolean;
  minFreeDiskGb: number;
  requireTpm: boolean;
  requireSecureBoot: boolean;
  minOsBuild: number;
}
export interface PreflightCheck {
  check: 'ac-power' | 'free-disk' | 'api-reachable' | 'tpm' | 'secure-boot' | 'os-build';
  ok: boolean;
  detail: string;
}
export interface PreflightResult extends StepResultBase {
  checks: PreflightCheck[];
  /** Windows' own pending-restart indicators found (a restart then happens before the next phase). */
  pendingReboot?: string[];
}

export interface RenamePayload {
  name: string;
}

export interface WingetPayload {
  id: string;
  version?: string;
}
export interface WingetResult extends StepResultBase {
  exitCode: number;
  outcome: string;
}

export interface InstallerPayload {
  name: string;
  url: string;
  sha256: string;
  arguments: string[];
}

export interface RegistrySetting {
  path: string;
  name: string;
  type: 'DWord' | 'String';
  value: number | string;
  /** The tweak it belongs to and where it applies (validation skips it where the tweak does not apply). */
  tweak?: string;
  applies?: TweakApplicability;
}

/** Editions as Windows names them in EditionID, lower-cased families (see infra/provisioning/tweaks.ts). */
export type EditionFamily = 'home' | 'pro' | 'enterprise' | 'education' | 'ltsc' | 'other';

/** Where a tweak does anything; elsewhere it is skipped with the reason (never written to no effect). */
export interface TweakApplicability {
  editions?: EditionFamily[];
  minBuild?: number;
  /** Machines without a battery only (hibernation off drains a Modern Standby laptop). */
  desktopOnly?: boolean;
}

/** Actions a tweak takes besides registry values; typed, never a command line from a payload. */
export type TweakAction = 'restore-point' | 'hibernation-off';

export interface TweakSpec {
  id: string;
  registry: RegistrySetting[];
  actions?: TweakAction[];
  applies?: TweakApplicability;
  /** What it needs before it takes effect: the step then asks for a restart. */
  needs?: 'restart' | 'sign-in';
}
export interface TweaksPayload {
  tweaks: TweakSpec[];
}
export interface TweaksResult extends StepResultBase {
  changed: string[];
  /** Tweaks that could not be applied, each with its reason; the others were. */
  failed?: { id: string; message: string }[];
  /** Tweaks that do not apply to this machine (edition, build, hardware). */
  skipped?: { id: string; reason: string }[];
}

export interface TweaksUndoPayload {
  /** Tweak ids to undo; empty or absent: every tweak the machine has a record of. */
  tweaks?: string[];
}
export interface TweaksUndoResult extends StepResultBase {
  /** Values and actions put back as they were before Drydock changed them. */
  restored: string[];
  failed: { key: string; message: string }[];
}

export interface WingetReadyResult extends StepResultBase {
  path: string;
  version: string;
  /** How winget was made to start as SYSTEM (e.g. the VCLibs framework folder on its PATH). */
  runtime: string;
}

export interface LocalePayload {
  timeZone: string;
  locale: string;
  keyboard: string;
  /** Regional formats (user locale) for new users; default: the locale. */
  formats?: string;
  /** Home location (GeoID, e.g. 244 = United States) for new users. */
  homeLocation?: number;
}

export interface WifiNetwork {
  ssid: string;
  authentication: 'open' | 'wpa2-enterprise' | 'wpa3-enterprise';
  autoConnect: boolean;
  /** Enterprise networks: the RADIUS server certificate the machine accepts (pinned, no prompt). */
  radius?: RadiusPin;
}
export interface RadiusPin {
  /** Server names the certificate must carry (ServerNames; `;`-joined in the profile). */
  serverNames: string[];
  /** SHA-1 thumbprints (40 hex digits) of the root CAs that may issue it (TrustedRootCA). */
  trustedRootCaThumbprints: string[];
}
export interface WifiPayload {
  networks: WifiNetwork[];
}
export interface WifiResult extends StepResultBase {
  added: string[];
  /** Networks not added, with the reason (no Wi-Fi adapter, WPA3-Enterprise before Windows 11). */
  skipped?: { ssid: string; reason: string }[];
}

export interface InventoryPayload {
  autopilotHash: boolean;
}

/** What validation compares the machine against: the state the resolved config asked for. */
export interface ValidatePayload {
  hostname?: string;
  apps: string[];
  installers: { name: string; sha256: string }[];
  registry: RegistrySetting[];
  locale?: LocalePayload;
  wifi: string[];
  /** Of `wifi`, the WPA3-Enterprise networks (not expected before Windows 11). */
  wifiWpa3Enterprise?: string[];
}
export interface ValidationItem {
  item: string;
  pass: boolean;
  detail: string;
}
export interface ValidateResult extends StepResultBase {
  items: ValidationItem[];
}

export interface RebootResult extends StepResultBase {
  /** The boot id before the reboot: the workflow waits for a different one. */
  bootId: string;
}

/** Where direct installers record what they installed (check-then-act across redeliveries). */
export const INSTALLER_MARKER_PATH = 'HKLM:\\SOFTWARE\\Drydock\\Installers';

/** Failure types a step reports. Retryable ones are retried by the workflow's policy. */
export enum StepFailure {
  PreflightFailed = 'PreflightFailed',
  NameTaken = 'NameTaken',
  WingetFailed = 'WingetFailed',
  WingetPackageNotFound = 'WingetPackageNotFound',
  InstallerHashMismatch = 'InstallerHashMismatch',
  InstallerDownloadFailed = 'InstallerDownloadFailed',
  InstallerFailed = 'InstallerFailed',
  SettingFailed = 'SettingFailed',
  /** winget cannot run as SYSTEM here (no App Installer, too old, unsigned, or it does not start). */
  WingetUnavailable = 'WingetUnavailable',
  /** The install needs a restart first (winget 0x8A15010A): the workflow restarts, then retries. */
  RebootRequiredFirst = 'RebootRequiredFirst',
  /** Renaming a domain-joined machine needs a domain credential, which no step has yet. */
  RenameNeedsDomainCredential = 'RenameNeedsDomainCredential',
  /** A Windows error that running the step again cannot fix (access denied, invalid argument). */
  WindowsError = 'WindowsError',
  UnknownStep = 'UnknownStep',
  StepCrashed = 'StepCrashed',
}
