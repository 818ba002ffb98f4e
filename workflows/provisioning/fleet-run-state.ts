import {
  condition,
  log,
  patched,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProvisioningActivities } from '../../activities/provisioning/provisioning-activities';
import { databaseLocalActivity } from '../activity-presets';
import { FleetRunIdKey, RunStatusKey, TenantIdKey } from '../search-attributes';
import {
  cancelSignal,
  fleetProgressQuery,
  machineRunSettledSignal,
  pauseSignal,
  resumeSignal,
  type FleetRunCarried,
  type FleetRunInput,
  type FleetRunProgress,
  type FleetRunResult,
  type MachineRunSettled,
} from './contracts';
import { FleetWindow } from './fleet-window';

const db = proxyLocalActivities<ProvisioningActivities>(databaseLocalActivity);
type FleetStatus = 'running' | 'paused' | 'cancelling' | 'cancelled' | 'completed';

/**
 * A fleet run's state and the named pieces fleetRun is made of (fleet-run.ts reads top to bottom
 * over them). The window (fleet-window.ts) decides starts and settles; the machines' outcomes are
 * counted from their rows (the truth, retries included), read with each record of the fleet's row.
 */
export class FleetRunState {
  readonly window: FleetWindow;
  private readonly carried: FleetRunCarried;
  private readonly settles: MachineRunSettled[] = [];
  private finished = false;
  private checkDue = false;
  /** Settled by their rows at the last check, and no signal yet: late if the next check says so too. */
  private suspects: string[] = [];
  private settledSinceRecord = false;
  private lastStatus: FleetStatus | null = null;
  /** The RunStatus search attribute as this run knows it (null: unknown, as before the patch). */
  private shownStatus: FleetStatus | null = null;
  private recordedAt = 0;

  constructor(private readonly input: FleetRunInput) {
    const c = input.carried;
    this.carried = {
      total: c?.total ?? -1,
      nextSeq: c?.nextSeq ?? 1,
      running: c?.running ?? [],
      early: c?.early ?? [],
      passed: c?.passed ?? 0,
      failed: c?.failed ?? 0,
      cancelled: c?.cancelled ?? 0,
      paused: c?.paused ?? false,
      cancelRequested: c?.cancelRequested ?? false,
      cancelSent: c?.cancelSent ?? false,
      batches: c?.batches ?? 1,
      closedInTemporal: c?.closedInTemporal ?? 0,
      // A v1 run counted both kinds as one.
      lateSignals: c?.lateSignals ?? c?.recovered ?? 0,
    };
    this.window = new FleetWindow(
      { concurrency: input.concurrency, batchSize: input.batchSize ?? 500 },
      { ...this.carried, early: this.carried.early ?? [] },
    );
    setHandler(fleetProgressQuery, () => this.progress());
    setHandler(machineRunSettledSignal, (s) => void this.settles.push(s));
    setHandler(pauseSignal, () => void (this.carried.paused = true));
    setHandler(resumeSignal, () => void (this.carried.paused = false));
    setHandler(cancelSignal, () => void (this.carried.cancelRequested = true));
    this.armCheck();
  }

  get cancelRequested(): boolean {
    return this.carried.cancelRequested;
  }

  /** Temporal's own cancel (the UI, the CLI) is a cancel too. */
  requestCancel(): void {
    this.carried.cancelRequested = true;
  }

  progress(): FleetRunProgress {
    const c = this.carried;
    const total = Math.max(0, this.window.total);
    const state =
      this.finished || this.window.done(c.cancelRequested)
        ? 'done'
        : this.window.total < 0
          ? 'selecting'
          : c.cancelRequested
            ? 'cancelling'
            : c.paused
              ? 'paused'
              : 'running';
    return {
      total,
      queued: Math.max(0, this.window.total - (this.window.nextSeq - 1)),
      running: this.window.runningCount,
      passed: c.passed,
      failed: c.failed,
      cancelled: c.cancelled,
      paused: c.paused,
      cancelRequested: c.cancelRequested,
      state,
      batches: c.batches,
      recovered: (c.closedInTemporal ?? 0) + (c.lateSignals ?? 0),
      closedInTemporal: c.closedInTemporal ?? 0,
      lateSignals: c.lateSignals ?? 0,
    };
  }

  /** The first run of the workflow: what the starter did not set, and the machines fixed. */
  async begin(): Promise<void> {
    const given = workflowInfo().typedSearchAttributes;
    // The status the run already shows (set by its starter, or carried across continue-as-new):
    // upserted again only when it changes. Runs recorded before this wrote it after every batch.
    const statusOnce = patched('fleet-run-status-once');
    if (statusOnce) this.shownStatus = (given.get(RunStatusKey) as FleetStatus | undefined) ?? null;
    if (this.input.carried) return; // continue-as-new keeps the search attributes
    const missing = [
      ...(given.get(TenantIdKey) === undefined ? [{ key: TenantIdKey, value: this.input.tenantId }] : []),
      ...(given.get(FleetRunIdKey) === undefined
        ? [{ key: FleetRunIdKey, value: this.input.fleetRunId }]
        : []),
      ...(given.get(RunStatusKey) !== 'running' ? [{ key: RunStatusKey, value: 'running' }] : []),
    ];
    if (missing.length > 0) upsertSearchAttributes(missing);
    if (statusOnce) this.shownStatus = 'running';
    if (this.window.total < 0) this.window.total = (await db.snapshotFleetSelection(this.input)).total;
  }

  done(): boolean {
    return this.window.done(this.carried.cancelRequested);
  }

  applySettles(): void {
    while (this.settles.length > 0) this.apply(this.settles.shift()!);
  }

  private apply(s: MachineRunSettled): boolean {
    // Any settle may change the counts (a retried machine's pass too): the next record reads them.
    this.settledSinceRecord = true;
    return this.window.settle(s) === 'freed';
  }

