import { randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client as TemporalClient,
} from '@temporalio/client';
import {
  FleetRunIdKey,
  MachineIdKey,
  RunStatusKey,
  SiteIdKey,
  TenantIdKey,
} from '../../workflows/search-attributes';
import {
  machineRunSettledSignal,
  provisionMachineWorkflowId,
  RunFailure,
  type MachineRunSettled,
  type ProvisionMachineInput,
} from '../../workflows/provisioning/contracts';
import { appendAudit } from '../db/audit';
import { MachineRunSchema, MachineRunStatus, type FleetSelection, type MachineRun } from '../db/entities';
import { withTenant, type EntityManager, type Orm } from '../db/orm';

/**
 * The one owner of a provisioning run's life outside Temporal (ADR 0016). Only this module creates,
 * starts, updates, settles and heals `machine_runs` rows, and ends the agent tasks that belong to a
 * run; `startMachineRun` is the only code that starts a provisionMachine workflow. (The one named
 * exception: the agent channel's dispatch function mirrors a step's phase onto the row in the same
 * statement that queues the step, migration 0010.)
 */

/** A machine already has an open run: one per machine at a time (a unique index, migration 0010). */
export class OpenRunExists extends Error {
  override name = 'OpenRunExists';
  constructor(readonly run: MachineRun) {
    super(`the machine already has a run (${run.status})`);
  }
}

/** The machine runs something else that excludes provisioning (an undo of tweaks). */
export class MachineBusy extends Error {
  override name = 'MachineBusy';
}

/** A single machine's run row, queued. The database refuses a second open run of the machine. */
export async function createMachineRun(
  em: EntityManager,
  input: { tenantId: string; machineId: string; siteId: string; profileId: string; createdBy: string },
): Promise<MachineRun> {
  // An undo of tweaks on the machine is a run too (workflows/tweaks): not both at once.
  const [undo] = await em.execute<{ id: string }[]>(
    `select id from machine_tweak_undos where machine_id = ? and finished_at is null limit 1`,
    [input.machineId],
  );
  if (undo) throw new MachineBusy('the machine is undoing tweaks; wait for it or cancel it first');
  // The conflict is answered by the statement itself: an error would end the caller's transaction.
  for (let tries = 0; ; tries++) {
    const id = randomUUID();
    const inserted = await em.execute<{ id: string }[]>(
      `insert into machine_runs (id, tenant_id, machine_id, site_id, workflow_id, profile_id, created_by)
       values (?, ?, ?, ?, ?, ?, ?)
       on conflict (tenant_id, machine_id) where finished_at is null do nothing
       returning id`,
      [
        id,
        input.tenantId,
        input.machineId,
        input.siteId,
        provisionMachineWorkflowId(input.machineId, id),
        input.profileId,
        input.createdBy,
      ],
    );
    if (inserted.length > 0) return em.findOneOrFail(MachineRunSchema, { id });
    const open = await em.findOne(MachineRunSchema, { machineId: input.machineId, finishedAt: null });
    // The open run finished between the two statements: try again (twice at most).
    if (open || tries >= 2) throw new OpenRunExists(open!);
  }
}

/**
 * Fixes a fleet run's machines, inside the caller's tenant transaction: one queued row per selected
 * active machine, numbered 1..n in (site code, hostname) order, and the run's total and skipped
 * counts. A machine with an open run of its own (another fleet run's queue, running, paused, failed
 * and waiting) is left out and counted as skipped; the unique index settles a race with a single
 * run started at the same moment. Called by startFleetRun (the answer carries the real total) and by
 * the fleetRun workflow's snapshot, which finds the rows there and only counts them.
 */
