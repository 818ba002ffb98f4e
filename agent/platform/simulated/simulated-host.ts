import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WingetCode } from '../../steps/winget-codes';
import type {
  AutopilotHash,
  ComputerName,
  HardwareFacts,
  InventorySummary,
  LocaleState,
  OsInfo,
  Platform,
  PreflightFacts,
  RegistryData,
  WifiNetworkSpec,
} from '../platform';

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
  /**
   * How many times each side effect happened (`rename:NAME`, `winget:ID`, `installer:NAME`,
   * `registry:PATH\\NAME`, `timezone:ID`, `locale:TAG`, `keyboard:TIP`, `wifi:SSID`, `restart`):
   * the ground truth for "nothing happened twice".
   */
  effects: Record<string, number>;
  secrets: Record<string, string>;
  /** The name after the next boot (Windows keeps it in ComputerName\ComputerName until then). */
  pendingHostname: string;
  power: { onAc: boolean | null };
  freeDiskGb: number;
  tpm: { present: boolean; ready: boolean; version: string | null };
  secureBoot: boolean | null;
  locale: LocaleState;
  wifi: string[];
  /** Installers run through the simulated download server, by marker name. */
  installers: Record<string, string>;
  /** How the simulated winget source behaves; tests and the harness set these. */
  simulation: SimulationSettings;
}

export interface SimulationSettings {
  /** Package ids the simulated winget source does not have (→ 0x8A150014, permanent). */
  wingetUnknownIds: string[];
  /** Package ids whose install ends with "restart to finish" (0x8A150109). */
  wingetRebootIds: string[];
  /** The next N installs of these ids fail with a transient download error (0x8A150008), nothing installed. */
  wingetTransientFailures: Record<string, number>;
}

/** What the simulated download server serves for a URL: deterministic, so a profile can pin its SHA-256. */
export function simulatedDownloadContent(url: string): Buffer {
  return Buffer.from(`Drydock simulated installer (not a real program) for ${url}\n`, 'utf8');
}
export function simulatedDownloadSha256(url: string): string {
  return createHash('sha256').update(simulatedDownloadContent(url)).digest('hex');
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
    effects: {},
    secrets: {},
    pendingHostname: name.toUpperCase().slice(0, 15),
    power: { onAc: true },
    freeDiskGb: 180,
    tpm: { present: true, ready: true, version: '2.0' },
    secureBoot: true,
    locale: { timeZone: 'Pacific Standard Time', locale: 'en-US', keyboards: ['0409:00000409'] },
    wifi: [],
    installers: {},
    simulation: { wingetUnknownIds: [], wingetRebootIds: [], wingetTransientFailures: {} },
  };
}

/** Fills in what host.json files written by an older agent lack. */
function upgradeState(s: SimulatedHostState): SimulatedHostState {
  const fresh = newHostState(s.hostname, s.hostname);
  for (const key of Object.keys(fresh) as (keyof SimulatedHostState)[]) {
    if (s[key] === undefined) (s as unknown as Record<string, unknown>)[key] = fresh[key];
  }
  if (!s.pendingHostname) s.pendingHostname = s.hostname;
  return s;
}

export class SimulatedPlatform implements Platform {
  readonly kind = 'simulated' as const;
  private state: SimulatedHostState;
  private readonly file: string;

