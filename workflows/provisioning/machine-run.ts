import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import type { ProvisioningActivities } from '../../activities/provisioning/provisioning-activities';
import {
  isEscrowStepKind,
  StepFailure,
  StepKind,
  type EscrowStepKind,
  type StepOutcome,
  type StepPayloads,
  type ValidateResult,
} from '../../infra/wire/agent-steps';
import { agentStepActivity, databaseLocalActivity, type AgentStepPolicy } from '../activity-presets';
import { escrowBeforeChange } from '../escrow/escrow-before-change';
import { bootIdChangedSignal, type StepFailureDetails } from '../machines/contracts';
import { MachineIdKey, PhaseKey, RunStatusKey, SiteIdKey, TenantIdKey } from '../search-attributes';
import {
  cancelSignal,
  machineProgressQuery,
  pauseSignal,
  resumeSignal,
  retryFromStepUpdate,
  RunFailure,
  type MachineRunProgress,
  type MachineRunState,
  type PlanStep,
  type ProvisionMachineInput,
  type ProvisionMachineResult,
  type RetryRequest,
  type StepErrorInfo,
} from './contracts';

const db = proxyLocalActivities<ProvisioningActivities>(databaseLocalActivity);

/** Step attempts per kind of work: a retryable failure runs the step again, up to this many times. */
const MAX_ATTEMPTS: Record<AgentStepPolicy, number> = { check: 3, change: 4, install: 5 };
const NAME_FAILURES = new Set(['NameTaken', 'NoFreeName', 'InvalidName']);
type Outcome = ProvisionMachineResult['outcome'];

/** Why a run stopped: the step and the failure, as the operator reads them. */
export type RunStopped = StepErrorInfo & { step: string };

/** What an operator decided about a failed run (or the hold ran out). */
export type Decision =
  { kind: 'retry'; fromStep: string; refresh: boolean } | { kind: 'cancel' } | { kind: 'gave-up' };

/** An operator's cancel took back a step no machine had picked up: the run ends cancelled now. */
class StepWithdrawn extends Error {}

class StepFailed extends Error {
  constructor(
    readonly step: Pick<PlanStep, 'key'>,
    readonly info: StepErrorInfo,
  ) {
    super(info.message);
  }
}

/** Workflow time (deterministic in the sandbox). */
const now = () => new Date().getTime();

/**
 * One machine's provisioning run: its state, its handlers and the named pieces provisionMachine is
 * made of (provision-machine.ts reads top to bottom over them). The row mirrors it through local
 * activities, which retry until the database answers; only a step's own failure fails the run.
 */
export class MachineRun {
  readonly progress: MachineRunProgress;
  private plan: PlanStep[] = [];
  private bootIdsSeen: string[] = [];
  private retry: RetryRequest | null = null;
  private retryAnswer: { step: string } | { error: string } | null = null;
  /** A collected inventory, stored with the run's next record (no activity of its own). */
  private inventory: Record<string, unknown> | undefined;
  private validation: ValidateResult['items'] | undefined;
  /** A reboot asked for in a phase happens before the next phase starts (kept across a retry). */
  private rebootPending = false;
  private shownStatus: MachineRunState = 'running';
  private readonly offlineLimit: number;

  constructor(private readonly input: ProvisionMachineInput) {
    this.offlineLimit = input.offlineLimitSeconds ?? 3600;
    this.progress = {
      state: 'starting',
      phase: null,
      step: null,
      attempt: 0,
      profileVersion: null,
      steps: [],
      lastError: null,
      startedAt: new Date().toISOString(),
      reboots: [],
      pauseRequested: false,
      cancelRequested: false,
    };
    this.handle();
    this.showStarted();
  }

  private handle(): void {
    const p = this.progress;
    setHandler(machineProgressQuery, () => p);
    setHandler(pauseSignal, () => void (p.pauseRequested = true));
    setHandler(resumeSignal, () => void (p.pauseRequested = false));
    setHandler(cancelSignal, () => void (p.cancelRequested = true));
    setHandler(bootIdChangedSignal, ({ bootId }) => void this.bootIdsSeen.push(bootId));
    // Answers once the run has taken the retry up: the step it starts from, or why it could not.
    setHandler(
      retryFromStepUpdate,
      async (request) => {
        this.retryAnswer = null;
        this.retry = request;
        await condition(() => this.retryAnswer !== null);
        const answer = this.retryAnswer as unknown as { step: string } | { error: string };
        if ('error' in answer)
          throw ApplicationFailure.create({ type: RunFailure.RetryFailed, message: answer.error });
        return answer.step;
      },
      {
        validator: (request) => {
          if (p.state !== 'failed' || this.retry !== null)
            throw new Error(`the run is ${p.state}, not failed: nothing to retry`);
          if (request.fromStep && !request.refreshConfig && !p.steps.some((s) => s.key === request.fromStep))
            throw new Error(`no step ${request.fromStep} in this run's plan`);
        },
      },
    );
  }