export async function snapshotFleetMachines(
  em: EntityManager,
  fleet: { id: string; selection: FleetSelection; profileId: string; createdBy: string },
): Promise<{ total: number; skipped: number }> {
  const sel = fleet.selection;
  const scoped =
    (sel.siteIds?.length ?? 0) + (sel.clientIds?.length ?? 0) + (sel.machineIds?.length ?? 0) > 0;
  const [selected] = await em.execute<{ total: number; chosen: number }[]>(
    `with chosen as (
       select m.tenant_id, m.id as machine_id, m.site_id, s.code, m.hostname
         from machines m join sites s on s.id = m.site_id
        where m.status = 'active'
          and (not ? or m.site_id = any(?::uuid[]) or s.client_id = any(?::uuid[]) or m.id = any(?::uuid[]))
          and m.labels @> ?::jsonb
     ), free as (
       select c.* from chosen c
        where not exists (select 1 from machine_runs b
                           where b.tenant_id = c.tenant_id and b.machine_id = c.machine_id and b.finished_at is null)
          and not exists (select 1 from machine_tweak_undos u
                           where u.tenant_id = c.tenant_id and u.machine_id = c.machine_id and u.finished_at is null)
     ), inserted as (
       insert into machine_runs (id, tenant_id, machine_id, site_id, fleet_run_id, seq, workflow_id, profile_id, created_by)
       select r.id, r.tenant_id, r.machine_id, r.site_id, ?, r.seq, 'provision:' || r.machine_id || ':' || r.id, ?, ?
         from (
           select gen_random_uuid() as id, f.tenant_id, f.machine_id, f.site_id,
                  row_number() over (order by f.code, f.hostname, f.machine_id)::int as seq
             from free f
         ) r
       on conflict (tenant_id, machine_id) where finished_at is null do nothing
       returning 1
     )
     select (select count(*) from inserted)::int as total, (select count(*) from chosen)::int as chosen`,
    [
      scoped,
      `{${(sel.siteIds ?? []).join(',')}}`,
      `{${(sel.clientIds ?? []).join(',')}}`,
      `{${(sel.machineIds ?? []).join(',')}}`,
      JSON.stringify(sel.tags ?? {}),
      fleet.id,
      fleet.profileId,
      fleet.createdBy,
    ],
  );
  const total = selected!.total;
  const skipped = selected!.chosen - total;
  // A conflict leaves a gap in the numbering: close it, so the window walks 1..total.
  if (skipped > 0 && total > 0) {
    // In two steps: (fleet_run_id, seq) is unique at every row, negatives clash with nothing.
    await em.execute(
      `update machine_runs r set seq = -n.seq from (
         select id, row_number() over (order by seq)::int as seq from machine_runs where fleet_run_id = ?
       ) n where r.id = n.id`,
      [fleet.id],
    );
    await em.execute(`update machine_runs set seq = -seq where fleet_run_id = ? and seq < 0`, [fleet.id]);
  }
  await em.execute(`update fleet_runs set total = ?, skipped = ? where id = ?`, [total, skipped, fleet.id]);
  return { total, skipped };
}

export interface StartMachineRunInput {
  tenantId: string;
  run: Pick<MachineRun, 'id' | 'machineId' | 'siteId' | 'workflowId' | 'profileId'> & {
    fleetRunId?: string | null;
    seq?: number | null;
  };
  /** For the Temporal UI: the machine's name when the run starts. */
  hostname: string;
  taskQueue: string;
  /** The fleet run's workflow, told when this run settles. */
  fleetWorkflowId?: string;
  options: Pick<ProvisionMachineInput, 'offlineLimitSeconds' | 'failedHoldSeconds' | 'retryBackoffSeconds'>;
}

/**
 * Starts a run's provisionMachine workflow: the only code that does. Its search attributes are set
 * by the start (so the run needs no upsert for them), the Temporal UI shows a summary (machine,
 * fleet, place in the fleet) and the fleet id in a memo. Safe to repeat: a run already started is
 * taken as started (running: that run is this one; finished: it never runs again).
 */
