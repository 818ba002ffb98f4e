import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { computeMachineUid } from '../infra/wire/machine-uid';
import type { AgentTaskMessage, ResultRequest } from '../infra/wire/agent-protocol';
import { isEscrowStepKind, StepFailure, StepKind } from '../infra/wire/agent-steps';
import { AgentApiClient, ApiError, type FetchLike } from './api-client';
import { checkApiUrl, writeConfig, type AgentConfig } from './config';
import { Journal, type JournalEntry, type JournalOptions } from './journal';
import { PlatformError, StepError, type Platform } from './platform/platform';
import { runStep } from './steps';
import { PendingSecrets } from './steps/escrow';

export const AGENT_VERSION = '0.1.0';
const AGENT_KEY = 'agent-key';
/** The current enrollment attempt's secret, kept until the agent key it obtains is stored (ADR 0009). */
const ENROLL_ATTEMPT = 'enroll-attempt';

export interface AgentOptions {
  config: AgentConfig;
  /** Where to rewrite the config once the enrollment key is no longer needed. */
  configFile?: string;
  platform: Platform;
  fetch?: FetchLike;
  log?: (line: string) => void;
  pollSeconds?: number;
  /** Called between a step's end and its report: fault injection for tests and the harness. */
  afterStep?: (task: AgentTaskMessage) => Promise<void>;
  journal?: JournalOptions;
}

export type AgentState = 'starting' | 'enrolled' | 'pending' | 'revoked' | 'rejected' | 'stopped';

/**
 * The endpoint agent: enroll once, then check in and long-poll forever with jittered backoff,
 * run each task once (journal), and never lose a finished result (store and forward).
 */
export class Agent {
  readonly api: AgentApiClient;
  readonly journal: Journal;
  state: AgentState = 'starting';
  machineId: string | null = null;
  private lastBootId: string | null = null;
  private backoffMs = 500;
  private readonly log: (line: string) => void;
  /** Escrowed, not yet applied secrets: this process's memory only (agent/steps/escrow.ts). */
  private readonly pendingSecrets = new PendingSecrets();

  constructor(private readonly opts: AgentOptions) {
    checkApiUrl(opts.config.apiUrl);
    this.api = new AgentApiClient(opts.config.apiUrl, opts.fetch);
    this.journal = new Journal(opts.config.stateDir, opts.journal);
    this.log = opts.log ?? (() => {});
  }

  /**
   * First run: enroll with the site's key, keep the agent key protected, forget the enrollment key.
   * An enrollment key in the config of an enrolled agent means an installer ran again (a repair, an
   * upgrade, another site's installer): enroll again, proving with the current agent key that this
   * is the same install (ADR 0009). A move to another site then waits for an operator's approval.
   */
  async ensureEnrolled(): Promise<void> {
    const { config, platform } = this.opts;
    const stored = await platform.loadProtected(AGENT_KEY);
    if (stored && !config.enrollmentKey) {
      this.api.agentKey = stored;
      this.state = 'enrolled';
      return;
    }
    if (!config.enrollmentKey)
      throw new Error(
        'no agent key stored and no enrollment key in the config: reinstall with the site installer',
      );
    const hardware = await platform.hardwareFacts();
    // The stored key, if any, goes along as the proof of possession (Authorization header).
    this.api.agentKey = stored;
    // One attempt secret for every try of this enrollment, stored before the first: if the API
    // commits and dies before answering, the repeat proves it is this install (no second row).
    let attempt = await platform.loadProtected(ENROLL_ATTEMPT);
    if (!attempt) {
      attempt = randomBytes(32).toString('base64url');
      await platform.saveProtected(ENROLL_ATTEMPT, attempt);
    }
    let res;
    try {
      res = await this.api.enroll({
        siteCode: config.siteCode,
        enrollmentKey: config.enrollmentKey,
        machineUid: computeMachineUid(hardware),
        hostname: await platform.hostname(),
        hardware,
        os: await platform.osInfo(),
        agentVersion: AGENT_VERSION,
        attempt,
        ...(config.fingerprint ? { fingerprint: config.fingerprint } : {}),
        ...(config.labels && Object.keys(config.labels).length ? { labels: config.labels } : {}),
      });
    } catch (err) {
      // An outdated installer's key on an enrolled machine: keep the identity it has.
      if (stored && err instanceof ApiError && err.code === 'ENROLLMENT_REJECTED') {
        this.log(`re-enrollment rejected (${err.message}); keeping the current agent key`);
        await platform.deleteProtected(ENROLL_ATTEMPT);
        this.forgetEnrollmentKey();
        this.state = 'enrolled';
        return;
      }
      this.api.agentKey = null;
      throw err;
    }
    await platform.saveProtected(AGENT_KEY, res.agentKey);
    await platform.deleteProtected(ENROLL_ATTEMPT);
    this.api.agentKey = res.agentKey;
    this.machineId = res.machineId;
    this.state = res.status === 'pending' ? 'pending' : 'enrolled';
    this.forgetEnrollmentKey();
    this.log(`enrolled as ${res.machineId} (${res.status})`);
  }

