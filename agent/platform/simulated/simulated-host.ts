import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WingetCode } from '../../steps/winget-codes';
import {
  PlatformError,
  type AutopilotHash,
  type ComputerName,
  type HardwareFacts,
  type InternationalSettings,
  type InventorySummary,
  type LocaleState,
  type MachineFacts,
  type OsInfo,
  type Platform,
  type PreflightFacts,
  type RegistryApplyItem,
  type RegistryApplyOutcome,
  type RegistryData,
  type RegistrySnapshot,
  type TweakRecord,
  type BitLockerVolumeState,
  type WifiNetworkSpec,
  type WingetReadiness,
  type MigrationTarget,
  type ProfileBackupRequest,
  type RobocopyRequest,
  type DomainJoinRequest,
  type JoinState,
} from '../platform';
import { emptyProfiles, SimulatedProfileOps, type SimulatedProfiles } from './simulated-profiles';
import {
  emptyJoin,
  joinStateOf,
  simulateJoin,
  simulateProvisioningPackage,
  type JoinHost,
  type SimulatedDirectory,
  type SimulatedJoin,
  type SimulatedProvisioningPackage,
} from './simulated-join';

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
  /**
   * The system volume's BitLocker. `volumeStatus` and `protectors` are absent in states saved before
   * issue 16 (then: fully decrypted, no protectors). Recovery passwords are kept as a hash of the
   * 48 digits, as the model of what Windows could show (the test compares it with escrow).
   */
  bitlocker: {
    protectionOn: boolean;
    volumeStatus?: 'FullyDecrypted' | 'EncryptionInProgress' | 'FullyEncrypted';
    encryptionMethod?: string;
    protectors?: { id: string; type: 'Tpm' | 'RecoveryPassword'; sha256?: string }[];
  };
  domain: string | null;
  pendingReboot: boolean;
  /**
   * How many times each step actually ran on this machine, by `<kind> <idempotency key>` (a run
   * restored from a backup may ask for another kind of step under a key it used before).
   */
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
  /** EditionID, e.g. Professional, Enterprise, EnterpriseS. */
  editionId: string;
  /** App Installer as SYSTEM finds it (see wingetReady). */
  winget: SimulatedWinget;
  /** Windows' pending-restart indicators set now (CBS, WU, PendingFileRenameOperations). */
  rebootIndicators: string[];
  wifiAdapter: boolean;
  /** What a new user gets (the default user hive's International and Keyboard Layout keys). */
  newUser: { formats: string | null; keyboards: string[]; homeLocation: number | null };
  hibernation: boolean;
  restorePoints: string[];
  /** SIDs of users signed in now: their hives are loaded, so HKCU writes reach them too. */
  signedIn: string[];
  /** Processes still running that a step started (an installer's app): a kill-on-close job ends them. */
  processes: string[];
  /** Accounts, profiles, their ACLs and hives, AppX, groups, OneDrive, Entra join (profile migration). */
  profiles: SimulatedProfiles;
  /**
   * Local accounts' passwords as the SAM holds them: a hash, never the text (SHA-256 here for the
   * model). Tests compare it with what escrow reveals. Absent in states saved before issue 16.
   */
  localPasswords?: Record<string, { sha256: string; administrator: boolean; changes: number }>;
  /** Domain join (its DN, a join waiting for its restart) and Entra join (ADR 0048). Absent in older states. */
  joined?: SimulatedJoin;
}

export interface SimulatedWinget {
  /** Microsoft.DesktopAppInstaller package version, or null (LTSC ships without App Installer). */
  appInstaller: string | null;
  /** winget.exe's own version. */
  version: string;
  /** The VC++ 2015-2022 runtime installed system-wide (then winget starts as SYSTEM by itself). */
  vcRuntimeSystemWide: boolean;
  /** The Microsoft.VCLibs.140.00.UWPDesktop framework package (App Installer's dependency). */
  vclibsFramework: boolean;
  /** Authenticode: signed by Microsoft. */
  microsoftSigned: boolean;
}

