/**
 * Machines this API process knows have nothing to claim, so an idle agent's long-poll waits
 * without a claim query. With 10,000 agents polling every 25 s, claims that found nothing were most
 * of the database's work (docs/operations.md, Sizing).
 *
 * Known, because every way a task becomes claimable sends a task notice that every replica hears:
 * a dispatch or an activity retry's re-arm (`agent_dispatch_task`), an approval or a move
 * (`wake`). A machine is marked after a claim found nothing; its next notice clears the mark.
 * Safe only while notices are heard, like the key cache: with the LISTEN connection down nothing is
 * marked and every mark is gone. A claim that overlapped a notice of its machine, or a claim of it
 * that delivered a task, marks nothing.
 *
 * A mark is trusted for `ttlMs` at most. What no notice announces — a delivered task whose answer
 * was lost while another replica's claim skipped it (SKIP LOCKED) and found nothing — is claimed
 * again after that long at worst.
 */
export class IdleMachines {
  /** Machine id → until when its mark holds. */
  private readonly idle = new Map<string, number>();
  /** Machine id → notices and deliveries seen: a claim compares it before and after. */
  private readonly events = new Map<string, number>();
  /** Bumped whenever marks are dropped wholesale: a claim begun before it marks nothing. */
  private generation = 0;
  private enabled = false;

  constructor(
    readonly ttlMs = 120_000,
    private readonly maxMachines = 200_000,
  ) {}

  /** Taken before a claim; `claimedNothing` and `changedSince` compare against it. */
  mark(machineId: string): IdleMark {
    return { generation: this.generation, events: this.events.get(machineId) ?? 0 };
  }

  /** Whether a claim for the machine would find nothing (as far as this process can know). */
  has(machineId: string): boolean {
    const until = this.idle.get(machineId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.idle.delete(machineId);
    return false;
  }

  /** A claim begun at `mark` found nothing: mark the machine, unless something happened meanwhile. */
  claimedNothing(machineId: string, mark: IdleMark): void {
    if (!this.enabled || this.changedSince(machineId, mark)) return;
    if (this.idle.size >= this.maxMachines && !this.idle.has(machineId)) return;
    this.idle.set(machineId, Date.now() + this.ttlMs);
  }

  /** A task notice for the machine, or a claim of it that delivered a task: its mark goes. */
  touched(machineId: string): void {
    this.idle.delete(machineId);
    if (this.events.size >= this.maxMachines && !this.events.has(machineId)) {
      // Counters are only ever compared with a mark: dropping them all voids the open marks.
      this.events.clear();
      this.idle.clear();
      this.generation++;
    }
    this.events.set(machineId, (this.events.get(machineId) ?? 0) + 1);
  }

  /** Whether a notice or delivery of the machine, or a wholesale drop, came after `mark`. */
  changedSince(machineId: string, mark: IdleMark): boolean {
    return mark.generation !== this.generation || (this.events.get(machineId) ?? 0) !== mark.events;
  }

  /** Every mark goes (a revocation or a re-key: rare, and a machine row may have changed hands). */
  forgetAll(): void {
    this.idle.clear();
    this.generation++;
  }

  /** Notices flow (true) or may be missed (false: mark nothing, forget everything). */
  setListening(on: boolean): void {
    this.enabled = on;
    this.forgetAll();
  }

  get size(): number {
    return this.idle.size;
  }
}

export interface IdleMark {
  generation: number;
  events: number;
}
