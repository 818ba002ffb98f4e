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
}
export interface TweaksPayload {
  tweaks: { id: string; registry: RegistrySetting[] }[];
}
export interface TweaksResult extends StepResultBase {
  changed: string[];
}

export interface LocalePayload {
  timeZone: string;
  locale: string;
  keyboard: string;
}

export interface WifiNetwork {
  ssid: string;
  authentication: 'open' | 'wpa2-enterprise' | 'wpa3-enterprise';
  autoConnect: boolean;
}
export interface WifiPayload {
  networks: WifiNetwork[];
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
  UnknownStep = 'UnknownStep',
  StepCrashed = 'StepCrashed',
}
