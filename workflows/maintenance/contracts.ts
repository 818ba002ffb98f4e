/**
 * Maintenance as the API, the worker and the CLI see it: retention of what grows without bound
 * (ADR 0039). Imports nothing from the implementation.
 */
export { CORE_TASK_QUEUE } from '../task-queues';

/** The Temporal Schedule that prunes expired rows; the worker creates it if it is missing. */
export const RETENTION_SCHEDULE_ID = 'drydock-retention';

/** Each run's id: the schedule appends its own timestamp. */
export const pruneExpiredDataWorkflowId = 'maintenance:prune';

export interface PruneExpiredDataInput {
  /** Finished agent tasks older than this are deleted once their work is over (at least 1). */
  agentTaskRetentionDays: number;
  /** Rows per statement (1..100000): small enough to keep locks and WAL bursts short. */
  batchSize: number;
}

export interface PruneExpiredDataResult {
  /** Rows deleted, by table. */
  deleted: Record<string, number>;
  /** Statements it took. */
  batches: number;
}
