import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Agent, type AgentState } from '../agent';
import { readConfig, writeConfig } from '../config';
import {
  newHostState,
  type HostOptions,
  SimulatedPlatform,
  type SimulatedHostState,
} from '../platform/simulated/simulated-host';
import { AgentProcess, type HarnessAgent } from './agent-process';
import { flakyFetch, noFaults, SimulatedCrash, type FaultSpec } from './faults';

export interface HarnessOptions {
  apiUrl: string;
  siteCode: string;
  enrollmentKey: string;
  fingerprint?: string;
  machines: number;
  /** Machine names (and Windows host names, upper-cased) are `<prefix>-0000`…; default `sim`. */
  namePrefix?: string;
  /** Machines 0..clones-1 also get a clone: same hardware, another OS install, running at once. */
  clones?: number;
  stateDir: string;
  faults?: FaultSpec;
  pollSeconds?: number;
  log?: (line: string) => void;
  /** How long to wait for every machine to enroll. */
  enrollTimeoutMs?: number;
  /**
   * At most this many machines enrolling at once (an imaging wave, not a stampede): the next agent
   * starts when one has enrolled. Unset: every agent starts at once.
   */
  enrollConcurrency?: number;
  /** How long a simulated restart keeps the machine offline. */
  bootDelayMs?: number;
  /** Windows version, edition and form factor of machine i (default: Windows 11 Pro laptop). */
  hostOptions?: (index: number) => HostOptions;
  /**
   * Runs each machine's agent as its own process: this script (the bundle drydock-agent.exe
   * carries, installer/build-agent.ts) under this process's Node, with `--simulated`, stopped by
   * closing its stdin as the service host does. Faults are injected in-process only.
   */
  agentScript?: string;
}

export interface SimulatedMachine {
  name: string;
  dir: string;
  /**
   * The machine's Windows. With `agentScript` the agent's process owns it: each read opens the
   * state it saved last (change it only while the agent is stopped).
   */
  readonly platform: SimulatedPlatform;
  /** An in-process `Agent`, or an `AgentProcess` with `agentScript`. */
  agent: HarnessAgent;
  crashes: number;
  /** Restarts the machine asked for (the reboot step) and power losses injected. */
  restarts: number;
  error?: string;
  /** Stops this machine's current agent (a restart takes the agent process down with it). */
  controller?: AbortController;
  restarting?: boolean;
  /** Switched off (`Harness.switchOff`): its agent is not running. */
  off?: boolean;
  /** The loop that keeps its agent running, while it runs. */
  running?: Promise<void>;
}

export interface HarnessReport {
  enrolled: number;
  pending: number;
  failed: number;
  failures: { name: string; error: string }[];
}

/**
 * Runs simulated Windows machines, each a real agent talking real HTTP to the API. Machines keep
 * their state under `stateDir/<name>`, so a second run is the same fleet coming back.
 */
export class Harness {
  readonly machines: SimulatedMachine[] = [];
  private readonly controller = new AbortController();
  private readonly running: Promise<void>[] = [];
  /** While set, every in-process agent waits here between a step's end and its report (`hold`). */
  private held: { released: Promise<void>; release: () => void } | null = null;

  constructor(private readonly opts: HarnessOptions) {
    if (opts.agentScript && opts.faults) throw new Error('faults are injected into in-process agents only');
    for (let i = 0; i < opts.machines; i++) {
      const name = `${opts.namePrefix ?? 'sim'}-${String(i).padStart(4, '0')}`;
      // Seeded by folder and name: the same folder is the same fleet next time, another folder another fleet.
      const options = opts.hostOptions?.(i) ?? {};
      this.add(name, () => newHostState(name, `${path.resolve(opts.stateDir)}:${name}`, options));
    }
    for (let k = 0; k < (opts.clones ?? 0); k++) {
      const original = this.machines[k]!;
      const name = `clone-${String(k).padStart(4, '0')}`;
      this.add(name, () => cloneOf(original.platform.snapshot, name));
    }
  }