  private forgetEnrollmentKey(): void {
    const { config, configFile } = this.opts;
    if (!config.enrollmentKey) return;
    const { enrollmentKey: _forgotten, ...rest } = config;
    this.opts.config = rest;
    if (configFile) writeConfig(configFile, rest);
  }

  async checkIn(): Promise<void> {
    const platform = this.opts.platform;
    const bootId = await platform.bootId();
    const res = await this.api.checkIn({
      bootId,
      uptimeSeconds: await platform.uptimeSeconds(),
      agentVersion: AGENT_VERSION,
      hostname: await platform.hostname(),
    });
    this.lastBootId = bootId;
    const state = res.status === 'pending' ? 'pending' : res.status === 'retired' ? 'rejected' : 'enrolled';
    // Said once per change (a start, an approval): the log then names the machine it speaks for.
    if (res.machineId !== this.machineId || state !== this.state)
      this.log(`checked in as ${res.machineId} (${state})`);
    this.machineId = res.machineId;
    this.state = state;
  }

  /** Runs until `signal` aborts or the key is revoked. Survives API outages. */
  async run(signal: AbortSignal): Promise<AgentState> {
    while (!signal.aborted) {
      try {
        if (this.state === 'starting') await this.ensureEnrolled();
        await this.forwardPending();
        if (this.lastBootId === null || this.lastBootId !== (await this.opts.platform.bootId()))
          await this.checkIn();
        let task = await this.api.poll(this.opts.pollSeconds ?? 25, signal);
        this.backoffMs = 500;
        // Each result asks for the next task in the same request: one request per step.
        while (task && !signal.aborted) task = await this.handle(task, signal);
      } catch (err) {
        if (signal.aborted) break;
        // A fault hook may simulate the process dying: nothing after it may run.
        if ((err as { fatal?: boolean }).fatal) throw err;
        if (err instanceof ApiError && err.code === 'ENROLLMENT_REJECTED') {
          // A wrong or rotated key never becomes right: stop and say so (the installer is outdated).
          this.log(`enrollment rejected: ${err.message}; install the site's current installer`);
          this.state = 'rejected';
          return this.state;
        }
        if (err instanceof ApiError && err.status === 401 && this.state !== 'starting') {
          this.log('agent key rejected (revoked or machine rejected); stopping');
          this.state = 'revoked';
          return this.state;
        }
        const retryAfter =
          err instanceof ApiError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
        const delay = Math.max(retryAfter, this.backoffMs * (0.5 + Math.random()));
        this.log(`${(err as Error).message}; retrying in ${Math.round(delay)} ms`);
        this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
        await sleep(delay, signal);
      }
    }
    this.state = 'stopped';
    return this.state;
  }

  /**
   * One task, once: a finished entry is reported again, never re-run. With `signal` (the poll
   * loop), the report waits for the machine's next task and returns it.
   */
  async handle(task: AgentTaskMessage, signal?: AbortSignal): Promise<AgentTaskMessage | null> {
    const entry = this.journal.get(task.id);
    if (entry?.state === 'finished') return this.report(entry, signal);
    // The same step under a new task id: a server restored from a backup taken before it ran issues
    // it again. Its recorded outcome answers the new task; the step does not run twice. The same
    // step means the same key, kind and payload: a restored run may take another path from the
    // backup on and ask for something else under that key (it never heard of a reboot, so it asks
    // for the boot id). Not an escrow step (the restored database lost the secret that step
    // escrowed: it makes a new one) nor a boot-id reading (what is asked is the boot id now).
    const earlier =
      entry || isEscrowStepKind(task.kind) || task.kind === StepKind.BootId
        ? null
        : this.journal.getByKey(task.idempotencyKey, task.id);
    if (
      earlier?.state === 'finished' &&
      earlier.task.kind === task.kind &&
      isDeepStrictEqual(earlier.task.payload, task.payload)
    ) {
      const answer: JournalEntry = { task, state: 'finished', outcome: earlier.outcome!, reported: false };
      this.journal.put(answer);
      this.log(
        `task ${task.id} is step ${task.idempotencyKey}, run before as task ${earlier.task.id}: reporting that outcome`,
      );
      return this.report(answer, signal);
    }
    this.journal.put({ task, state: 'started', reported: false });
    const outcome = await this.execute(task);
    const finished: JournalEntry = { task, state: 'finished', outcome, reported: false };
    this.journal.put(finished);
    await this.opts.afterStep?.(task);
    return this.report(finished, signal);
  }

