import type { ChildProcess } from 'node:child_process';

export interface Started {
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  say: (line: string) => void;
  /** Restart after an unexpected exit (with back-off), or only report it. */
  restart: boolean;
  /** An exit code that means "this will never work as configured" (78, EX_CONFIG): no restart. */
  onFatal?: (code: number) => void;
}

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
/** A process that ran this long before it died starts the back-off again from the first delay. */
const HEALTHY_AFTER_MS = 60_000;

/**
 * One process `drydock up` started and keeps alive: restarted with exponential back-off (1 s, 2 s,
 * 4 s … 30 s) when it exits unexpectedly, and each restart said on the console. A configuration
 * error (exit 78) is not retried: the caller stops everything with its message.
 */
export class Supervised {
  private current: Started | null = null;
  private stopping = false;
  private delayMs = FIRST_DELAY_MS;
  private timer: NodeJS.Timeout | null = null;
  restarts = 0;

  constructor(
    readonly name: string,
    private readonly start: () => Promise<Started>,
    private readonly opts: SuperviseOptions,
  ) {}

  /** Starts the first time; a failure here is the caller's (start-up errors stop `drydock up`). */
  async run(): Promise<void> {
    this.watch(await this.start());
  }

  private watch(started: Started): void {
    this.current = started;
    this.opts.say(`drydock: ${this.name} running (pid ${started.process.pid})`);
    const began = Date.now();
    started.process.once('exit', (code, signal) => {
      if (this.stopping || this.current !== started) return;
      this.current = null;
      if (code === 78) {
        this.opts.say(`drydock: the ${this.name} stopped on a configuration error (exit 78)`);
        this.opts.onFatal?.(78);
        return;
      }
      const how = signal ?? `exit ${code}`;
      if (!this.opts.restart) {
        this.opts.say(`drydock: the ${this.name} exited (${how}); everything else keeps running`);
        return;
      }
      if (Date.now() - began >= HEALTHY_AFTER_MS) this.delayMs = FIRST_DELAY_MS;
      this.scheduleRestart(how);
    });
  }

  private scheduleRestart(why: string): void {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, MAX_DELAY_MS);
    this.opts.say(
      `drydock: the ${this.name} stopped (${why}); restarting it in ${Math.round(delay / 1000)} s`,
    );
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopping) return;
      this.start().then(
        (started) => {
          this.restarts++;
          this.opts.say(`drydock: the ${this.name} is back (restart ${this.restarts})`);
          if (this.stopping) void started.stop();
          else this.watch(started);
        },
        (err: Error) => this.scheduleRestart(`restart failed: ${err.message.split('\n')[0]}`),
      );
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const current = this.current;
    this.current = null;
    if (current) await current.stop();
  }
}
