import type { MachineRunSettled } from './contracts';

/** What the window carries over continue-as-new: bounded by the window size, whatever the fleet's. */
export interface FleetWindowState {
  total: number;
  /** The next machine (by sequence number) to start. */
  nextSeq: number;
  /** Runs started and not settled: at most `concurrency`. */
  running: string[];
  /** Settles of runs started by a start whose result this workflow had not taken yet. */
  early: MachineRunSettled[];
}

/**
 * The sliding window of a fleet run, with no I/O: which machines run, when to start more, what a
 * settle frees. Starts go out in groups of a tenth of the window (one local activity per group,
 * the window stays ≥ 90% full); a batch ends after `batchSize` starts (then continue-as-new).
 * Settles arrive at least once and in any order: a run's first settle frees its slot, a repeat or a
 * settle of a run that already settled changes nothing, and a settle of a run this workflow has not
 * seen start yet (its start activity is being retried) waits for the start.
 */
export class FleetWindow {
  total: number;
  nextSeq: number;
  private readonly running: Set<string>;
  private readonly early: Map<string, MachineRunSettled>;
  private startedThisBatch = 0;

  constructor(
    private readonly limits: { concurrency: number; batchSize: number },
    state: FleetWindowState,
  ) {
    this.total = state.total;
    this.nextSeq = state.nextSeq;
    this.running = new Set(state.running);
    this.early = new Map(state.early.map((s) => [s.workflowId, s]));
  }

  get runningCount(): number {
    return this.running.size;
  }

  get waitingFor(): string[] {
    return [...this.running];
  }

  /** Machines this batch may still start now. */
  room(): number {
    return Math.max(
      0,
      Math.min(this.limits.concurrency - this.running.size, this.limits.batchSize - this.startedThisBatch),
    );
  }

  /** Worth a start activity: a group's worth of room, or the last machines, or the batch's last room. */
  refillDue(): boolean {
    const toStart = this.total - this.nextSeq + 1;
    const batchLeft = this.limits.batchSize - this.startedThisBatch;
    const room = this.room();
    const group = Math.max(1, Math.floor(this.limits.concurrency / 10));
    return room > 0 && toStart > 0 && (room >= group || room >= toStart || room === batchLeft);
  }

  /**
   * A start activity's result: these runs are running now — except those whose rows had settled
   * already (`settled`: never started again), which take no slot. Returns settles that were
   * waiting for their runs' starts.
   */
  started(
    runs: { workflowId: string; seq: number; settled?: MachineRunSettled['outcome'] }[],
  ): MachineRunSettled[] {
    // No rows left to start: the selection shrank (never below what was started).
    if (runs.length === 0) this.nextSeq = this.total + 1;
    const waiting: MachineRunSettled[] = [];
    for (const run of runs) {
      this.nextSeq = Math.max(this.nextSeq, run.seq + 1);
      this.startedThisBatch++;
      const early = this.early.get(run.workflowId);
      this.early.delete(run.workflowId);
      if (run.settled) continue;
      this.running.add(run.workflowId);
      if (early) waiting.push(early);
    }
    return waiting;
  }

  /**
   * A run settled. 'freed': its slot is free. 'early': it settled before its start was taken (kept
   * until then). 'ignored': a repeat, or a run that settled before (a retry's later outcome).
   */
  settle(s: MachineRunSettled): 'freed' | 'early' | 'ignored' {
    if (this.running.delete(s.workflowId)) return 'freed';
    // Numbered at or beyond the next start: its start is on its way. Without a number (a run of an
    // older version): kept while the window has not seen it.
    if (s.seq === undefined ? !this.early.has(s.workflowId) : s.seq >= this.nextSeq) {
      this.early.set(s.workflowId, s);
      return 'early';
    }
    return 'ignored';
  }

  /** No machine left to start (all started, or the run was cancelled). */
  exhausted(cancelled: boolean): boolean {
    return this.nextSeq > this.total || cancelled;
  }

  done(cancelled: boolean): boolean {
    return this.total >= 0 && this.exhausted(cancelled) && this.running.size === 0;
  }

  batchFull(): boolean {
    return this.startedThisBatch >= this.limits.batchSize;
  }

  carry(): FleetWindowState {
    return {
      total: this.total,
      nextSeq: this.nextSeq,
      running: [...this.running],
      early: [...this.early.values()],
    };
  }
}
