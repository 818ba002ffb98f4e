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
}
