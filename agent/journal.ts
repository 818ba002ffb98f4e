import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { AgentTaskMessage, ResultRequest } from '../infra/wire/agent-protocol';

export interface JournalEntry {
  task: AgentTaskMessage;
  state: 'started' | 'finished';
  outcome?: ResultRequest;
  /** The API acknowledged the outcome: nothing left to forward. */
  reported: boolean;
}

export interface JournalOptions {
  /**
   * fsync each entry before it counts as written (default). Only the harness turns it off: its
   * simulated machines share one real OS, whose page cache outlives every simulated power cut.
   */
  fsync?: boolean;
  /** Acknowledged entries older than this are deleted when the journal opens (default 7 days). */
  keepReportedMs?: number;
}

const TASK_FILE = /^([0-9a-f-]{36})\.json$/;

/**
 * The agent's journal, one file per task id, written atomically and fsynced. A task delivered
 * again returns the recorded outcome instead of running twice; outcomes not yet acknowledged are
 * forwarded after a restart or an outage (store and forward).
 *
 * The files are read once, when the journal opens: from then on the unacknowledged entries are
 * kept in memory (the agent asks for them before every poll), and acknowledged ones are known by
 * id only. Acknowledged entries past `keepReportedMs` are deleted then, so the folder does not grow
 * with every task the machine ever ran.
 */
export class Journal {
  private readonly dir: string;
  private readonly fsync: boolean;
  /** Started or finished but not acknowledged: what `pending()` returns. */
  private readonly open = new Map<string, JournalEntry>();
  /** Acknowledged: only their ids stay in memory. */
  private readonly reported = new Set<string>();
  /**
   * Every entry's task id by its idempotency key (the workflow run and activity that asked for the
   * step): a server restored from a backup issues a step it had already issued again under a new
   * task id, and the machine must still recognise it (docs/operations.md, backup and restore).
   */
  private readonly byKey = new Map<string, string>();

  constructor(stateDir: string, opts: JournalOptions = {}) {
    this.dir = path.join(stateDir, 'journal');
    this.fsync = opts.fsync ?? true;
    mkdirSync(this.dir, { recursive: true });
    const expired = Date.now() - (opts.keepReportedMs ?? 7 * 24 * 3600_000);
    for (const name of readdirSync(this.dir)) {
      const id = TASK_FILE.exec(name)?.[1];
      if (!id) continue;
      const entry = this.read(id);
      if (!entry) continue;
      if (!entry.reported) this.open.set(id, entry);
      else if (statSync(this.file(id)).mtimeMs < expired) {
        unlinkSync(this.file(id));
        continue;
      } else this.reported.add(id);
      this.byKey.set(entry.task.idempotencyKey, id);
    }
  }

  private file(taskId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(taskId)) throw new Error(`not a task id: ${taskId}`);
    return path.join(this.dir, `${taskId}.json`);
  }

  private read(taskId: string): JournalEntry | null {
    try {
      return JSON.parse(readFileSync(this.file(taskId), 'utf8')) as JournalEntry;
    } catch {
      return null;
    }
  }

  get(taskId: string): JournalEntry | null {
    return this.open.get(taskId) ?? (this.reported.has(taskId) ? this.read(taskId) : null);
  }

  /** The entry of another task with this idempotency key: the same step, issued again under a new id. */
  getByKey(idempotencyKey: string, exceptTaskId: string): JournalEntry | null {
    const id = this.byKey.get(idempotencyKey);
    return id && id !== exceptTaskId ? this.get(id) : null;
  }

  put(given: JournalEntry): void {
    // A gateway's domain credential and one-time installer link live in memory for its step only:
    // never at rest (ADR 0026, 0043).
    const { credential: _credential, installerUrl: _installerUrl, ...task } = given.task;
    const entry: JournalEntry = { ...given, task };
    const file = this.file(entry.task.id);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry));
    if (this.fsync) {
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
    }
    renameSync(tmp, file);
    this.byKey.set(entry.task.idempotencyKey, entry.task.id);
    if (entry.reported) {
      this.open.delete(entry.task.id);
      this.reported.add(entry.task.id);
    } else {
      this.open.set(entry.task.id, entry);
    }
  }

  /** Entries that still need work: unfinished (crashed mid-step) or finished but unacknowledged. */
  pending(): JournalEntry[] {
    return [...this.open.values()];
  }
}