export interface SimulationSettings {
  /** Package ids the simulated winget source does not have (→ 0x8A150014, permanent). */
  wingetUnknownIds: string[];
  /** Package ids whose install ends with "restart to finish" (0x8A150109). */
  wingetRebootIds: string[];
  /** The next N installs of these ids fail with a transient download error (0x8A150008), nothing installed. */
  wingetTransientFailures: Record<string, number>;
  /** winget ≥ 1.7: these install, exit 0, and leave a restart pending (PendingFileRenameOperations). */
  wingetSilentRebootIds?: string[];
  /** These answer 0x8A15010A (restart before installing) until the machine restarted after the first try. */
  wingetRebootFirstIds?: string[];
  /** Values whose writes Windows denies (UCPD on Windows 11: Explorer\Advanced\TaskbarDa), `path\name`. */
  deniedValues?: string[];
  /** The next N writes of these values (`path\\name`) fail as a busy registry key does (transient). */
  flakyValues?: Record<string, number>;
  /** Installers (by URL basename) that start their app and leave it running. */
  installerStartsApp?: boolean;
  /** Boot count at each id's first 0x8A15010A answer (internal). */
  rebootFirstAt?: Record<string, number>;
  /** The AD domain this machine's network has (join.domain answers as Windows would against it). */
  directory?: SimulatedDirectory;
  /** Provisioning packages (by the SHA-256 of the file) that Entra join the machine. */
  provisioningPackages?: Record<string, SimulatedProvisioningPackage>;
}

export interface HostOptions {
  /** Windows 10 22H2 (build 19045) or Windows 11 24H2 (build 26100). */
  windows?: 10 | 11;
  editionId?: string;
  /** No battery: a desktop. */
  desktop?: boolean;
}

/** UCPD (User Choice Protection Driver) denies these on current Windows 11 (WinUtil dropped the toggle). */
export const UCPD_DENIED = [
  'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced\\TaskbarDa',
];

/** Where the agent keeps what each tweak found before it changed it (as on Windows). */
const TWEAK_RECORDS = 'HKLM:\\SOFTWARE\\Drydock\\TweakUndo';

/** What the simulated download server serves for a URL: deterministic, so a profile can pin its SHA-256. */
export function simulatedDownloadContent(url: string): Buffer {
  return Buffer.from(`Drydock simulated installer (not a real program) for ${url}\n`, 'utf8');
}
export function simulatedDownloadSha256(url: string): string {
  return createHash('sha256').update(simulatedDownloadContent(url)).digest('hex');
}

const hex = (seed: string, n: number) => createHash('sha256').update(seed).digest('hex').slice(0, n);

