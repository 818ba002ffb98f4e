import { spawn } from 'node:child_process';
import type { AgentState } from '../agent';

/** What the harness needs of a machine's agent, in this process or in its own. */
export interface HarnessAgent {
  readonly state: AgentState;
  readonly machineId: string | null;
  /** Runs until `signal` aborts or the agent stops for good; resolves with its last state. */
  run(signal: AbortSignal): Promise<AgentState>;
}

export interface AgentProcessOptions {
  /** The bundled agent (installer/build-agent.ts `bundleAgent`: what drydock-agent.exe carries). */
  script: string;
  /** Node to run it with; default this process's (tests: the pinned version node.exe carries). */
  node?: string;
  configFile: string;
  /** The simulated Windows host's folder (`--simulated`). */
  hostDir: string;
  log?: (line: string) => void;
  /** How long a stop may take before the process is killed (the service host waits 20 s). */
  stopTimeoutMs?: number;
}

/**
 * One agent as its own process, started the way the service host starts drydock-agent.exe
 * (`--config FILE --stop-on-stdin-close`, here with `--simulated DIR`): stopped by closing its stdin,
 * judged by its exit code and what it logs. Its state and machine id are read from its log lines,
 * so the harness sees it as it sees an in-process agent.
 */
export class AgentProcess implements HarnessAgent {
  state: AgentState = 'starting';
  machineId: string | null = null;
  /** Exit code of the last run: 0 stopped, 3 stopped for good (agent/main.ts). */
  exitCode: number | null = null;
  private readonly lines: string[] = [];

  constructor(private readonly opts: AgentProcessOptions) {}

  /** Everything the process wrote, line by line. */
  get output(): readonly string[] {
    return this.lines;
  }

  run(signal: AbortSignal): Promise<AgentState> {
    const { opts } = this;
    const child = spawn(
      opts.node ?? process.execPath,
      [opts.script, '--config', opts.configFile, '--simulated', opts.hostDir, '--stop-on-stdin-close'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.on('data', (d: Buffer) => {
        const parts = (rest + d.toString()).split('\n');
        rest = parts.pop()!;
        for (const line of parts) this.read(line);
      });
      stream.on('end', () => {
        if (rest) this.read(rest);
      });
    }
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.stdin.end();
      killer = setTimeout(() => child.kill('SIGKILL'), opts.stopTimeoutMs ?? 20_000);
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, killedBy) => {
        clearTimeout(killer);
        signal.removeEventListener('abort', stop);
        this.exitCode = code;
        if (code === 0) {
          this.state = 'stopped';
          resolve(this.state);
        } else if (code === 3 && (this.state === 'revoked' || this.state === 'rejected')) {
          resolve(this.state);
        } else {
          const last = this.lines.slice(-5).join('\n');
          reject(new Error(`the agent process exited with ${code ?? killedBy}: ${last}`));
        }
      });
    });
  }

  private read(line: string): void {
    this.lines.push(line);
    this.opts.log?.(line.replace(/^\d{4}-\d\d-\d\dT\S+ /, ''));
    let m;
    if ((m = /enrolled as (\S+) \((\w+)\)/.exec(line))) {
      this.machineId = m[1]!;
      this.state = m[2] === 'pending' ? 'pending' : 'enrolled';
    } else if ((m = /checked in as (\S+) \((\w+)\)/.exec(line))) {
      this.machineId = m[1]!;
      this.state = m[2] as AgentState;
    } else if ((m = /agent stopped \((\w+)\)/.exec(line))) {
      this.state = m[1] as AgentState;
    }
  }
}
