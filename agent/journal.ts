import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
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

/**
 * The agent's journal, one file per task id, written atomically and fsynced. A task delivered
 * again returns the recorded outcome instead of running twice; outcomes not yet acknowledged are
 * forwarded after a restart or an outage (store and forward).
 */
export class Journal {
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'journal');
    mkdirSync(this.dir, { recursive: true });
  }

  private file(taskId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(taskId)) throw new Error(`not a task id: ${taskId}`);
    return path.join(this.dir, `${taskId}.json`);
  }

  get(taskId: string): JournalEntry | null {
    try {
      return JSON.parse(readFileSync(this.file(taskId), 'utf8')) as JournalEntry;
    } catch {
      return null;
    }
  }

  put(entry: JournalEntry): void {
    const file = this.file(entry.task.id);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  }

  /** Entries that still need work: unfinished (crashed mid-step) or finished but unacknowledged. */
  pending(): JournalEntry[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.get(f.slice(0, -5)))
      .filter((e): e is JournalEntry => e !== null && !e.reported);
  }
}
