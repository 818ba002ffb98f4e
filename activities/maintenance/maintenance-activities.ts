import { Context } from '@temporalio/activity';
import type { Orm } from '../../infra/db/orm';
import type { PruneExpiredDataInput, PruneExpiredDataResult } from '../../workflows/maintenance/contracts';

export type MaintenanceActivities = ReturnType<typeof createMaintenanceActivities>;

export function createMaintenanceActivities(deps: { orm: Orm }) {
  return {
    /**
     * Calls `drydock_prune` (migration 0018) until a call deletes fewer rows than a batch in every
     * table. Heartbeats its totals after each batch; a retry resumes from them (deleting is
     * idempotent, so only the report would otherwise restart from zero).
     */
    async pruneExpiredRows(input: PruneExpiredDataInput): Promise<PruneExpiredDataResult> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as PruneExpiredDataResult | undefined;
      const totals: PruneExpiredDataResult = resumed ?? { deleted: {}, batches: 0 };
      for (;;) {
        const rows = await deps.orm.em
          .getConnection()
          .execute<{ what: string; deleted: string }[]>(`select what, deleted from drydock_prune(?, ?)`, [
            input.agentTaskRetentionDays,
            input.batchSize,
          ]);
        totals.batches++;
        let full = false;
        for (const row of rows) {
          const n = Number(row.deleted);
          totals.deleted[row.what] = (totals.deleted[row.what] ?? 0) + n;
          if (n >= input.batchSize) full = true;
        }
        ctx.heartbeat(totals);
        if (!full) return totals;
        if (ctx.cancellationSignal.aborted) return totals;
      }
    },
  };
}