  /**
   * Search attributes follow the run's life, not its steps (each upsert is a visibility write,
   * ADR 0012): the starter sets them; a run started without one gets it here.
   */
  private showStarted(): void {
    const given = workflowInfo().typedSearchAttributes;
    const { tenantId, siteId, machineId } = this.input;
    const missing = [
      ...(given.get(TenantIdKey) === undefined ? [{ key: TenantIdKey, value: tenantId }] : []),
      ...(given.get(SiteIdKey) === undefined ? [{ key: SiteIdKey, value: siteId }] : []),
      ...(given.get(MachineIdKey) === undefined ? [{ key: MachineIdKey, value: machineId }] : []),
      ...(given.get(RunStatusKey) !== 'running' ? [{ key: RunStatusKey, value: 'running' }] : []),
    ];
    if (missing.length > 0) upsertSearchAttributes(missing);
  }

  /** RunStatus when the run starts, stops or goes on; with a stop, the Phase it stopped in. */
  private setState(state: MachineRunState): void {
    this.progress.state = state;
    const status = state === 'rebooting' || state === 'starting' ? 'running' : state;
    if (status === this.shownStatus) return;
    this.shownStatus = status;
    const stoppedIn = status !== 'running' && status !== 'passed' ? this.progress.phase : null;
    upsertSearchAttributes([
      { key: RunStatusKey, value: status },
      { key: PhaseKey, value: stoppedIn },
    ]);
  }

  /** Mirrors the run to its row; with `settled`, the same local activity then tells the fleet run. */
  private async record(
    update: Omit<Parameters<typeof db.recordMachineRun>[0], 'tenantId' | 'runId' | 'settle' | 'inventory'>,
    settled?: Outcome,
  ): Promise<void> {
    const report = this.inventory;
    const { fleetWorkflowId } = this.input;
    await db.recordMachineRun({
      tenantId: this.input.tenantId,
      runId: this.input.runId,
      ...update,
      ...(report ? { inventory: { machineId: this.input.machineId, report } } : {}),
      ...(settled && fleetWorkflowId
        ? {
            settle: {
              fleetWorkflowId,
              signal: {
                runId: this.input.runId,
                workflowId: workflowInfo().workflowId,
                outcome: settled,
                ...(this.input.fleetSeq ? { seq: this.input.fleetSeq } : {}),
              },
            },
          }
        : {}),
    });
    if (this.inventory === report) this.inventory = undefined;
  }

  /** Resolves the profile (again, after a fix) and lays the plan out in the progress. */
  private async prepare(refresh: boolean): Promise<void> {
    const prepared = await db.prepareMachineRun({
      tenantId: this.input.tenantId,
      runId: this.input.runId,
      machineId: this.input.machineId,
      profileId: this.input.profileId,
      refresh,
    });
    this.plan = prepared.plan;
    this.progress.profileVersion = prepared.profileVersion;
    const before = new Map(this.progress.steps.map((s) => [s.key, s]));
    this.progress.steps = this.plan.map(
      (s) =>
        before.get(s.key) ?? { key: s.key, phase: s.phase, label: s.label, status: 'pending', attempts: 0 },
    );
  }

  /**
   * Runs the plan from `fromStep` (the start: null) to the end: passed, cancelled, or the reason it
   * stopped. Pause and cancel are honoured between steps.
   */
  async attempt(fromStep: string | null, refresh: boolean): Promise<'passed' | 'cancelled' | RunStopped> {
    try {
      if (this.plan.length === 0 || refresh) await this.prepare(refresh);
      let index = fromStep === null ? 0 : this.resumeIndex(fromStep);
      this.setState('running');
      for (; index < this.plan.length; index++) {
        if (await this.pauseOrCancel()) return 'cancelled';
        await this.runStep(this.plan[index]!, index);
      }
      if (this.rebootPending) await this.reboot('end of provisioning');
      return 'passed';
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (err instanceof StepWithdrawn) return 'cancelled';
      const stopped: RunStopped =
        err instanceof StepFailed
          ? { step: err.step.key, ...err.info }
          : { step: this.progress.step ?? 'prepare', ...describeFailure(err), retryable: false };
      // The name is reserved while preparing: its failures belong to the rename step.
      if (NAME_FAILURES.has(stopped.type)) stopped.step = 'identity.rename';
      return stopped;
    }
  }