  /** Opens the host kept in `dir`, creating it (from `initial`) the first time. */
  constructor(dir: string, initial?: () => SimulatedHostState) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'host.json');
    if (existsSync(this.file))
      this.state = upgradeState(JSON.parse(readFileSync(this.file, 'utf8')) as SimulatedHostState);
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
    writeFileSync(tmp, JSON.stringify(this.state), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  mutate(fn: (s: SimulatedHostState) => void): void {
    fn(this.state);
    this.save();
  }

  /**
   * Called after every side effect is persisted: the harness uses it to "pull the plug" in the
   * middle of a step (the effect happened, the step did not finish).
   */
  afterEffect?: (effect: string) => void;
  /** The harness's `winget` fault: a package's first install attempt on this machine fails transiently. */
  wingetFirstAttemptFailureRate = 0;
  /** How many winget failures the fault injected (not persisted). */
  injectedWingetFailures = 0;
  private readonly wingetAttempted = new Set<string>();
  /** Called by restart(): the harness stops this machine's agent, reboots, and starts a new agent. */
  onRestart?: () => void;

  /** A reboot as Windows does it: new boot id, uptime from zero, pending rename applied. */
  reboot(): void {
    this.mutate((s) => {
      s.bootId = randomUUID();
      s.bootCount += 1;
      s.bootedAt = Date.now();
      s.pendingReboot = false;
      s.hostname = s.pendingHostname;
      s.registry['HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName'] = {
        ComputerName: s.pendingHostname,
      };
    });
  }

  private effect(key: string, change: (s: SimulatedHostState) => void): void {
    this.mutate((s) => {
      change(s);
      s.effects[key] = (s.effects[key] ?? 0) + 1;
    });
    this.afterEffect?.(key);
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

  async preflightFacts(): Promise<PreflightFacts> {
    const s = this.state;
    return {
      onAcPower: s.power.onAc,
      freeDiskGb: s.freeDiskGb,
      tpm: { ...s.tpm },
      secureBoot: s.secureBoot,
      osBuild: Number(s.os.build),
    };
  }

  async computerName(): Promise<ComputerName> {
    return { active: this.state.hostname, pending: this.state.pendingHostname };
  }

  async renameComputer(name: string): Promise<void> {
    if (!/^[A-Za-z0-9-]{1,15}$/.test(name) || /^[0-9]+$/.test(name))
      throw new Error(`Rename-Computer: "${name}" is not a valid computer name (simulated)`);
    this.effect(`rename:${name.toUpperCase()}`, (s) => {
      s.pendingHostname = name.toUpperCase();
      s.pendingReboot = true;
    });
  }

  async wingetInstalledVersion(id: string): Promise<string | null> {
    return this.state.apps.find((a) => a.id.toLowerCase() === id.toLowerCase())?.version ?? null;
  }

  /** Behaves like winget: exit codes for unknown ids, transient failures, already installed, reboot required. */
  async wingetInstall(
    id: string,
    version: string | undefined,
  ): Promise<{ exitCode: number; output: string }> {
    const sim = this.state.simulation;
    if (sim.wingetUnknownIds.includes(id))
      return {
        exitCode: WingetCode.NoApplicationsFound,
        output: 'No package found matching input criteria. (simulated)',
      };
    if (await this.wingetInstalledVersion(id))
      return {
        exitCode: WingetCode.PackageAlreadyInstalled,
        output: 'Found an existing package already installed. (simulated)',
      };
    const firstAttempt = !this.wingetAttempted.has(id);
    this.wingetAttempted.add(id);
    if (
      firstAttempt &&
      this.wingetFirstAttemptFailureRate > 0 &&
      Math.random() < this.wingetFirstAttemptFailureRate
    ) {
      this.injectedWingetFailures++;
      return {
        exitCode: WingetCode.DownloadFailed,
        output: 'Download failed: the connection was reset. (simulated)',
      };
    }
    if ((sim.wingetTransientFailures[id] ?? 0) > 0) {
      this.mutate((s) => void (s.simulation.wingetTransientFailures[id]! -= 1));
      return {
        exitCode: WingetCode.DownloadFailed,
        output: 'Download failed: the connection was reset. (simulated)',
      };
    }
    this.effect(`winget:${id}`, (s) => {
      s.apps.push({ id, version: version ?? '1.0.0-simulated' });
      if (sim.wingetRebootIds.includes(id)) s.pendingReboot = true;
    });
    return sim.wingetRebootIds.includes(id)
      ? {
          exitCode: WingetCode.RebootRequiredToFinish,
          output: 'Restart your PC to finish installation. (simulated)',
        }
      : { exitCode: WingetCode.Success, output: 'Successfully installed (simulated)' };
  }

  /** The simulated download server: nothing leaves this machine; the content is derived from the URL. */
  async download(url: string): Promise<{ file: string; sha256: string }> {
    const content = simulatedDownloadContent(url);
    const file = path.join(
      path.dirname(this.file),
      'downloads',
      createHash('sha256').update(url).digest('hex').slice(0, 16),
    );
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    return { file, sha256: createHash('sha256').update(content).digest('hex') };
  }

  /** "Runs" a simulated installer: it must be one the simulated download server produced. */
  async runInstaller(file: string, _args: string[]): Promise<number> {
    const content = readFileSync(file, 'utf8');
    if (!content.startsWith('Drydock simulated installer')) return 1603; // MSI: fatal error during installation
    const product = path.basename(file);
    // Like an MSI whose product is already installed: a maintenance run that changes nothing, exit 0.
    if (this.state.installers[product]) return 0;
    this.effect(`installer:${product}`, (s) => void (s.installers[product] = content));
    return 0;
  }

  async registryRead(keyPath: string, name: string): Promise<RegistryData | null> {
    return this.state.registry[keyPath]?.[name] ?? null;
  }

  async registryWrite(
    keyPath: string,
    name: string,
    _type: 'DWord' | 'String',
    value: RegistryData,
  ): Promise<void> {
    this.effect(`registry:${keyPath}\\${name}`, (s) => {
      s.registry[keyPath] = { ...(s.registry[keyPath] ?? {}), [name]: value };
    });
  }

  async localeState(): Promise<LocaleState> {
    return structuredClone(this.state.locale);
  }
  async setTimeZone(id: string): Promise<void> {
    this.effect(`timezone:${id}`, (s) => void (s.locale.timeZone = id));
  }
  async setLocale(tag: string): Promise<void> {
    this.effect(`locale:${tag}`, (s) => void (s.locale.locale = tag));
  }
  async setKeyboard(tip: string): Promise<void> {
    this.effect(
      `keyboard:${tip}`,
      (s) => void (s.locale.keyboards = [tip, ...s.locale.keyboards.filter((k) => k !== tip)]),
    );
  }

  async wifiProfiles(): Promise<string[]> {
    return [...this.state.wifi];
  }
  async addWifiProfile(network: WifiNetworkSpec): Promise<void> {
    this.effect(`wifi:${network.ssid}`, (s) => void s.wifi.push(network.ssid));
  }

  async autopilotHash(): Promise<AutopilotHash> {
    const hw = this.state.hardware;
    return {
      serial: hw.systemSerial ?? '',
      productId: null,
      // Not a real 4K hash: a simulated one, labelled as such, derived from the hardware ids.
      hardwareHash: Buffer.from(
        `SIMULATED-AUTOPILOT-HASH:${hex(`${hw.smbiosUuid}${hw.systemSerial}`, 64)}`,
      ).toString('base64'),
    };
  }

  /** Like shutdown.exe /r /t 10: the restart happens a moment later and takes the agent with it. */
  async restart(reason: string): Promise<void> {
    this.effect(`restart:${reason}`, () => {});
    const restart = this.onRestart ?? (() => this.reboot());
    setTimeout(restart, 50).unref();
  }

  /** Counts a real execution of a step, for tests that prove nothing runs twice. */
  recordExecution(idempotencyKey: string): void {
    this.mutate((s) => void (s.executions[idempotencyKey] = (s.executions[idempotencyKey] ?? 0) + 1));
  }
}