  private add(name: string, initial: () => SimulatedHostState): void {
    const dir = path.join(this.opts.stateDir, name);
    const platform = new SimulatedPlatform(dir, initial);
    const ownProcess = Boolean(this.opts.agentScript);
    const machine: SimulatedMachine = {
      name,
      dir,
      get platform() {
        return ownProcess ? new SimulatedPlatform(dir) : platform;
      },
      agent: this.newAgent(dir, platform),
      crashes: 0,
      restarts: 0,
    };
    const faults = this.opts.faults ?? noFaults;
    // A restart the machine was asked for: the agent goes down with Windows and comes back after boot.
    platform.onRestart = () => {
      machine.restarting = true;
      machine.controller?.abort();
    };
    platform.afterEffect = () => {
      if (faults.midstep > 0 && Math.random() < faults.midstep) throw new SimulatedCrash(true);
    };
    platform.wingetFirstAttemptFailureRate = faults.winget;
    this.machines.push(machine);
  }

  /**
   * The machine's agent config on its disk, as the site installer leaves it: written once, with the
   * enrollment key, which the agent removes once it has enrolled. Only the API address follows the
   * harness (tests move the API between ports).
   */
  private installedConfig(dir: string): string {
    const file = path.join(dir, 'agent-config.json');
    const installed = existsSync(file)
      ? readConfig(file)
      : {
          siteCode: this.opts.siteCode,
          enrollmentKey: this.opts.enrollmentKey,
          ...(this.opts.fingerprint ? { fingerprint: this.opts.fingerprint } : {}),
          stateDir: dir,
        };
    mkdirSync(dir, { recursive: true });
    writeConfig(file, { ...installed, apiUrl: this.opts.apiUrl });
    return file;
  }

  private newAgent(dir: string, platform: SimulatedPlatform): HarnessAgent {
    const faults = this.opts.faults ?? noFaults;
    const configFile = this.installedConfig(dir);
    const log = (line: string) => this.opts.log?.(`[${path.basename(dir)}] ${line}`);
    if (this.opts.agentScript)
      return new AgentProcess({ script: this.opts.agentScript, configFile, hostDir: dir, log });
    return new Agent({
      config: readConfig(configFile),
      configFile,
      platform,
      pollSeconds: this.opts.pollSeconds,
      fetch: flakyFetch(faults.network),
      // One real OS under every simulated machine: its page cache outlives their simulated power
      // cuts, so an fsync would protect nothing here (a real agent fsyncs every entry).
      journal: { fsync: false },
      log,
      afterStep: async () => {
        await this.held?.released;
        if (faults.slowMs) await new Promise((r) => setTimeout(r, faults.slowMs));
        if (Math.random() < faults.reboot) throw new SimulatedCrash(true);
        if (Math.random() < faults.crash) throw new SimulatedCrash();
      },
    });
  }

  /**
   * Starts every agent; a crashed one is restarted on the same machine state after a moment.
   * Clones start once the machines they were cloned from have enrolled, as a VM cloned from a
   * running template would.
   */
  start(): void {
    const originals = this.machines.slice(0, this.opts.machines);
    const clones = this.machines.slice(this.opts.machines);
    if (this.opts.enrollConcurrency)
      this.running.push(this.startInWaves(originals, this.opts.enrollConcurrency));
    else for (const machine of originals) this.running.push(this.run(machine));
    if (clones.length === 0) return;
    this.running.push(
      (async () => {
        while (
          !this.controller.signal.aborted &&
          originals.some((m) => m.agent.state === 'starting' && !m.error)
        ) {
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const machine of clones) this.running.push(this.run(machine));
      })(),
    );
  }