export function newHostState(name: string, seed: string, options: HostOptions = {}): SimulatedHostState {
  const win10 = options.windows === 10;
  const editionId = options.editionId ?? 'Professional';
  const editionName = editionId === 'Professional' ? 'Pro' : editionId;
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
    os: win10
      ? { name: `Microsoft Windows 10 ${editionName} (simulated)`, version: '10.0.19045', build: '19045' }
      : { name: `Microsoft Windows 11 ${editionName} (simulated)`, version: '10.0.26100', build: '26100' },
    editionId,
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
    power: { onAc: options.desktop ? null : true },
    freeDiskGb: 180,
    tpm: { present: true, ready: true, version: '2.0' },
    secureBoot: true,
    locale: { timeZone: 'Pacific Standard Time', locale: 'en-US', keyboards: ['0409:00000409'] },
    wifi: [],
    installers: {},
    simulation: {
      wingetUnknownIds: [],
      wingetRebootIds: [],
      wingetTransientFailures: {},
      deniedValues: win10 ? [] : [...UCPD_DENIED],
    },
    // A fresh image: App Installer and its VCLibs framework present, but no system-wide VC++
    // runtime, so winget.exe run as SYSTEM exits at once unless VCLibs is on its PATH.
    winget: {
      appInstaller: win10 ? '1.22.10861.0' : '1.25.340.0',
      version: win10 ? '1.7.10861' : '1.10.340',
      vcRuntimeSystemWide: false,
      vclibsFramework: true,
      microsoftSigned: true,
    },
    rebootIndicators: [],
    wifiAdapter: !options.desktop,
    newUser: { formats: 'en-US', keyboards: ['0409:00000409'], homeLocation: 244 },
    hibernation: true,
    restorePoints: [],
    signedIn: [],
    processes: [],
    profiles: emptyProfiles(),
    // The image's built-in Administrator, with a password Drydock never knew.
    localPasswords: {
      administrator: {
        sha256: createHash('sha256').update(randomUUID()).digest('hex'),
        administrator: true,
        changes: 0,
      },
    },
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
      s.rebootIndicators = [];
      s.processes = [];
      s.hostname = s.pendingHostname;
      s.registry['HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName'] = {
        ComputerName: s.pendingHostname,
      };
      if (s.joined) s.joined.pending = false;
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
    return { active: this.state.hostname, pending: this.state.pendingHostname, domain: this.state.domain };
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

  /**
   * As SYSTEM the agent runs winget.exe from the App Installer folder with the VCLibs framework
   * folder on its PATH (agent/platform/windows/provisioning-scripts.ts): it starts when that
   * framework or the system-wide VC++ runtime is there, and exits at once (STATUS_DLL_NOT_FOUND)
   * when neither is.
   */
  private wingetStarts(): boolean {
    const w = this.state.winget;
    return w.appInstaller !== null && (w.vcRuntimeSystemWide || w.vclibsFramework);
  }

  async wingetReady(): Promise<WingetReadiness> {
    const w = this.state.winget;
    if (w.appInstaller === null)
      return {
        ok: false,
        reason:
          'winget is not available: App Installer (Microsoft.DesktopAppInstaller) is not installed for the machine (LTSC editions have none) (simulated)',
      };
    if (!w.microsoftSigned)
      return { ok: false, reason: 'winget.exe is not signed by Microsoft: refusing to run it (simulated)' };
    if (!this.wingetStarts())
      return {
        ok: false,
        reason:
          'winget.exe cannot start as SYSTEM: neither the VC++ 2015-2022 runtime nor the VCLibs framework package is installed (simulated)',
      };
    const [major = 0, minor = 0] = w.version.split('.').map(Number);
    if (major < 1 || (major === 1 && minor < 4))
      return {
        ok: false,
        reason: `winget ${w.version} is older than 1.4 (no --disable-interactivity) (simulated)`,
      };
    return {
      ok: true,
      path: `C:\\Program Files\\WindowsApps\\Microsoft.DesktopAppInstaller_${w.appInstaller}_x64__8wekyb3d8bbwe\\winget.exe (simulated)`,
      version: w.version,
      runtime: w.vcRuntimeSystemWide ? 'VC++ runtime (system-wide)' : 'VCLibs framework folder on PATH',
    };
  }

  /** Behaves like winget: exit codes for unknown ids, transient failures, already installed, reboot required. */
  async wingetInstall(
    id: string,
    version: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ exitCode: number; output: string }> {
    signal?.throwIfAborted();
    if (!this.wingetStarts()) return { exitCode: WingetCode.DllNotFound, output: '' };
    const sim = this.state.simulation;
    if ((sim.wingetRebootFirstIds ?? []).includes(id)) {
      const firstAt = sim.rebootFirstAt?.[id];
      if (firstAt === undefined || firstAt === this.state.bootCount) {
        this.mutate(
          (s) => void (s.simulation.rebootFirstAt = { ...s.simulation.rebootFirstAt, [id]: s.bootCount }),
        );
        return {
          exitCode: WingetCode.RebootRequiredToInstall,
          output: 'A restart is required before this package can be installed. (simulated)',
        };
      }
    }
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
      // winget ≥ 1.7 exits 0 here; only Windows' own indicator says a restart is due.
      if (
        (sim.wingetSilentRebootIds ?? []).includes(id) &&
        !s.rebootIndicators.includes('PendingFileRenameOperations')
      )
        s.rebootIndicators.push('PendingFileRenameOperations');
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

  /**
   * "Runs" a simulated installer: it must be one the simulated download server produced, and its
   * bytes as opened must have the pinned hash. An installer that starts its app: the step waits
   * for the installer alone, and the kill-on-close job ends the app with the step.
   */
  async runInstaller(file: string, _args: string[], sha256: string, signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    const bytes = readFileSync(file);
    if (createHash('sha256').update(bytes).digest('hex') !== sha256.toLowerCase())
      throw new PlatformError(
        `the installer ${path.basename(file)} no longer has its pinned SHA-256; not run (simulated)`,
        true,
      );
    const content = bytes.toString('utf8');
    if (!content.startsWith('Drydock simulated installer')) return 1603; // MSI: fatal error during installation
    const product = path.basename(file);
    // Like an MSI whose product is already installed: a maintenance run that changes nothing, exit 0.
    if (this.state.installers[product]) return 0;
    this.effect(`installer:${product}`, (s) => {
      s.installers[product] = content;
      if (s.simulation.installerStartsApp) s.processes.push(`app started by ${product}`);
    });
    // The job object closes with the step's PowerShell: what the installer started ends with it.
    if (this.state.processes.length > 0) this.mutate((s) => void (s.processes = []));
    return 0;
  }

  async pendingReboot(): Promise<string[]> {
    const s = this.state;
    const reasons = [...s.rebootIndicators];
    if (s.pendingHostname !== s.hostname) reasons.push('computer name change');
    return reasons;
  }

  async machineFacts(): Promise<MachineFacts> {
    return {
      editionId: this.state.editionId,
      build: Number(this.state.os.build),
      hasBattery: this.state.power.onAc !== null,
    };
  }

  /** HKCU reaches the default user profile and every signed-in user's hive, as on Windows. */
  private targets(keyPath: string): { target: string; key: string }[] {
    if (!/^HKCU:\\/i.test(keyPath)) return [{ target: keyPath.slice(0, keyPath.indexOf(':')), key: keyPath }];
    return [
      { target: 'default', key: keyPath },
      ...this.state.signedIn.map((sid) => ({ target: sid, key: keyPath.replace(/^HKCU:/i, `HKU:\\${sid}`) })),
    ];
  }

  private snapshotOf(keyPath: string, name: string, type: string): RegistrySnapshot {
    const snap: RegistrySnapshot = {};
    for (const { target, key } of this.targets(keyPath)) {
      const value = this.state.registry[key]?.[name];
      snap[target] =
        value === undefined
          ? null
          : { kind: typeof value === 'number' ? 'DWord' : type === 'DWord' ? 'DWord' : 'String', value };
    }
    return snap;
  }

  async applyRegistry(items: RegistryApplyItem[]): Promise<RegistryApplyOutcome[]> {
    const out: RegistryApplyOutcome[] = [];
    for (const item of items) {
      const full = `${item.path}\\${item.name}`;
      try {
        const recordKey = `registry:${full}`;
        const records = this.state.registry[TWEAK_RECORDS] ?? {};
        const targets = this.targets(item.path);
        const differs = targets.some(
          ({ key }) =>
            this.state.registry[key]?.[item.name] === undefined ||
            String(this.state.registry[key]![item.name]) !== String(item.value),
        );
        if (!differs) {
          out.push({ changed: false });
          continue;
        }
        if (records[recordKey] === undefined) {
          const record: TweakRecord = {
            key: recordKey,
            tweak: item.tweak,
            before: this.snapshotOf(item.path, item.name, item.type),
          };
          this.effect(`record:${full}`, (s) => {
            s.registry[TWEAK_RECORDS] = {
              ...(s.registry[TWEAK_RECORDS] ?? {}),
              [recordKey]: JSON.stringify(record),
            };
          });
        }
        if ((this.state.simulation.deniedValues ?? []).includes(full))
          throw new PlatformError(`Requested registry access is not allowed. (UCPD, simulated)`, true);
        if ((this.state.simulation.flakyValues?.[full] ?? 0) > 0) {
          this.mutate((s) => void (s.simulation.flakyValues![full]! -= 1));
          throw new PlatformError(
            'The process cannot access the file because it is being used by another process. (simulated)',
            false,
          );
        }
        this.effect(`registry:${full}`, (s) => {
          for (const { key } of targets)
            s.registry[key] = { ...(s.registry[key] ?? {}), [item.name]: item.value };
        });
        out.push({ changed: true });
      } catch (err) {
        // The harness pulling the plug is not a value Windows refused: it ends the step.
        if ((err as { fatal?: boolean }).fatal) throw err;
        out.push({
          changed: false,
          error: {
            message: (err as Error).message,
            permanent: err instanceof PlatformError ? err.permanent : false,
          },
        });
      }
    }
    return out;
  }

  async readRegistry(items: { path: string; name: string }[]): Promise<(RegistryData | null)[]> {
    return items.map((i) => this.state.registry[i.path]?.[i.name] ?? null);
  }

  async applyTweakAction(action: 'restore-point' | 'hibernation-off', tweak: string): Promise<boolean> {
    if (action === 'restore-point') {
      this.effect(
        `restore-point:${this.state.restorePoints.length + 1}`,
        (s) => void s.restorePoints.push(`before Drydock tweaks (${tweak})`),
      );
      return true;
    }
    if (!this.state.hibernation) return false;
    const recordKey = 'action:hibernation-off';
    if ((this.state.registry[TWEAK_RECORDS] ?? {})[recordKey] === undefined) {
      const record: TweakRecord = { key: recordKey, tweak, before: { hibernation: this.state.hibernation } };
      this.effect(`record:${recordKey}`, (s) => {
        s.registry[TWEAK_RECORDS] = {
          ...(s.registry[TWEAK_RECORDS] ?? {}),
          [recordKey]: JSON.stringify(record),
        };
      });
    }
    this.effect('powercfg:hibernate-off', (s) => void (s.hibernation = false));
    return true;
  }

  async tweakRecords(): Promise<TweakRecord[]> {
    return Object.values(this.state.registry[TWEAK_RECORDS] ?? {}).map(
      (v) => JSON.parse(String(v)) as TweakRecord,
    );
  }

  async restoreTweakRecords(keys: string[]): Promise<{ key: string; error?: string }[]> {
    const out: { key: string; error?: string }[] = [];
    for (const key of keys) {
      const raw = this.state.registry[TWEAK_RECORDS]?.[key];
      if (raw === undefined) {
        out.push({ key });
        continue;
      }
      const record = JSON.parse(String(raw)) as TweakRecord;
      this.effect(`restore:${key}`, (s) => {
        if ('hibernation' in record.before) s.hibernation = record.before.hibernation as boolean;
        else {
          const full = key.slice('registry:'.length);
          const cut = full.lastIndexOf('\\');
          const keyPath = full.slice(0, cut);
          const name = full.slice(cut + 1);
          for (const [target, value] of Object.entries(record.before as RegistrySnapshot)) {
            const regKey =
              target === 'default' || !/^HKCU:/i.test(keyPath)
                ? keyPath
                : keyPath.replace(/^HKCU:/i, `HKU:\\${target}`);
            const values = { ...(s.registry[regKey] ?? {}) };
            if (value === null) delete values[name];
            else values[name] = value.value;
            s.registry[regKey] = values;
          }
        }
        const records = { ...(s.registry[TWEAK_RECORDS] ?? {}) };
        delete records[key];
        s.registry[TWEAK_RECORDS] = records;
      });
      out.push({ key });
    }
    return out;
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
    return { ...structuredClone(this.state.locale), newUser: structuredClone(this.state.newUser) };
  }
  async setTimeZone(id: string): Promise<void> {
    this.effect(`timezone:${id}`, (s) => void (s.locale.timeZone = id));
  }
  async setLocale(tag: string): Promise<void> {
    this.effect(`locale:${tag}`, (s) => void (s.locale.locale = tag));
  }
  /** Like the intl.cpl answer file: SYSTEM's settings, copied to the welcome screen and the default user. */
  async setInternational(settings: InternationalSettings): Promise<void> {
    const tip = settings.keyboard.toUpperCase();
    this.effect(`international:${settings.formats}:${tip}:${settings.homeLocation}`, (s) => {
      s.locale.keyboards = [tip, ...s.locale.keyboards.filter((k) => k !== tip)];
      s.newUser = {
        formats: settings.formats,
        keyboards: [tip, ...s.newUser.keyboards.filter((k) => k !== tip)],
        homeLocation: settings.homeLocation,
      };
    });
  }

  async wifiProfiles(): Promise<string[]> {
    return [...this.state.wifi];
  }
  async wifiAdapterPresent(): Promise<boolean> {
    return this.state.wifiAdapter;
  }
  async addWifiProfile(network: WifiNetworkSpec): Promise<void> {
    if (!this.state.wifiAdapter)
      throw new PlatformError(
        'netsh wlan: the Wireless AutoConfig Service (wlansvc) is not running (simulated)',
        true,
      );
    this.effect(`wifi:${network.ssid}`, (s) => void s.wifi.push(network.ssid));
  }

  async setLocalAdminPassword(
    account: string,
    password: string,
    options: { create: boolean },
  ): Promise<{ created: boolean }> {
    const key = account.toLowerCase();
    const existing = this.state.localPasswords?.[key];
    if (!existing && !options.create)
      throw new PlatformError(`Set-LocalUser: User ${account} was not found.`, true);
    const sha256 = createHash('sha256').update(password, 'utf8').digest('hex');
    this.effect(`local-password:${key}`, (s) => {
      s.localPasswords ??= {};
      s.localPasswords[key] = { sha256, administrator: true, changes: (existing?.changes ?? 0) + 1 };
    });
    return { created: !existing };
  }

  async bitlockerVolume(mountPoint: string): Promise<BitLockerVolumeState> {
    this.checkSystemVolume(mountPoint);
    const b = this.state.bitlocker;
    const volumeStatus = b.volumeStatus ?? 'FullyDecrypted';
    return {
      volumeStatus,
      protectionStatus: b.protectionOn ? 'On' : 'Off',
      encryptionPercentage: volumeStatus === 'FullyDecrypted' ? 0 : 100,
      protectors: (b.protectors ?? []).map(({ id, type }) => ({ id, type })),
    };
  }

  async addRecoveryPasswordProtector(mountPoint: string, password: string): Promise<{ protectorId: string }> {
    this.checkSystemVolume(mountPoint);
    // What ProtectKeyWithNumericalPassword checks: 8 groups of 6 digits, each divisible by 11, ≤ 720885.
    const groups = password.split('-');
    if (
      groups.length !== 8 ||
      groups.some((g) => !/^[0-9]{6}$/.test(g) || Number(g) % 11 !== 0 || Number(g) > 720885)
    )
      throw new PlatformError(
        'ProtectKeyWithNumericalPassword: the numerical password is not valid (0x80310035)',
        true,
      );
    const id = `{${randomUUID().toUpperCase()}}`;
    const sha256 = createHash('sha256').update(password, 'utf8').digest('hex');
    this.effect(`bitlocker-protector:${id}`, (s) => {
      s.bitlocker.protectors = [...(s.bitlocker.protectors ?? []), { id, type: 'RecoveryPassword', sha256 }];
    });
    return { protectorId: id };
  }

  async removeKeyProtector(mountPoint: string, protectorId: string): Promise<void> {
    this.checkSystemVolume(mountPoint);
    this.effect(`bitlocker-remove:${protectorId}`, (s) => {
      s.bitlocker.protectors = (s.bitlocker.protectors ?? []).filter((p) => p.id !== protectorId);
    });
  }

  async enableBitLockerTpm(
    mountPoint: string,
    options: { encryptionMethod: 'XtsAes128' | 'XtsAes256'; usedSpaceOnly: boolean },
  ): Promise<void> {
    this.checkSystemVolume(mountPoint);
    if (!this.state.tpm.present || !this.state.tpm.ready)
      throw new PlatformError('Enable-BitLocker: the TPM is not present or not ready (0x80284008)', true);
    if ((this.state.bitlocker.volumeStatus ?? 'FullyDecrypted') !== 'FullyDecrypted')
      throw new PlatformError(
        'Enable-BitLocker: the volume is already encrypted or encrypting (0x80310030)',
        true,
      );
    // Encryption of a used-space-only new image is modelled as immediate.
    this.effect('bitlocker-enable', (s) => {
      s.bitlocker.protectors = [
        ...(s.bitlocker.protectors ?? []),
        { id: `{${randomUUID().toUpperCase()}}`, type: 'Tpm' },
      ];
      s.bitlocker.volumeStatus = 'FullyEncrypted';
      s.bitlocker.encryptionMethod = options.encryptionMethod;
      s.bitlocker.protectionOn = true;
    });
  }

  /** Hashes of the volume's recovery passwords (tests: compare with what escrow reveals). */
  recoveryPasswordHashes(): string[] {
    return (this.state.bitlocker.protectors ?? []).flatMap((p) => (p.sha256 ? [p.sha256] : []));
  }

  private checkSystemVolume(mountPoint: string): void {
    if (mountPoint !== 'C:')
      throw new PlatformError(
        `Get-BitLockerVolume: no volume ${mountPoint} (the simulated host has C: only)`,
        true,
      );
  }

  /** The SAM's hash of a local account's password (tests: compare with what escrow reveals). */
  localPasswordHash(account: string): string | null {
    return this.state.localPasswords?.[account.toLowerCase()]?.sha256 ?? null;
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

  // --- Join: the model lives in simulated-join.ts ---
  private joinHost(): JoinHost {
    const s = this.state;
    return {
      active: s.hostname,
      pending: s.pendingHostname,
      domain: s.domain,
      join: s.joined ?? emptyJoin(),
      directory: s.simulation.directory,
      packages: s.simulation.provisioningPackages ?? {},
    };
  }

  async joinState(): Promise<JoinState> {
    return joinStateOf(this.joinHost());
  }

  async joinDomain(
    request: DomainJoinRequest,
    credential: { user: string; password: string },
  ): Promise<void> {
    const joined = simulateJoin(this.joinHost(), request, credential);
    this.effect(`join:${joined.domain}`, (s) => {
      s.domain = joined.domain;
      s.pendingHostname = joined.name;
      s.pendingReboot = true;
      s.joined = { ...(s.joined ?? emptyJoin()), distinguishedName: joined.distinguishedName, pending: true };
    });
  }

  async installProvisioningPackage(file: string, sha256: string): Promise<void> {
    const { sha256: actual, package: pkg } = simulateProvisioningPackage(this.joinHost(), file, sha256);
    this.effect(`ppkg:${actual}`, (s) => {
      const joined = s.joined ?? emptyJoin();
      s.joined = {
        ...joined,
        packages: [...new Set([...joined.packages, actual])],
        ...(pkg && !pkg.expired ? { entraJoined: true, tenantName: pkg.tenantName } : {}),
      };
      if (pkg && !pkg.expired && pkg.tenantId) s.profiles.entraTenantId = pkg.tenantId;
      s.pendingReboot = true;
    });
  }

  // --- Profile migration: the model lives in simulated-profiles.ts ---
  private readonly profileOps = new SimulatedProfileOps({
    profiles: () => this.state.profiles,
    signedIn: () => this.state.signedIn,
    domain: () => this.state.domain,
    freeDiskGb: () => this.state.freeDiskGb,
    pendingReboot: () => [
      ...this.state.rebootIndicators,
      ...(this.state.pendingReboot ? ['simulated pending restart'] : []),
    ],
    effect: (key, change) => this.effect(key, (s) => change(s.profiles)),
  });
  profileFacts(source: string, target: MigrationTarget) {
    return this.profileOps.profileFacts(source, target);
  }
  notifyUser(sid: string, message: string) {
    return this.profileOps.notifyUser(sid, message);
  }
  backupProfile(request: ProfileBackupRequest) {
    return this.profileOps.backupProfile(request);
  }
  backupChecksum(backupId: string) {
    return this.profileOps.backupChecksum(backupId);
  }
  moveProfileListEntry(sourceSid: string, targetSid: string) {
    return this.profileOps.moveProfileListEntry(sourceSid, targetSid);
  }
  substituteProfileAcl(backupId: string, profilePath: string, sourceSid: string, targetSid: string) {
    return this.profileOps.substituteProfileAcl(backupId, profilePath, sourceSid, targetSid);
  }
  substituteHiveAcls(profilePath: string, sourceSid: string, targetSid: string) {
    return this.profileOps.substituteHiveAcls(profilePath, sourceSid, targetSid);
  }
  copyGroupMemberships(sourceSid: string, targetSid: string) {
    return this.profileOps.copyGroupMemberships(sourceSid, targetSid);
  }
  robocopyProfile(request: RobocopyRequest) {
    return this.profileOps.robocopyProfile(request);
  }
  setKnownFolderMove(tenantId: string, notifyUser: boolean) {
    return this.profileOps.setKnownFolderMove(tenantId, notifyUser);
  }
  prepareFirstLogon(sourceSid: string, targetSid: string, profilePath: string) {
    return this.profileOps.prepareFirstLogon(sourceSid, targetSid, profilePath);
  }
  profileSnapshot(sids: string[], paths: string[]) {
    return this.profileOps.profileSnapshot(sids, paths);
  }
  restoreProfileBackup(backupId: string) {
    return this.profileOps.restoreProfileBackup(backupId);
  }
  retireAccount(sid: string, action: 'disable' | 'delete') {
    return this.profileOps.retireAccount(sid, action);
  }

  /** Counts a real execution of a step (`executions`), for tests that prove nothing runs twice. */
  stepStarted(idempotencyKey: string, kind: string): void {
    const step = `${kind} ${idempotencyKey}`;
    this.mutate((s) => void (s.executions[step] = (s.executions[step] ?? 0) + 1));
  }
}
