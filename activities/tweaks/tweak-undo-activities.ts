import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/common';
import { appendAudit } from '../../infra/db/audit';
import { withTenant, type Orm } from '../../infra/db/orm';
import { closeUnrecordedUndo, fleetUndoCounts, withdrawQueuedTasks } from '../../infra/db/tweak-undos';
import {
  type FleetUndoCounts,
  type FleetUndoTweaksInput,
  type UndoTweaksInput,
} from '../../workflows/tweaks/contracts';
import { FleetRunIdKey, MachineIdKey, SiteIdKey, TenantIdKey } from '../../workflows/search-attributes';

export interface MachineUndoUpdate {
  tenantId: string;
  undoId: string;
  machineId: string;
  /** The run writing: the row records which Temporal run it mirrors. */
  workflowId: string;
  runId: string;
  status: 'running' | 'rebooting' | 'passed' | 'failed' | 'cancelled';
  restored?: string[];
  failures?: { key: string; message: string }[];
  lastError?: { type: string; message: string } | null;
  finished?: boolean;
  /** The run ends before its step finished: take back its agent task if no machine has it yet. */
  withdrawTasks?: string;
}

/** Starting and cancelling many runs: this many Temporal calls at once, no more. */
const PARALLEL = 8;

async function eachBounded<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * The server side of tweak undos: the rows that mirror undoTweaks and fleetUndoTweaks runs, the
 * fan-out of a fleet-wide undo (starts and cancels with bounded parallelism, from activities, not
 * one command per workflow task) and its wait for the machines' runs.
 */