  /** From the asked-for step; if a refreshed plan has no such step, from its first unfinished one. */
  private resumeIndex(fromStep: string): number {
    const at = this.plan.findIndex((s) => s.key === fromStep);
    const index =
      at >= 0
        ? at
        : Math.max(
            0,
            this.progress.steps.findIndex((s) => s.status !== 'done'),
          );
    for (const s of this.progress.steps.slice(index)) {
      s.status = 'pending';
      s.attempts = 0;
      delete s.error;
    }
    this.progress.lastError = null;
    this.retryAnswer = { step: this.plan[index]?.key ?? '(end)' };
    return index;
  }

  /** Between steps: wait while paused; true when cancelled. */
  private async pauseOrCancel(): Promise<boolean> {
    const p = this.progress;
    if (p.pauseRequested && !p.cancelRequested) {
      this.setState('paused');
      await this.record({ status: 'paused' });
      await condition(() => !p.pauseRequested || p.cancelRequested);
      this.setState('running');
    }
    return p.cancelRequested;
  }

  /** One plan step: its phase's pending reboot first, then the step with its retries, then what it asks. */
  private async runStep(step: PlanStep, index: number): Promise<void> {
    if (this.progress.phase !== step.phase) {
      if (this.rebootPending) await this.reboot(`after ${this.progress.phase}`);
      this.progress.phase = step.phase;
    }
    this.progress.step = step.key;
    if (isEscrowStepKind(step.kind)) {
      await this.escrowBeforeChange(step as PlanStep<EscrowStepKind>, index);
      return;
    }
    const done = await this.dispatchWithRetries(step, index);
    if (done.result.reboot === true) this.rebootPending = true;
    if (done.kind === StepKind.Rename && this.rebootPending) await this.reboot('rename');
    // A join takes effect with a restart, and join.verify reads it after (ADR 0048). No patch: plans
    // of runs recorded before the join steps existed hold none, so their histories replay unchanged.
    if ((done.kind === StepKind.JoinDomain || done.kind === StepKind.JoinEntra) && this.rebootPending)
      await this.reboot(step.key);
    if (done.kind === StepKind.Inventory) this.inventory = done.result;
    if (done.kind === StepKind.Validate) this.checkValidation(step, done.result);
  }

  /** Escrow before change (ADR 0044; workflows/escrow/escrow-before-change.ts, shared with rotation). */
  private async escrowBeforeChange(step: PlanStep<EscrowStepKind>, index: number): Promise<void> {
    await escrowBeforeChange({
      tenantId: this.input.tenantId,
      machineId: this.input.machineId,
      step,
      run: (task) => this.dispatchWithRetries(task, index),
      pendingLost: (err) => err instanceof StepFailed && err.info.type === StepFailure.EscrowPendingLost,
      newRound: () => void (this.progress.steps[index]!.attempts = 0),
    });
  }

  private checkValidation(step: PlanStep, { items }: ValidateResult): void {
    this.validation = items; // recorded with the run's outcome (no activity of its own)
    const failed = items.filter((i) => !i.pass);
    if (failed.length > 0)
      throw new StepFailed(step, {
        type: RunFailure.ValidationFailed,
        message: `validation failed: ${failed.map((i) => `${i.item} (${i.detail})`).join('; ')}`,
        retryable: false,
      });
  }

  /** An agent step on this machine, named in the Temporal UI by `summary`. */
  private dispatch<K extends StepKind>(
    policy: AgentStepPolicy,
    summary: string,
    task: {
      kind: K;
      payload: StepPayloads[K];
      /** Mirror it on the run's row (a plan step, a restart): not for a probe of the boot id. */
      mirror?: boolean;
      status?: 'rebooting';
      offlineSeconds?: number;
    },
    attempt = this.progress.attempt,
  ) {
    const offline = task.offlineSeconds ?? this.offlineLimit;
    return proxyActivities<AgentChannelActivities>(
      agentStepActivity(policy, offline, summary),
    ).dispatchAgentTask({
      tenantId: this.input.tenantId,
      machineId: this.input.machineId,
      kind: task.kind,
      payload: task.payload,
      deliverWithinSeconds: offline,
      ...(task.mirror === false
        ? {}
        : {
            run: {
              runId: this.input.runId,
              phase: this.progress.phase ?? '',
              step: this.progress.step ?? '',
              attempt,
              ...(task.status ? { status: task.status } : {}),
            },
          }),
    });
  }