  private armCheck(): void {
    // A timer of its own; when the workflow is cancelled it is cancelled too, and that is no error.
    void sleep(`${this.input.reconcileSeconds ?? 60} seconds`).then(
      () => void (this.checkDue = true),
      () => undefined,
    );
  }

  /**
   * Every `reconcileSeconds`: the runs it waits for, against their rows and Temporal (ADR 0014). A
   * run ended in Temporal without settling is healed by the check and applied at once; one settled
   * by its row with no signal is given one more check, then applied (and alerted) as late.
   */
  async checkIfDue(): Promise<void> {
    if (!this.checkDue) return;
    this.checkDue = false;
    const waitingFor = this.window.waitingFor;
    if (waitingFor.length > 0) {
      const found = await db.checkFleetMachines({
        tenantId: this.input.tenantId,
        fleetRunId: this.input.fleetRunId,
        workflowIds: waitingFor,
        suspects: this.suspects,
      });
      // Signals that came while the check ran first: what is left is missed or late.
      this.applySettles();
      for (const s of found.closed) if (this.apply(s)) this.carried.closedInTemporal! += 1;
      for (const s of found.late) if (this.apply(s)) this.carried.lateSignals! += 1;
      this.suspects = found.suspects;
      if (found.late.length > 0)
        log.warn('machine runs settled without their signal reaching the fleet run', {
          workflowIds: found.late.map((s: MachineRunSettled) => s.workflowId),
        });
    }
    this.armCheck();
  }

  /** A cancel reaches every started machine run once, fanned out by an activity (not per machine here). */
  async cancelIfAsked(): Promise<void> {
    if (!this.carried.cancelRequested || this.carried.cancelSent) return;
    await db.cancelFleetMachines({ tenantId: this.input.tenantId, fleetRunId: this.input.fleetRunId });
    this.carried.cancelSent = true;
  }

  /** Fills the window: one local activity starts the next machines' runs (one marker, no task per start). */
  async refillIfDue(): Promise<void> {
    const c = this.carried;
    if (c.paused || c.cancelRequested || !this.window.refillDue()) return;
    const started = await db.startFleetMachines({
      tenantId: this.input.tenantId,
      fleetRunId: this.input.fleetRunId,
      fleetWorkflowId: workflowInfo().workflowId,
      profileId: this.input.profileId,
      fromSeq: this.window.nextSeq,
      limit: this.window.room(),
      runOptions: {
        ...(this.input.offlineLimitSeconds !== undefined
          ? { offlineLimitSeconds: this.input.offlineLimitSeconds }
          : {}),
        ...(this.input.failedHoldSeconds !== undefined
          ? { failedHoldSeconds: this.input.failedHoldSeconds }
          : {}),
        ...(this.input.retryBackoffSeconds !== undefined
          ? { retryBackoffSeconds: this.input.retryBackoffSeconds }
          : {}),
      },
    });
    for (const s of this.window.started(started)) this.apply(s);
  }

  private status(): FleetStatus {
    return this.carried.cancelRequested ? 'cancelling' : this.carried.paused ? 'paused' : 'running';
  }

  /** The portal's row: on every status change, and the counts at most every 5 seconds after settles. */
  async recordIfChanged(): Promise<void> {
    const status = this.status();
    const clock = new Date().getTime();
    if (status === this.lastStatus && !(this.settledSinceRecord && clock - this.recordedAt >= 5000)) return;
    if (status !== this.lastStatus && status !== this.shownStatus) {
      upsertSearchAttributes([{ key: RunStatusKey, value: status }]);
      if (this.shownStatus !== null) this.shownStatus = status;
    }
    this.lastStatus = status;
    this.recordedAt = clock;
    this.settledSinceRecord = false;
    await this.record(status);
  }

  private async record(status: FleetStatus, finished = false): Promise<void> {
    const counts = await db.recordFleetRun({
      tenantId: this.input.tenantId,
      fleetRunId: this.input.fleetRunId,
      status,
      finished,
    });
    Object.assign(this.carried, counts);
  }

  shouldContinueAsNew(): boolean {
    return this.window.batchFull() || workflowInfo().continueAsNewSuggested;
  }

  carry(): FleetRunInput {
    this.applySettles();
    return {
      ...this.input,
      carried: { ...this.carried, ...this.window.carry(), batches: this.carried.batches + 1 },
    };
  }

  /** Waits for something to do: a settle, a check, a control, room to start more, counts to record. */
  async waitForWork(): Promise<void> {
    const c = this.carried;
    const seen = `${c.paused}:${c.cancelRequested}`;
    const work = () =>
      this.settles.length > 0 ||
      this.checkDue ||
      `${c.paused}:${c.cancelRequested}` !== seen ||
      (!c.paused && !c.cancelRequested && this.window.refillDue());
    if (!this.settledSinceRecord) return void (await condition(work));
    // Counts not recorded yet: wake when they are due (at most every 5 seconds).
    const dueInMs = Math.max(1, this.recordedAt + 5000 - new Date().getTime());
    await condition(work, dueInMs);
  }

  /** The end: final counts from the rows (never-started machines of a cancelled run included). */
  async finish(): Promise<FleetRunResult> {
    const status = this.carried.cancelRequested ? 'cancelled' : 'completed';
    this.finished = true;
    upsertSearchAttributes([{ key: RunStatusKey, value: status }]);
    await this.record(status, true);
    const c = this.carried;
    return {
      total: Math.max(0, this.window.total),
      passed: c.passed,
      failed: c.failed,
      cancelled: c.cancelled,
      outcome: c.cancelRequested ? 'CANCELLED' : c.failed > 0 ? 'FAIL' : 'PASS',
    };
  }
}