  /** Starts the machines' agents so that at most `limit` of them are enrolling at any moment. */
  private async startInWaves(machines: SimulatedMachine[], limit: number): Promise<void> {
    let next = 0;
    while (next < machines.length && !this.controller.signal.aborted) {
      let enrolling = 0;
      for (let i = 0; i < next; i++)
        if (machines[i]!.agent.state === 'starting' && !machines[i]!.error) enrolling++;
      for (; enrolling < limit && next < machines.length; enrolling++)
        this.running.push(this.run(machines[next++]!));
      if (next < machines.length) await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs the machine until the harness stops or the machine is switched off. */
  private run(machine: SimulatedMachine): Promise<void> {
    machine.running = this.keepAlive(machine);
    return machine.running;
  }

  /**
   * Switches machine `index` off, as a laptop shut for the weekend: its agent stops where it is
   * (a step it was running is left unreported, in its journal) and asks for nothing until
   * `switchOn`. In-process agents only.
   */
  async switchOff(index: number): Promise<void> {
    const machine = this.machines[index];
    if (!machine) throw new Error(`no machine ${index}`);
    if (this.opts.agentScript) throw new Error('only in-process agents can be switched off');
    machine.off = true;
    machine.controller?.abort();
    await machine.running;
  }

  /** Switches it on again: Windows boots (a new boot id) and a fresh agent starts on the machine's state. */
  switchOn(index: number): void {
    const machine = this.machines[index];
    if (!machine?.off) throw new Error(`machine ${index} is not switched off`);
    machine.off = false;
    machine.platform.reboot();
    machine.agent = this.newAgent(machine.dir, machine.platform);
    this.running.push(this.run(machine));
  }

  private async keepAlive(machine: SimulatedMachine): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted && !machine.off) {
      machine.controller = new AbortController();
      const stop = () => machine.controller!.abort();
      signal.addEventListener('abort', stop, { once: true });
      try {
        const state: AgentState = await machine.agent.run(machine.controller.signal);
        if (signal.aborted || machine.off) return;
        if (!machine.restarting) {
          if (state === 'revoked') machine.error = 'agent key revoked';
          return;
        }
        await this.powerCycle(machine);
      } catch (err) {
        if (!(err instanceof SimulatedCrash)) {
          machine.error = (err as Error).message;
          return;
        }
        machine.crashes++;
        if (err.reboot) await this.powerCycle(machine);
        else await new Promise((r) => setTimeout(r, 200));
      } finally {
        signal.removeEventListener('abort', stop);
      }
      if (machine.off) return;
      // A restart asked for while the agent was already down (crashed): it still happens.
      if (machine.restarting && !signal.aborted) await this.powerCycle(machine);
      machine.agent = this.newAgent(machine.dir, machine.platform);
    }
  }

  /** Windows goes down and boots again: a new boot id, the pending name applied, a fresh agent process. */
  private async powerCycle(machine: SimulatedMachine): Promise<void> {
    machine.restarting = false;
    machine.restarts++;
    machine.platform.reboot();
    await new Promise((r) => setTimeout(r, this.opts.bootDelayMs ?? 300));
  }

  /**
   * Holds the fleet still: from now on a machine that ends a step keeps its result (in its journal)
   * and waits, unreported, until `release` (or `stop`), asking for no new step meanwhile. A report
   * already under way still lands, and an idle machine may still pick a step up and run it. A test's fixed point in a run (a backup taken while nothing
   * moves, however long it takes on a busy machine). In-process agents only.
   */
  hold(): void {
    if (this.opts.agentScript) throw new Error('only in-process agents can be held');
    if (this.held) return;
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held = { released, release };
  }

  /** Lets held machines report and go on. */
  release(): void {
    this.held?.release();
    this.held = null;
  }

  /** Waits until every machine has enrolled (active or pending) or failed. */
  async waitForEnrollment(): Promise<HarnessReport> {
    const deadline = Date.now() + (this.opts.enrollTimeoutMs ?? 120_000);
    while (Date.now() < deadline && this.machines.some((m) => m.agent.state === 'starting' && !m.error)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return this.report();
  }

  report(): HarnessReport {
    const failures = this.machines
      .filter(
        (m) =>
          m.error ||
          m.agent.state === 'starting' ||
          m.agent.state === 'revoked' ||
          m.agent.state === 'rejected',
      )
      .map((m) => ({
        name: m.name,
        error: m.error ?? (m.agent.state === 'starting' ? 'did not enroll in time' : m.agent.state),
      }));
    const failed = new Set(failures.map((f) => f.name));
    const ok = this.machines.filter((m) => !failed.has(m.name));
    return {
      enrolled: ok.filter((m) => m.agent.state !== 'pending').length,
      pending: ok.filter((m) => m.agent.state === 'pending').length,
      failed: failures.length,
      failures,
    };
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.release();
    while (this.running.length) await Promise.allSettled(this.running.splice(0));
  }
}

/** A VM cloned from a template: the same hardware identity, but its own OS install and name. */
function cloneOf(original: Readonly<SimulatedHostState>, name: string): SimulatedHostState {
  const fresh = newHostState(name, `clone:${name}`);
  return {
    ...fresh,
    hardware: { ...structuredClone(original.hardware), machineGuid: fresh.hardware.machineGuid },
  };
}
