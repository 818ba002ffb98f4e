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
}

export interface LocaleState {
  timeZone: string;
  /** System locale, e.g. en-US. */
  locale: string;
  /** Input locales of the default user, e.g. 0409:00000409. */
  keyboards: string[];
}

export interface AutopilotHash {
  serial: string;
  productId: string | null;
  /** Base64 of MDM_DevDetail_Ext01.DeviceHardwareData (the 4K hardware hash). */
  hardwareHash: string;
}

export type RegistryData = string | number;

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
  /** Runs `winget install` for one package id; returns winget's exit code (see agent/steps/winget-codes.ts). */
  wingetInstall(id: string, version: string | undefined): Promise<{ exitCode: number; output: string }>;
  /** Downloads to a local file and returns its SHA-256 (hex, lower-case), computed while writing. */
  download(url: string, signal: AbortSignal): Promise<{ file: string; sha256: string }>;
  /** Runs a downloaded installer with its arguments and returns its exit code. */
  runInstaller(file: string, args: string[]): Promise<number>;
  /** HKLM:/HKCU: paths as PowerShell writes them; HKCU means the default user profile and every existing one. */
  registryRead(path: string, name: string): Promise<RegistryData | null>;
  registryWrite(path: string, name: string, type: 'DWord' | 'String', value: RegistryData): Promise<void>;
  localeState(): Promise<LocaleState>;
  setTimeZone(id: string): Promise<void>;
  setLocale(tag: string): Promise<void>;
  setKeyboard(inputLocale: string): Promise<void>;
  /** Names (SSIDs) of the machine's Wi-Fi profiles. */
  wifiProfiles(): Promise<string[]>;
  addWifiProfile(network: WifiNetworkSpec): Promise<void>;
  autopilotHash(): Promise<AutopilotHash>;
  /** Restarts the machine shortly (Windows: shutdown.exe /r /t 10); the agent stops with it. */
  restart(reason: string): Promise<void>;
}

export interface WifiNetworkSpec {
  ssid: string;
  authentication: 'open' | 'wpa2-enterprise' | 'wpa3-enterprise';
  autoConnect: boolean;
}
