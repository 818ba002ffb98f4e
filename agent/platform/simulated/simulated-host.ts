import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { HardwareFacts, InventorySummary, OsInfo, Platform } from '../platform';

/**
 * A simulated Windows host: the one stand-in Drydock accepts (no Windows here). It keeps what a
 * real machine would — hardware ids, hostname, a registry subset, local users with SIDs, apps,
 * BitLocker, domain membership, pending reboot, boot id — persisted per machine in host.json, so
 * a restarted agent finds the same machine. It never pretends: every name it reports says
 * "simulated", and `simulated: true` is in its state file.
 */
export interface SimulatedHostState {
  simulated: true;
  hostname: string;
  hardware: HardwareFacts;
  os: OsInfo;
  bootId: string;
  bootCount: number;
  bootedAt: number;
  registry: Record<string, Record<string, string | number>>;
  users: { name: string; sid: string }[];
  apps: { id: string; version: string }[];
  bitlocker: { protectionOn: boolean };
  domain: string | null;
  pendingReboot: boolean;
  /** How many times each step (by idempotency key) actually ran on this machine. */
  executions: Record<string, number>;
  secrets: Record<string, string>;
}

const hex = (seed: string, n: number) => createHash('sha256').update(seed).digest('hex').slice(0, n);

export function newHostState(name: string, seed: string): SimulatedHostState {
  const machineSid = `S-1-5-21-${parseInt(hex(`${seed}a`, 8), 16)}-${parseInt(hex(`${seed}b`, 8), 16)}-${parseInt(hex(`${seed}c`, 8), 16)}`;
  const u = hex(`${seed}uuid`, 32).toUpperCase();
  return {
    simulated: true,
    hostname: name.toUpperCase().slice(0, 15),
    hardware: {
      smbiosUuid: `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}`,
      systemSerial: `SIM${hex(`${seed}serial`, 9).toUpperCase()}`,
      baseboardSerial: `SIMBB${hex(`${seed}board`, 8).toUpperCase()}`,
      diskSerials: [`SIMDISK${hex(`${seed}disk`, 10).toUpperCase()}`],
      machineGuid: randomUUID(),
      macs: [
        hex(`${seed}mac`, 12)
          .toUpperCase()
          .replace(/^(.)./, '$10') // locally administered, unicast
          .match(/../g)!
          .join(':'),
      ],
      manufacturer: 'Drydock Simulated',
      model: 'Simulated Windows Host',
    },
    os: { name: 'Microsoft Windows 11 Pro (simulated)', version: '10.0.26100', build: '26100' },
    bootId: randomUUID(),
    bootCount: 1,
    bootedAt: Date.now(),
    registry: {
      'HKLM\\SOFTWARE\\Microsoft\\Cryptography': {},
      'HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName': {
        ComputerName: name.toUpperCase().slice(0, 15),
      },
    },
    users: [
      { name: 'Administrator', sid: `${machineSid}-500` },
      { name: 'Guest', sid: `${machineSid}-501` },
    ],
    apps: [],
    bitlocker: { protectionOn: false },
    domain: null,
    pendingReboot: false,
    executions: {},
    secrets: {},
  };
}

export class SimulatedPlatform implements Platform {
  readonly kind = 'simulated' as const;
  private state: SimulatedHostState;
  private readonly file: string;

  /** Opens the host kept in `dir`, creating it (from `initial`) the first time. */
  constructor(dir: string, initial?: () => SimulatedHostState) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'host.json');
    if (existsSync(this.file)) this.state = JSON.parse(readFileSync(this.file, 'utf8')) as SimulatedHostState;
    else {
      this.state = (initial ?? (() => newHostState(path.basename(dir), dir)))();
      this.save();
    }
  }

  get snapshot(): Readonly<SimulatedHostState> {
    return this.state;
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  mutate(fn: (s: SimulatedHostState) => void): void {
    fn(this.state);
    this.save();
  }

  /** A reboot as Windows does it: new boot id, uptime from zero, pending reboot cleared. */
  reboot(): void {
    this.mutate((s) => {
      s.bootId = randomUUID();
      s.bootCount += 1;
      s.bootedAt = Date.now();
      s.pendingReboot = false;
    });
  }

  /** A re-image: same hardware, a fresh OS install (new MachineGuid, no users' data, no apps). */
  reimage(): void {
    this.mutate((s) => {
      s.hardware.machineGuid = randomUUID();
      s.apps = [];
      s.executions = {};
      s.secrets = {};
    });
    this.reboot();
  }

  async hardwareFacts(): Promise<HardwareFacts> {
    return structuredClone(this.state.hardware);
  }
  async hostname(): Promise<string> {
    return this.state.hostname;
  }
  async osInfo(): Promise<OsInfo> {
    return { ...this.state.os };
  }
  async bootId(): Promise<string> {
    return this.state.bootId;
  }
  async uptimeSeconds(): Promise<number> {
    return Math.max(0, Math.floor((Date.now() - this.state.bootedAt) / 1000));
  }
  async inventory(): Promise<InventorySummary> {
    return {
      hostname: this.state.hostname,
      os: { ...this.state.os },
      manufacturer: this.state.hardware.manufacturer,
      model: this.state.hardware.model,
      serial: this.state.hardware.systemSerial,
      cpu: 'Simulated CPU (4 cores)',
      memoryMb: 16384,
      disks: [{ name: 'C:', sizeGb: 256, freeGb: 180 }],
      domain: this.state.domain,
    };
  }
  /** Simulated protection: a 0600 file. The Windows platform uses DPAPI (LocalMachine). */
  async saveProtected(name: string, value: string): Promise<void> {
    this.mutate((s) => void (s.secrets[name] = value));
  }
  async loadProtected(name: string): Promise<string | null> {
    return this.state.secrets[name] ?? null;
  }
  async deleteProtected(name: string): Promise<void> {
    this.mutate((s) => void delete s.secrets[name]);
  }

  /** Counts a real execution of a step, for tests that prove nothing runs twice. */
  recordExecution(idempotencyKey: string): void {
    this.mutate((s) => void (s.executions[idempotencyKey] = (s.executions[idempotencyKey] ?? 0) + 1));
  }
}