  /**
   * A plan step an operator's cancel may take back while no machine has picked it up (an offline
   * laptop): the run then ends cancelled at once, not at its offline limit. A step the machine is
   * running is waited for: a cancel stops the run after its current step.
   */
  private async withdrawable<T>(step: () => Promise<T>): Promise<T> {
    const scope = new CancellationScope();
    let settled = false;
    let withdrawn = false;
    const watch = (async () => {
      await condition(() => settled || this.progress.cancelRequested);
      if (settled) return;
      const taken = await db.withdrawQueuedSteps({
        tenantId: this.input.tenantId,
        workflowId: workflowInfo().workflowId,
      });
      if (taken.withdrawn > 0 && !settled) {
        withdrawn = true;
        scope.cancel();
      }
    })().catch((err: unknown) => {
      if (!isCancellation(err)) throw err; // the whole run was cancelled: its own handling follows
    });
    try {
      return await scope.run(step);
    } catch (err) {
      if (withdrawn && isCancellation(err)) throw new StepWithdrawn();
      throw err;
    } finally {
      settled = true;
      await watch;
    }
  }

  /** The step until it succeeds, fails for good, or has used up its attempts (with back-off between). */
  private async dispatchWithRetries<K extends StepKind>(
    step: PlanStep<K>,
    index: number,
  ): Promise<StepOutcome<K>> {
    const entry = this.progress.steps[index]!;
    const backoff = this.input.retryBackoffSeconds ?? 5;
    for (;;) {
      entry.attempts += 1;
      entry.status = 'running';
      entry.startedAt ??= new Date().toISOString();
      this.progress.attempt = entry.attempts;
      try {
        const result = await this.withdrawable(() =>
          this.dispatch(step.policy, `${step.key}: ${step.label}`, step, entry.attempts),
        );
        entry.status = 'done';
        entry.finishedAt = new Date().toISOString();
        entry.alreadyDone = result.alreadyDone === true;
        delete entry.error;
        return { kind: step.kind, result };
      } catch (err) {
        if (isCancellation(err) || err instanceof StepWithdrawn) throw err;
        const info = describeFailure(err);
        entry.error = info;
        this.progress.lastError = { ...info, step: step.key };
        const spent = entry.attempts >= MAX_ATTEMPTS[step.policy];
        if (!info.retryable || spent) {
          entry.status = 'failed';
          const gaveUp = info.retryable && spent ? ` (gave up after ${entry.attempts} attempts)` : '';
          throw new StepFailed(step, { ...info, message: `${info.message}${gaveUp}` });
        }
        // "Restart before installing" (winget 0x8A15010A): a retry helps only after the restart.
        if (info.type === StepFailure.RebootRequiredFirst) {
          await this.reboot(`${step.key} asks for a restart before it installs`);
          continue;
        }
        await sleep(`${backoff * 2 ** (entry.attempts - 1)} seconds`);
      }
    }
  }