  private async execute(task: AgentTaskMessage): Promise<ResultRequest> {
    const controller = new AbortController();
    let lastProgress = { percent: 0, message: 'started' };
    let sentAt = performance.now();
    const send = () => {
      sentAt = performance.now();
      void this.api.progress(task.id, lastProgress).catch(() => {});
    };
    // Heartbeat while the step runs, so Temporal knows this machine is alive.
    const heartbeat = setInterval(send, 10_000);
    try {
      const result = await runStep(this.opts.platform, task.kind, task.payload, {
        idempotencyKey: task.idempotencyKey,
        pendingSecrets: this.pendingSecrets,
        signal: controller.signal,
        ...(task.credential ? { credential: task.credential } : {}),
        ...(task.installerUrl ? { installerUrl: task.installerUrl } : {}),
        // Progress travels at most every 2 s: a step that finishes sooner reports only its result
        // (each report is an HTTP request and a Temporal heartbeat; at fleet scale they add up).
        progress: async (percent, message) => {
          lastProgress = { percent, message: message.slice(0, 200) };
          if (performance.now() - sentAt >= 2_000) send();
        },
        checkApi: async () => {
          // Three tries: one dropped packet is not "no network".
          let detail = '';
          for (let attempt = 1; attempt <= 3; attempt++) {
            const started = performance.now();
            try {
              await this.api.progress(task.id, {
                percent: lastProgress.percent,
                message: 'checking the API',
              });
              const ms = Math.round(performance.now() - started);
              return { ok: true, ms, detail: `API answered in ${ms} ms` };
            } catch (err) {
              detail = `API unreachable after ${attempt} tries: ${(err as Error).message}`;
              await new Promise((r) => setTimeout(r, 500));
            }
          }
          return { ok: false, ms: 0, detail };
        },
      });
      return { ok: true, result };
    } catch (err) {
      // A simulated power loss or crash: the process is gone, nothing after it runs.
      if ((err as { fatal?: boolean }).fatal) throw err;
      if (err instanceof StepError)
        return { ok: false, error: { type: err.type, message: err.message, retryable: err.retryable } };
      // Access denied, an invalid argument, an unsupported call: running the step again cannot help.
      if (err instanceof PlatformError && err.permanent)
        return {
          ok: false,
          error: { type: StepFailure.WindowsError, message: err.message.slice(0, 1000), retryable: false },
        };
      return {
        ok: false,
        error: { type: 'StepCrashed', message: (err as Error).message.slice(0, 1000), retryable: true },
      };
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async report(entry: JournalEntry, signal?: AbortSignal): Promise<AgentTaskMessage | null> {
    // After a restart request the machine goes down: nothing to wait for then.
    const wait = signal && entry.task.kind !== StepKind.Reboot ? (this.opts.pollSeconds ?? 25) : undefined;
    let next: AgentTaskMessage | null = null;
    try {
      next = await this.api.result(
        entry.task.id,
        entry.outcome!,
        wait,
        wait === undefined ? undefined : signal,
      );
    } catch (err) {
      // Refused for good: the server does not know the task (404: a database restored from a backup
      // taken before it was issued) or will never take this result (400). Retrying would hold the
      // agent here forever, never polling again; the outcome stays in the journal, where a re-issue
      // of the same step finds it.
      if (!(err instanceof ApiError) || (err.status !== 404 && err.status !== 400)) throw err;
      this.log(
        `the API refused the result of task ${entry.task.id} for good (${err.message}); not sending it again`,
      );
    }
    this.journal.put({ ...entry, reported: true });
    return next;
  }

  /** After a restart or an outage: finish what was interrupted and forward what was not acknowledged. */
  private async forwardPending(): Promise<void> {
    for (const entry of this.journal.pending()) {
      if (entry.state === 'finished') await this.report(entry);
      else await this.handle(entry.task);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
