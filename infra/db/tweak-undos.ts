import { appendAudit } from './audit';
import type { FleetSelection } from './entities';
import type { EntityManager } from './orm';

/**
 * The statements of tweak undos (migration 0009) that the API and the activities share, each inside
 * the caller's tenant transaction.
 */

/** A machine is busy while it has an unfinished provisioning run or undo: one run per machine at a time. */
export const MACHINE_BUSY_SQL = `(exists (select 1 from machine_runs b
     where b.tenant_id = m.tenant_id and b.machine_id = m.id and b.finished_at is null)
  or exists (select 1 from machine_tweak_undos u
     where u.tenant_id = m.tenant_id and u.machine_id = m.id and u.finished_at is null))`;

/**
 * Fixes a fleet-wide undo's machines: one queued machine_tweak_undos row per selected active
 * machine that is not busy, numbered 1..n by site code, hostname, id; the busy ones are counted as
 * skipped. Sets the fleet row's total and skipped.
 */
export async function snapshotUndoMachines(
  em: EntityManager,
  undo: {
    id: string;
    selection: FleetSelection;
    tweaks: string[] | null;
    restart: boolean;
    createdBy: string;
  },
): Promise<{ total: number; skipped: number }> {
  const sel = undo.selection;
  const scoped =
    (sel.siteIds?.length ?? 0) + (sel.clientIds?.length ?? 0) + (sel.machineIds?.length ?? 0) > 0;
  const [counts] = await em.execute<{ total: number; skipped: number }[]>(
    `with chosen as (
       select m.tenant_id, m.id as machine_id, m.site_id, s.code, m.hostname, ${MACHINE_BUSY_SQL} as busy
         from machines m join sites s on s.id = m.site_id
        where m.status = 'active'
          and (not ? or m.site_id = any(?::uuid[]) or s.client_id = any(?::uuid[]) or m.id = any(?::uuid[]))
          and m.labels @> ?::jsonb
     ), inserted as (
       insert into machine_tweak_undos (id, tenant_id, machine_id, site_id, tweak_undo_id, seq, workflow_id,
                                        tweaks, restart, created_by)
       select r.id, r.tenant_id, r.machine_id, r.site_id, ?, r.seq, 'undo-tweaks:' || r.machine_id || ':' || r.id,
              ?::jsonb, ?, ?
         from (
           select gen_random_uuid() as id, c.tenant_id, c.machine_id, c.site_id,
                  row_number() over (order by c.code, c.hostname, c.machine_id)::int as seq
             from chosen c where not c.busy
         ) r
       returning 1
     )
     select (select count(*) from inserted)::int as total,
            (select count(*) from chosen where busy)::int as skipped`,
    [
      scoped,
      `{${(sel.siteIds ?? []).join(',')}}`,
      `{${(sel.clientIds ?? []).join(',')}}`,
      `{${(sel.machineIds ?? []).join(',')}}`,
      JSON.stringify(sel.tags ?? {}),
      undo.id,
      undo.tweaks ? JSON.stringify(undo.tweaks) : null,
      undo.restart,
      undo.createdBy,
    ],
  );
  await em.execute(`update tweak_undos set total = ?, skipped = ? where id = ?`, [
    counts!.total,
    counts!.skipped,
    undo.id,
  ]);
  return counts!;
}

/** A fleet-wide undo's machines by status, from their rows (the one source of its counts). */
export async function fleetUndoCounts(
  em: EntityManager,
  fleetUndoId: string,
): Promise<{
  total: number;
  queued: number;
  running: number;
  passed: number;
  failed: number;
  cancelled: number;
}> {
  const [row] = await em.execute<
    { total: number; queued: number; running: number; passed: number; failed: number; cancelled: number }[]
  >(
    `select count(*)::int as total,
            count(*) filter (where status = 'queued')::int as queued,
            count(*) filter (where status in ('running', 'rebooting'))::int as running,
            count(*) filter (where status = 'passed')::int as passed,
            count(*) filter (where status = 'failed')::int as failed,
            count(*) filter (where status = 'cancelled')::int as cancelled
       from machine_tweak_undos where tweak_undo_id = ?`,
    [fleetUndoId],
  );
  return row!;
}

/**
 * Takes back the agent tasks of a workflow that no machine has picked up yet (a run that was
 * cancelled or closed must not act later); returns how many were taken back and how many the
 * machine is running now (those cannot be taken back: the machine's records tell what it did).
 */
export async function withdrawQueuedTasks(
  em: EntityManager,
  task: { tenantId: string; machineId: string; workflowId: string; reason: string },
): Promise<{ withdrawn: number; delivered: number }> {
  const [row] = await em.execute<{ withdrawn: number; delivered: number }[]>(
    `with withdrawn as (
       update agent_tasks set status = 'abandoned', finished_at = now(), abandoned_reason = left(?::text, 200)
        where tenant_id = ? and machine_id = ? and workflow_id = ? and status = 'queued'
       returning 1
     )
     select (select count(*) from withdrawn)::int as withdrawn,
            (select count(*) from agent_tasks where tenant_id = ? and machine_id = ? and workflow_id = ?
               and status = 'delivered')::int as delivered`,
    [
      task.reason,
      task.tenantId,
      task.machineId,
      task.workflowId,
      task.tenantId,
      task.machineId,
      task.workflowId,
    ],
  );
  return row!;
}

/**
 * Ends a machine undo row whose run closed in Temporal without recording its end (terminated, timed
 * out, failed by a fault in the code): failed with `RunClosed` (or cancelled), its queued agent task
 * withdrawn, audited. Nothing when the row has ended already. Returns whether it changed the row.
 */
export async function closeUnrecordedUndo(
  em: EntityManager,
  row: { tenantId: string; id: string; machineId: string; workflowId: string },
  temporalStatus: string,
): Promise<boolean> {
  const cancelled = temporalStatus === 'CANCELLED';
  const how = temporalStatus === 'TIMED_OUT' ? 'timed out' : temporalStatus.toLowerCase();
  const lastError = cancelled
    ? null
    : {
        type: 'RunClosed',
        message: `the undo run was ${how} in Temporal, outside Drydock; the machine's records tell what is left to undo`,
      };
  const [changed] = await em.execute<{ id: string }[]>(
    `update machine_tweak_undos set status = ?, last_error = ?::jsonb, finished_at = now(), updated_at = now()
      where id = ? and finished_at is null returning id`,
    [cancelled ? 'cancelled' : 'failed', lastError ? JSON.stringify(lastError) : null, row.id],
  );
  if (!changed) return false;
  await withdrawQueuedTasks(em, {
    tenantId: row.tenantId,
    machineId: row.machineId,
    workflowId: row.workflowId,
    reason: `the undo run was ${how}`,
  });
  await appendAudit(em, {
    tenantId: row.tenantId,
    actor: 'system:undo-tweaks',
    action: `tweak_undo.${cancelled ? 'cancelled' : 'failed'}`,
    subjectType: 'machine',
    subjectId: row.machineId,
    data: { undoId: row.id, ...(lastError ? { error: lastError.type, temporal: temporalStatus } : {}) },
  });
  return true;
}