  /**
   * Sends the reboot task and waits for a new boot id: the API's signal, or — when none comes — the
   * machine's own answer. A restart that did not happen is asked for again, twice at most.
   */
  private async reboot(reason: string): Promise<void> {
    this.setState('rebooting');
    const started = now();
    const deadline = started + this.offlineLimit * 1000;
    const patience = Math.min(120, Math.max(30, Math.floor(this.offlineLimit / 4)));
    // Boot ids known before the request: a signal may arrive with the reboot task's own result.
    const seenBefore = new Set(this.bootIdsSeen);
    const restart = (why: string) =>
      this.dispatch('change', `restart: ${why}`, {
        kind: StepKind.Reboot,
        payload: { reason: why },
        status: 'rebooting',
      });
    const { bootId: before } = await restart(reason);
    seenBefore.add(before);
    let askedAt = now();
    let asks = 1;
    while (now() < deadline) {
      if (await condition(() => this.bootIdsSeen.some((id) => !seenBefore.has(id)), `${patience} seconds`))
        return this.rebooted(reason, started);
      // No boot signal: ask the machine itself (a lost signal, an API restart, a slow boot).
      const offlineSeconds = Math.max(1, Math.floor((deadline - now()) / 1000));
      const { bootId } = await this.dispatch('check', 'boot id after the restart', {
        kind: StepKind.BootId,
        payload: {},
        mirror: false,
        offlineSeconds,
      });
      if (bootId !== before) {
        this.bootIdsSeen = [...this.bootIdsSeen, bootId];
        return this.rebooted(reason, started);
      }
      if (now() - askedAt >= 90_000 && asks < 3) {
        // Still the same boot long after the request: the restart did not happen. Ask again.
        await restart(`${reason} (asked again)`);
        askedAt = now();
        asks++;
      }
    }
    throw ApplicationFailure.create({
      type: RunFailure.MachineOffline,
      message:
        asks >= 3
          ? `the machine did not restart (${reason}) although asked ${asks} times`
          : `the machine did not come back from a restart (${reason}) within ${this.offlineLimit} s`,
      nonRetryable: true,
    });
  }

  private rebooted(reason: string, started: number): void {
    this.progress.reboots.push({ reason, seconds: Math.round((now() - started) / 1000) });
    this.rebootPending = false;
    this.setState('running');
  }

  /**
   * A stopped run waits for an operator: retry from a step (after fixing the profile), cancel, or
   * the hold runs out. The retry slot is cleared before the failure is recorded, so a retry that
   * arrives while the record is written is taken, not lost.
   */
  async hold(stopped: RunStopped): Promise<Decision> {
    this.progress.lastError = stopped;
    if (this.retry !== null && this.retryAnswer === null) this.retryAnswer = { error: stopped.message };
    this.retry = null;
    this.setState('failed');
    const { type, message, step } = stopped;
    await this.record(
      { status: 'failed', lastError: { type, message, step }, ...this.validated() },
      'failed',
    );
    const decided = await condition(
      () => this.retry !== null || this.progress.cancelRequested,
      `${this.input.failedHoldSeconds ?? 3 * 24 * 3600} seconds`,
    );
    if (this.progress.cancelRequested) return { kind: 'cancel' };
    if (!decided || this.retry === null) return { kind: 'gave-up' };
    const request: RetryRequest = this.retry;
    return {
      kind: 'retry',
      fromStep: request.fromStep ?? stopped.step,
      refresh: request.refreshConfig === true,
    };
  }

  /** The run's end: its row settled (its open tasks abandoned), its fleet told, an update answered. */
  async finish(outcome: Outcome, reason?: string): Promise<ProvisionMachineResult> {
    this.answerWaitingUpdate(`the run ended ${outcome}`);
    this.setState(outcome);
    await this.record(
      {
        status: outcome,
        finished: true,
        ...(outcome === 'passed' ? { lastError: null } : {}),
        ...this.validated(),
      },
      outcome,
    );
    return { outcome, steps: this.plan.length, ...(reason ? { reason } : {}) };
  }

  /** A failed run's hold ran out: it ends failed (its row says so, with the reason it had). */
  async giveUp(stopped: RunStopped): Promise<ProvisionMachineResult> {
    this.answerWaitingUpdate('the run gave up waiting for a retry');
    await this.record({ status: 'failed', finished: true });
    return { outcome: 'failed', reason: stopped.message, steps: this.plan.length };
  }

  /** A retry update that waits for an answer gets one, whatever ends the run. */
  answerWaitingUpdate(why: string): void {
    if (this.retry !== null && this.retryAnswer === null) this.retryAnswer = { error: why };
  }

  private validated() {
    return this.validation ? { validation: this.validation } : {};
  }
}

/** The failure as the operator should read it, and whether running the step again can help. */
export function describeFailure(err: unknown): StepErrorInfo {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as StepFailureDetails | undefined;
    return { type: cause.type ?? 'Error', message: cause.message, retryable: details?.retryable ?? false };
  }
  if (cause instanceof TimeoutFailure) {
    return {
      type: RunFailure.MachineUnreachable,
      message: 'the machine did not finish the step within its limits (offline limit, then running time)',
      retryable: false,
    };
  }
  return {
    type: (cause as Error)?.name ?? 'Error',
    message: (cause as Error)?.message ?? String(cause),
    retryable: false,
  };
}
