import { randomUUID } from 'node:crypto';
import { appendAudit } from '../../infra/db/audit';
import { AlertKind } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { withdrawQueuedTasks } from '../../infra/db/tweak-undos';
import {
  MigrationFailure,
  type MigrationProgress,
  type MigrationState,
} from '../../workflows/migration/contracts';

export interface ProfileMigrationUpdate {
  tenantId: string;
  migrationId: string;
  machineId: string;
  /** The run writing: the row records which Temporal run it mirrors. */
  workflowId: string;
  runId: string;
  progress: MigrationProgress;
  finished?: boolean;
}

/** The portal's status for a saga state. */
export function statusOf(state: MigrationState): string {
  if (
    state === 'awaiting-approval' ||
    state === 'passed' ||
    state === 'rolled-back' ||
    state === 'failed' ||
    state === 'cancelled'
  )
    return state;
  return 'running';
}

/**
 * The database side of profile migrations: the row that mirrors a migrateProfile run (per-user
 * progress for GraphQL), written at each state change by the run that owns it.
 */
export function createMigrationActivities(deps: { orm: Orm }) {
  return {
    /**
     * Mirrors a run's progress to its row (keyed by row id and workflow id) and records the Temporal
     * run writing it. A row that has ended is left as it is. When the run ends: its queued agent
     * tasks are taken back (a cancelled or failed run's step never runs later) and it is audited.
     */
    async recordProfileMigration(update: ProfileMigrationUpdate): Promise<{ ended: boolean }> {
      return withTenant(deps.orm, update.tenantId, async (em) => {
        const [row] = await em.execute<{ finished: boolean }[]>(
          `select finished_at is not null as finished from profile_migrations
            where id = ? and workflow_id = ? for update`,
          [update.migrationId, update.workflowId],
        );
        if (!row || row.finished) return { ended: true };
        const p = update.progress;
        await em.execute(
          `update profile_migrations set status = ?, state = ?, temporal_run_id = ?, source_sid = ?, target_sid = ?,
                  backup_checksum = ?, not_movable = ?::jsonb, restored = ?::jsonb, last_error = ?::jsonb,
                  updated_at = now(), finished_at = case when ? then now() else null end
            where id = ?`,
          [
            statusOf(p.state),
            p.state,
            update.runId,
            p.sourceSid,
            p.targetSid,
            p.backupChecksum,
            JSON.stringify(p.notMovable),
            JSON.stringify(p.restored),
            p.lastError ? JSON.stringify(p.lastError) : null,
            update.finished === true,
            update.migrationId,
          ],
        );
        if (update.finished) {
          // The one end that leaves the machine in between: an operator must see it without looking for it.
          if (p.lastError?.type === MigrationFailure.RollbackFailed)
            await em.execute(
              `insert into alerts (id, tenant_id, kind, machine_id, site_id, message, data)
               select ?, ?, ?, m.id, m.site_id, 'A profile migration on ' || m.hostname || ?, ?::jsonb
                 from machines m where m.id = ?`,
              [
                randomUUID(),
                update.tenantId,
                AlertKind.MigrationRollbackFailed,
                ` failed and putting the profile back failed too: the backup ${update.migrationId} is still on the machine for an engineer to restore (${p.lastError.message}).`,
                JSON.stringify({ migrationId: update.migrationId, workflowId: update.workflowId }),
                update.machineId,
              ],
            );
          if (p.state !== 'passed')
            await withdrawQueuedTasks(em, {
              tenantId: update.tenantId,
              machineId: update.machineId,
              workflowId: update.workflowId,
              reason: `the profile migration ended ${p.state}`,
            });
          await appendAudit(em, {
            tenantId: update.tenantId,
            actor: 'system:migrate-profile',
            action: `profile_migration.${p.state}`,
            subjectType: 'machine',
            subjectId: update.machineId,
            data: {
              migrationId: update.migrationId,
              ...(p.backupChecksum ? { backupChecksum: p.backupChecksum } : {}),
              ...(p.lastError ? { error: p.lastError.type } : {}),
            },
          });
        }
        return { ended: false };
      });
    },

    /** Marks a batch finished (its pairs' rows are each their run's). */
    async finishProfileMigrationBatch(input: {
      tenantId: string;
      batchId: string;
      status: 'completed' | 'cancelled';
    }) {
      await withTenant(deps.orm, input.tenantId, async (em) => {
        await em.execute(
          `update profile_migration_batches set status = ?, finished_at = coalesce(finished_at, now()) where id = ?`,
          [input.status, input.batchId],
        );
        // Pairs the batch never started end with it (a child starting now finds its row ended and stops).
        await em.execute(
          `update profile_migrations set status = 'cancelled', state = 'cancelled', updated_at = now(), finished_at = now()
            where batch_id = ? and status = 'queued' and finished_at is null`,
          [input.batchId],
        );
      });
    },
  };
}

export type MigrationActivities = ReturnType<typeof createMigrationActivities>;