export async function startMachineRun(temporal: TemporalClient, input: StartMachineRunInput): Promise<void> {
  const { run } = input;
  const args: ProvisionMachineInput = {
    tenantId: input.tenantId,
    machineId: run.machineId,
    siteId: run.siteId,
    runId: run.id,
    profileId: run.profileId,
    ...(run.fleetRunId ? { fleetRunId: run.fleetRunId } : {}),
    ...(input.fleetWorkflowId ? { fleetWorkflowId: input.fleetWorkflowId } : {}),
    ...(run.seq ? { fleetSeq: run.seq } : {}),
    ...input.options,
  };
  try {
    await temporal.workflow.start('provisionMachine', {
      taskQueue: input.taskQueue,
      workflowId: run.workflowId,
      args: [args],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      staticSummary: run.fleetRunId
        ? `Provision ${input.hostname} — machine ${run.seq ?? '?'} of fleet run ${run.fleetRunId}`
        : `Provision ${input.hostname} — a single run`,
      memo: run.fleetRunId ? { fleetRunId: run.fleetRunId, seq: run.seq ?? null } : {},
      typedSearchAttributes: [
        { key: TenantIdKey, value: input.tenantId },
        { key: SiteIdKey, value: run.siteId },
        { key: MachineIdKey, value: run.machineId },
        ...(run.fleetRunId ? [{ key: FleetRunIdKey, value: run.fleetRunId }] : []),
        { key: RunStatusKey, value: 'running' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/**
 * Starts a single machine's run: its row, then its workflow. A start that fails leaves no row behind
 * (the row goes again); an open run of the machine whose workflow has ended outside Drydock is
 * healed first (terminated in the Temporal UI, say), so it cannot lock the machine.
 */
export async function startSingleRun(
  orm: Orm,
  temporal: TemporalClient,
  input: {
    tenantId: string;
    machineId: string;
    siteId: string;
    hostname: string;
    profileId: string;
    createdBy: string;
    taskQueue: string;
    options: StartMachineRunInput['options'];
    /** In the row's transaction: what else the caller records (its audit event). */
    also?: (em: EntityManager, run: MachineRun) => Promise<unknown>;
    /** In the transaction that removes the row of a run Temporal did not start (its audit event). */
    onStartFailed?: (em: EntityManager, run: MachineRun, err: unknown) => Promise<unknown>;
  },
): Promise<MachineRun> {
  const create = () =>
    withTenant(orm, input.tenantId, async (em) => {
      const run = await createMachineRun(em, input);
      await input.also?.(em, run);
      return run;
    });
  let run: MachineRun;
  try {
    run = await create();
  } catch (err) {
    if (!(err instanceof OpenRunExists)) throw err;
    if ((await healMachineRun(orm, temporal, input.tenantId, err.run)) !== 'healed') throw err;
    run = await create();
  }
  try {
    await startMachineRun(temporal, {
      tenantId: input.tenantId,
      run,
      hostname: input.hostname,
      taskQueue: input.taskQueue,
      options: input.options,
    });
  } catch (err) {
    // No workflow, no row: the machine is free for the next start, and nothing waits for a run
    // that never existed.
    await withTenant(orm, input.tenantId, async (em) => {
      await em.execute(`delete from machine_runs where id = ? and status = 'queued' and started_at is null`, [
        run.id,
      ]);
      await input.onStartFailed?.(em, run, err);
    });
    throw err;
  }
  return run;
}

/**
 * When a run begins (or begins again after a retry with a refreshed profile): what it resolved to.
 * A settled row stays settled: an execution terminated while this ran (and healed since) must not
 * reopen it (a failed run waiting for a retry is still open).
 */
export async function beginMachineRun(
  em: EntityManager,
  input: { runId: string; resolvedConfig: unknown; profileId: string; profileVersion: number },
): Promise<void> {
  await em.execute(
    `update machine_runs set resolved_config = ?::jsonb, profile_id = ?, profile_version = ?,
            status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
      where id = ? and finished_at is null`,
    [JSON.stringify(input.resolvedConfig), input.profileId, input.profileVersion, input.runId],
  );
}

export interface MachineRunUpdate {
  tenantId: string;
  runId: string;
  status: MachineRunStatus | `${MachineRunStatus}`;
  phase?: string | null;
  step?: string | null;
  attempt?: number;
  lastError?: { type: string; message: string; step?: string } | null;
  validation?: { item: string; pass: boolean; detail: string }[];
  finished?: boolean;
  /** Who records it, for the audit event of a settle. */
  actor?: string;
  /**
   * An update that is not a settle reopens a settled row only when asked: the caller has checked that
   * its workflow execution is the current one and runs (a reset of a settled run). Otherwise it is a
   * stale write from an execution that was terminated while its activity ran, and it changes nothing.
   */
  reopen?: boolean;
}

/** Statuses in which a run executes nothing: its open agent tasks end with it. */
const AT_REST = new Set<string>([
  MachineRunStatus.Failed,
  MachineRunStatus.Passed,
  MachineRunStatus.Cancelled,
]);

/**
 * Mirrors a run's state to its row (the workflow stays the source of truth), in the caller's
 * transaction. A run at rest (failed and waiting, passed, cancelled) abandons its open agent tasks
 * in the same transaction: a returning laptop never runs a stale step. A settle is audited once; a
 * repeat (the same outcome again) changes nothing and reports `repeat`.
 */
export async function recordMachineRun(
  em: EntityManager,
  update: MachineRunUpdate,
): Promise<{ repeat: boolean; settled?: true }> {
  const [before] = await em.execute<{ status: string; finished: boolean; workflow_id: string }[]>(
    `with previous as (select id, status, finished_at, workflow_id from machine_runs where id = ? for update)
     update machine_runs m set status = ?,
            phase = coalesce(?, phase), step = coalesce(?, step), attempt = coalesce(?, attempt),
            last_error = case when ? then ?::jsonb else last_error end,
            validation = coalesce(?::jsonb, validation),
            finished_at = case when ? then coalesce(previous.finished_at, now()) else null end,
            updated_at = now()
       from previous where m.id = previous.id and (previous.finished_at is null or ? or ?)
     returning previous.status, previous.finished_at is not null as finished, previous.workflow_id`,
    [
      update.runId,
      update.status,
      update.phase ?? null,
      update.step ?? null,
      update.attempt ?? null,
      update.lastError !== undefined,
      update.lastError ? JSON.stringify(update.lastError) : null,
      update.validation ? JSON.stringify(update.validation) : null,
      update.finished === true,
      update.finished === true,
      update.reopen === true,
    ],
  );
  if (!before) {
    const [settled] = await em.execute<{ id: string }[]>(
      `select id from machine_runs where id = ? and finished_at is not null`,
      [update.runId],
    );
    return settled ? { repeat: false, settled: true } : { repeat: false };
  }
  if (AT_REST.has(update.status))
    await abandonRunTasks(em, update.tenantId, before.workflow_id, `the run is ${update.status}`);
  const repeat = before.finished && before.status === update.status;
  if (update.finished && !repeat) {
    await auditSettle(em, update);
    // A run that settles after its fleet run finished (a retry): keep the fleet's summary true.
    await em.execute(
      `update fleet_runs f set
          passed = (select count(*) from machine_runs r where r.fleet_run_id = f.id and r.status = 'passed'),
          failed = (select count(*) from machine_runs r where r.fleet_run_id = f.id and r.status = 'failed'),
          cancelled = (select count(*) from machine_runs r where r.fleet_run_id = f.id and r.status = 'cancelled')
        where f.id = (select fleet_run_id from machine_runs where id = ?) and f.finished_at is not null`,
      [update.runId],
    );
  }
  return { repeat };
}

/**
 * Ends the open agent tasks of a workflow: no claim hands them out again. `queuedOnly`: only those
 * no machine has picked up (a cancel takes back what has not started; what runs, runs to its end).
 */
export async function abandonRunTasks(
  em: EntityManager,
  tenantId: string,
  workflowId: string,
  reason: string,
  queuedOnly = false,
): Promise<number> {
  const rows = await em.execute<{ n: number }[]>(
    `with gone as (
       update agent_tasks set status = 'abandoned', abandoned_reason = left(?, 200), finished_at = now()
        where tenant_id = ? and workflow_id = ? and status in ('queued', ?)
       returning 1)
     select count(*)::int as n from gone`,
    [reason, tenantId, workflowId, queuedOnly ? 'queued' : 'delivered'],
  );
  return rows[0]?.n ?? 0;
}

/** A finished fleet run's machines that never started are cancelled; the counts come from the rows. */
export async function closeFleetMachines(
  em: EntityManager,
  fleetRunId: string,
): Promise<{ passed: number; failed: number; cancelled: number }> {
  await em.execute(
    `update machine_runs set status = 'cancelled', finished_at = now(), updated_at = now()
      where fleet_run_id = ? and status = 'queued'`,
    [fleetRunId],
  );
  return fleetCounts(em, fleetRunId);
}

/** A fleet run's outcomes so far, from its machines' rows (the truth, retries included). */
export async function fleetCounts(
  em: EntityManager,
  fleetRunId: string,
): Promise<{ passed: number; failed: number; cancelled: number }> {
  const [row] = await em.execute<{ passed: number; failed: number; cancelled: number }[]>(
    `select count(*) filter (where status = 'passed')::int as passed,
            count(*) filter (where status = 'failed')::int as failed,
            count(*) filter (where status = 'cancelled')::int as cancelled
       from machine_runs where fleet_run_id = ?`,
    [fleetRunId],
  );
  return row!;
}

/** Tells a fleet run that one of its machines' runs settled; a fleet that has ended needs no telling. */
export async function settleWithFleet(
  temporal: TemporalClient,
  fleetWorkflowId: string,
  signal: MachineRunSettled,
): Promise<void> {
  try {
    await temporal.workflow.getHandle(fleetWorkflowId).signal(machineRunSettledSignal, signal);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

/** What Temporal says of a run's workflow now: its current execution (a reset's new run, not the old one). */
export async function currentExecution(
  temporal: TemporalClient,
  workflowId: string,
): Promise<'running' | 'missing' | { closed: string }> {
  try {
    const d = await temporal.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING' ? 'running' : { closed: d.status.name };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'missing';
    throw err;
  }
}

/**
 * Heals an open run whose workflow is no longer running — terminated or timed out in Temporal, or
 * never started (a start that died with its API process) — from the workflow's current execution:
 * the row becomes failed (`RunClosed`) or cancelled, its agent tasks are abandoned, its fleet is
 * told. A run that is running (a reset's new run included) is left alone: 'running'.
 */
export async function healMachineRun(
  orm: Orm,
  temporal: TemporalClient,
  tenantId: string,
  run: Pick<MachineRun, 'id' | 'workflowId' | 'fleetRunId'> & { createdAt?: Date },
  fleetWorkflowId?: string,
): Promise<'running' | 'healed' | 'settled'> {
  const now = await currentExecution(temporal, run.workflowId);
  if (now === 'running') return 'running';
  // No workflow yet: a fleet's queued machine waits for its fleet to start it, and a single run is
  // started right after its row (a minute without its workflow: the start died with its process).
  const young = run.createdAt !== undefined && Date.now() - run.createdAt.getTime() < 60_000;
  if (now === 'missing' && (run.fleetRunId || young || run.createdAt === undefined)) return 'running';
  const how =
    now === 'missing' ? 'never started' : now.closed === 'TIMED_OUT' ? 'timed out' : now.closed.toLowerCase();
  const cancelled = now !== 'missing' && now.closed === 'CANCELLED';
  const lastError = {
    type: now === 'missing' ? RunFailure.RunNotStarted : RunFailure.RunClosed,
    message: `the run's workflow ${how} outside Drydock; start a new run for this machine`,
  };
  let seq: number | null = null;
  const outcome = await withTenant(orm, tenantId, async (em) => {
    const [open] = await em.execute<{ step: string | null; seq: number | null }[]>(
      `select step, seq from machine_runs where id = ? and finished_at is null for update`,
      [run.id],
    );
    if (!open) return null;
    seq = open.seq;
    const status = cancelled ? MachineRunStatus.Cancelled : MachineRunStatus.Failed;
    await recordMachineRun(em, {
      tenantId,
      runId: run.id,
      status,
      finished: true,
      actor: 'system:heal',
      ...(cancelled ? {} : { lastError: { ...lastError, ...(open.step ? { step: open.step } : {}) } }),
    });
    return status;
  });
  if (!outcome) return 'settled';
  if (fleetWorkflowId)
    await settleWithFleet(temporal, fleetWorkflowId, {
      runId: run.id,
      workflowId: run.workflowId,
      outcome: outcome === MachineRunStatus.Cancelled ? 'cancelled' : 'failed',
      ...(seq ? { seq } : {}),
    });
  return 'healed';
}

async function auditSettle(em: EntityManager, update: MachineRunUpdate): Promise<void> {
  const [row] = await em.execute<{ machine_id: string }[]>(
    `select machine_id from machine_runs where id = ?`,
    [update.runId],
  );
  await appendAudit(em, {
    tenantId: update.tenantId,
    actor: update.actor ?? 'system:provision-machine',
    action: `machine_run.${update.status}`,
    subjectType: 'machine',
    subjectId: row?.machine_id ?? update.runId,
    data: { runId: update.runId, ...(update.lastError ? { error: update.lastError.type } : {}) },
  });
}