export function createTweakUndoActivities(deps: { orm: Orm }) {
  return {
    /**
     * Mirrors an undo run to its row, keyed by the row id and the run's workflow id, and records the
     * Temporal run writing it. A row that has ended already (cancelled before its run started, or
     * closed by the fleet's check) is left as it is and reported `ended`: the run then stops.
     * Audits once when the run ends.
     */
    async recordMachineUndo(
      update: MachineUndoUpdate,
    ): Promise<{ ended: boolean; withdrawn?: number; delivered?: number }> {
      return withTenant(deps.orm, update.tenantId, async (em) => {
        const [before] = await em.execute<{ status: string; finished: boolean }[]>(
          `select status, finished_at is not null as finished from machine_tweak_undos
            where id = ? and workflow_id = ? for update`,
          [update.undoId, update.workflowId],
        );
        if (!before) return { ended: true };
        if (before.finished) return { ended: true };
        await em.execute(
          `update machine_tweak_undos set status = ?, temporal_run_id = ?,
                  restored = coalesce(?::jsonb, restored), failures = coalesce(?::jsonb, failures),
                  last_error = case when ? then ?::jsonb else last_error end,
                  started_at = coalesce(started_at, now()), updated_at = now(),
                  finished_at = case when ? then now() else null end
            where id = ?`,
          [
            update.status,
            update.runId,
            update.restored ? JSON.stringify(update.restored) : null,
            update.failures ? JSON.stringify(update.failures) : null,
            update.lastError !== undefined,
            update.lastError ? JSON.stringify(update.lastError) : null,
            update.finished === true,
            update.undoId,
          ],
        );
        const tasks = update.withdrawTasks
          ? await withdrawQueuedTasks(em, {
              tenantId: update.tenantId,
              machineId: update.machineId,
              workflowId: update.workflowId,
              reason: update.withdrawTasks,
            })
          : undefined;
        if (update.finished) {
          await appendAudit(em, {
            tenantId: update.tenantId,
            actor: 'system:undo-tweaks',
            action: `tweak_undo.${update.status}`,
            subjectType: 'machine',
            subjectId: update.machineId,
            data: {
              undoId: update.undoId,
              restored: update.restored?.length ?? 0,
              failed: update.failures?.length ?? 0,
              ...(update.lastError ? { error: update.lastError.type } : {}),
            },
          });
        }
        return { ended: false, ...(tasks ?? {}) };
      });
    },

    /**
     * Starts the fleet-wide undo's machines from `fromSeq` (at most `limit`), each its own
     * undoTweaks run, a few at a time. Safe to repeat: a run already started is taken as started,
     * a finished one is never started again, a row that has ended (cancelled) is skipped.
     */
    async startMachineUndos(input: {
      tenantId: string;
      fleetUndoId: string;
      fromSeq: number;
      limit: number;
      runOptions: FleetUndoTweaksInput['runOptions'];
    }): Promise<{ started: number; lastSeq: number }> {
      const rows = await withTenant(deps.orm, input.tenantId, (em) =>
        em.execute<
          {
            id: string;
            machine_id: string;
            site_id: string;
            workflow_id: string;
            seq: number;
            finished: boolean;
          }[]
        >(
          `select id, machine_id, site_id, workflow_id, seq, finished_at is not null as finished
             from machine_tweak_undos where tweak_undo_id = ? and seq >= ? order by seq limit ?`,
          [input.fleetUndoId, input.fromSeq, input.limit],
        ),
      );
      const { client, info } = Context.current();
      const toStart = rows.filter((r) => !r.finished);
      await eachBounded(toStart, async (row) => {
        const args: UndoTweaksInput = {
          tenantId: input.tenantId,
          machineId: row.machine_id,
          siteId: row.site_id,
          undoId: row.id,
          ...input.runOptions,
        };
        try {
          await client.workflow.start('undoTweaks', {
            taskQueue: info.taskQueue,
            workflowId: row.workflow_id,
            args: [args],
            staticSummary: `Undo tweaks on machine ${row.machine_id} (fleet-wide undo ${input.fleetUndoId}, #${row.seq})`,
            workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            typedSearchAttributes: [
              { key: TenantIdKey, value: input.tenantId },
              { key: SiteIdKey, value: row.site_id },
              { key: MachineIdKey, value: row.machine_id },
              { key: FleetRunIdKey, value: input.fleetUndoId },
            ],
          });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      });
      return {
        started: toStart.length,
        lastSeq: rows.length > 0 ? rows[rows.length - 1]!.seq : input.fromSeq - 1,
      };
    },

    /**
     * Cancels the fleet-wide undo's unfinished machines after `afterSeq` (at most `limit`): a run
     * that exists is cancelled the Temporal way (it withdraws its task and records itself); a row
     * whose run never started is ended here. Returns the last sequence number handled (0: none left).
     */
    async cancelMachineUndos(input: {
      tenantId: string;
      fleetUndoId: string;
      afterSeq: number;
      limit: number;
    }): Promise<{ lastSeq: number }> {
      const rows = await withTenant(deps.orm, input.tenantId, (em) =>
        em.execute<{ id: string; workflow_id: string; seq: number }[]>(
          `select id, workflow_id, seq from machine_tweak_undos
            where tweak_undo_id = ? and seq > ? and finished_at is null order by seq limit ?`,
          [input.fleetUndoId, input.afterSeq, input.limit],
        ),
      );
      const { client } = Context.current();
      const neverStarted: string[] = [];
      await eachBounded(rows, async (row) => {
        try {
          await client.workflow.getHandle(row.workflow_id).cancel();
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) neverStarted.push(row.id);
          else throw err;
        }
      });
      if (neverStarted.length > 0)
        await withTenant(deps.orm, input.tenantId, (em) =>
          em.execute(
            `update machine_tweak_undos set status = 'cancelled', finished_at = now(), updated_at = now()
              where id in (select jsonb_array_elements_text(?::jsonb)::uuid) and finished_at is null`,
            [JSON.stringify(neverStarted)],
          ),
        );
      return { lastSeq: rows.length > 0 ? rows[rows.length - 1]!.seq : 0 };
    },

    /**
     * Waits until every machine of the fleet-wide undo has ended, reading their rows every
     * `checkSeconds` and heartbeating the counts. A run closed in Temporal without recording its end
     * (terminated by an engineer, timed out) is found through visibility and its row ended here
     * (`RunClosed`), its queued task withdrawn: such a run cannot hold the fleet-wide undo open.
     */
    async awaitMachineUndos(input: {
      tenantId: string;
      fleetUndoId: string;
      checkSeconds: number;
    }): Promise<FleetUndoCounts> {
      const ctx = Context.current();
      const query =
        `WorkflowType = 'undoTweaks' AND FleetRunId = '${input.fleetUndoId.replaceAll("'", '')}'` +
        ` AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'`;
      for (;;) {
        const closed = new Map<string, string>();
        for await (const run of ctx.client.workflow.list({ query }))
          closed.set(run.workflowId, run.status.name);
        const counts = await withTenant(deps.orm, input.tenantId, async (em) => {
          if (closed.size > 0) {
            const open = await em.execute<{ id: string; machine_id: string; workflow_id: string }[]>(
              `select id, machine_id, workflow_id from machine_tweak_undos
                where tweak_undo_id = ? and finished_at is null
                  and workflow_id in (select jsonb_array_elements_text(?::jsonb))`,
              [input.fleetUndoId, JSON.stringify([...closed.keys()])],
            );
            for (const row of open) {
              const status = closed.get(row.workflow_id)!;
              if (
                await closeUnrecordedUndo(
                  em,
                  {
                    tenantId: input.tenantId,
                    id: row.id,
                    machineId: row.machine_id,
                    workflowId: row.workflow_id,
                  },
                  status,
                )
              )
                ctx.log.warn('an undo run closed without recording its end', {
                  workflowId: row.workflow_id,
                  status,
                });
            }
          }
          return fleetUndoCounts(em, input.fleetUndoId);
        });
        ctx.heartbeat(counts);
        if (counts.queued + counts.running === 0) return counts;
        await ctx.sleep(input.checkSeconds * 1000);
      }
    },

    /** The fleet-wide undo's row: status, the Temporal run writing it; when it ends, audited with its counts. */
    async recordTweakUndo(input: {
      tenantId: string;
      fleetUndoId: string;
      runId: string;
      status: 'running' | 'cancelling' | 'cancelled' | 'completed' | 'failed';
      lastError?: { type: string; message: string };
      finished?: boolean;
    }): Promise<FleetUndoCounts> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const [before] = await em.execute<{ finished: boolean }[]>(
          `update tweak_undos u set status = ?, temporal_run_id = ?, last_error = coalesce(?::jsonb, last_error),
                  finished_at = case when ? then coalesce(finished_at, now()) else null end
             from (select id, finished_at is not null as finished from tweak_undos where id = ? for update) prev
            where u.id = prev.id returning prev.finished`,
          [
            input.status,
            input.runId,
            input.lastError ? JSON.stringify(input.lastError) : null,
            input.finished === true,
            input.fleetUndoId,
          ],
        );
        const counts = await fleetUndoCounts(em, input.fleetUndoId);
        if (input.finished && before && !before.finished)
          await appendAudit(em, {
            tenantId: input.tenantId,
            actor: 'system:fleet-undo-tweaks',
            action: `tweak_undo.fleet_${input.status}`,
            subjectType: 'tweak_undo',
            subjectId: input.fleetUndoId,
            data: { ...counts, ...(input.lastError ? { error: input.lastError.type } : {}) },
          });
        return counts;
      });
    },
  };
}

export type TweakUndoActivities = ReturnType<typeof createTweakUndoActivities>;
