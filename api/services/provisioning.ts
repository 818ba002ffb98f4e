import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import {
  FleetRunSchema,
  FleetRunStatus,
  MachineRunSchema,
  MachineRunStatus,
  MachineSchema,
  ProfileVersionSchema,
  Role,
  type FleetRun,
  type MachineRun,
} from '../../infra/db/entities';
import {
  healMachineRun,
  MachineBusy,
  OpenRunExists,
  snapshotFleetMachines,
  startSingleRun,
} from '../../infra/provisioning/machine-runs';
import { FleetRunIdKey, RunStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import {
  cancelSignal,
  fleetProgressQuery,
  fleetRunWorkflowId,
  machineProgressQuery,
  pauseSignal,
  resumeSignal,
  retryFromStepUpdate,
  type FleetRunInput,
  type FleetRunProgress,
  type MachineRunProgress,
} from '../../workflows/provisioning/contracts';
import { appendAuditAs, audited, auditAfter } from './audit';
import { ErrorCode, refuse } from './errors';
import { askWorkflow, isTemporalRefusal, liveFigures } from './live-query';
import { checkId, checkIds, checkRange, checkSelection, type SelectionInput } from './input';
import { authorize, inTenant, type ServiceContext } from './service-context';

/**
 * Provisioning runs and fleet runs as operators see them: reading the rows, starting runs,
 * pausing, resuming, cancelling, retrying from a step. A run's row is written only by its owner
 * (infra/provisioning/machine-runs.ts, ADR 0016); this service asks it and the workflows.
 */

export async function listFleetRuns(
  ctx: ServiceContext,
  input: { first?: number | null },
): Promise<FleetRun[]> {
  const limit = checkRange(input.first, 'first', { min: 1, max: 500, fallback: 50 });
  return inTenant(ctx, (em) => em.find(FleetRunSchema, {}, { orderBy: { createdAt: 'desc' }, limit }));
}

export async function getFleetRun(
  ctx: ServiceContext,
  input: { id: string | number },
): Promise<FleetRun | null> {
  const id = checkId(input.id, 'id');
  return inTenant(ctx, (em) => em.findOne(FleetRunSchema, { id }));
}

export async function getMachineRun(
  ctx: ServiceContext,
  input: { id: string | number },
): Promise<MachineRun | null> {
  const id = checkId(input.id, 'id');
  return inTenant(ctx, (em) => em.findOne(MachineRunSchema, { id }));
}

/** A machine's runs, newest first (the last 50). */
export async function machineRunsOf(
  ctx: ServiceContext,
  input: { machineId: string | number },
): Promise<MachineRun[]> {
  const id = checkId(input.machineId, 'machineId');
  return inTenant(ctx, (em) =>
    em.find(MachineRunSchema, { machineId: id }, { orderBy: { createdAt: 'desc' }, limit: 50 }),
  );
}

/** A page of a fleet run's machine runs, in selection order: optionally one status, `first` after `afterSeq`. */
export interface MachineRunPage {
  status: string | null;
  first: number;
  afterSeq: number;
}

export function checkMachineRunPage(input: {
  status?: string | null;
  first?: number | null;
  afterSeq?: number | null;
}): MachineRunPage {
  const first = checkRange(input.first, 'first', { min: 1, max: 1000, fallback: 100 });
  if (input.status && !Object.values(MachineRunStatus).includes(input.status as MachineRunStatus))
    throw refuse(
      ErrorCode.BadUserInput,
      `status must be one of ${Object.values(MachineRunStatus).join(', ')}`,
    );
  const afterSeq = checkRange(input.afterSeq, 'afterSeq', { min: 0, max: 2 ** 31 - 1, fallback: 0 });
  return { status: input.status ?? null, first, afterSeq };
}

/** The same page of many fleet runs, in one transaction (for lists under lists). */
export async function machineRunPages(
  ctx: ServiceContext,
  fleetRunIds: readonly string[],
  page: MachineRunPage,
): Promise<MachineRun[]> {
  return inTenant(ctx, async (em) => {
    const raw = await em.execute<Record<string, unknown>[]>(
      `select * from (
         select r.*, row_number() over (partition by r.fleet_run_id order by r.seq) as page_row
           from machine_runs r
          where r.fleet_run_id = any(?::uuid[]) and r.seq > ? and (?::text is null or r.status = ?)
       ) p where p.page_row <= ? order by p.fleet_run_id, p.seq`,
      [
        `{${checkIds(fleetRunIds, 'fleetRunIds').join(',')}}`,
        page.afterSeq,
        page.status,
        page.status,
        page.first,
      ],
    );
    return raw.map(({ page_row: _row, ...row }) => em.map(MachineRunSchema, row));
  });
}

/** A machine run's live progress from its workflow; null once the workflow is gone. */
export async function machineRunProgress(
  ctx: ServiceContext,
  run: MachineRun,
): Promise<MachineRunProgress | null> {
  return liveFigures(ctx, () =>
    ctx.temporal.workflow.getHandle(run.workflowId).query<MachineRunProgress>(machineProgressQuery.name),
  );
}

/** A fleet run's live counts from its workflow; null once the workflow is gone. */
export async function fleetRunProgress(
  ctx: ServiceContext,
  fleet: FleetRun,
): Promise<FleetRunProgress | null> {
  return liveFigures(ctx, () =>
    ctx.temporal.workflow.getHandle(fleet.workflowId).query<FleetRunProgress>(fleetProgressQuery.name),
  );
}

/**
 * A fleet run's progress whenever it changes, until the run is done or its workflow gone. Polled
 * each second; the polls are paced by that timer, not by the request, so they spend no budget.
 * While Temporal does not answer, the stream stays open and asks again every few seconds: an
 * operator watching a run through an outage sees it move again after, not a stream that ended.
 */
export async function* watchFleetRun(
  ctx: ServiceContext,
  input: { id: string | number },
): AsyncGenerator<FleetRunProgress> {
  const fleet = await getFleetRun(ctx, input);
  if (!fleet) throw refuse(ErrorCode.NotFound, 'fleet run not found');
  let last = '';
  let pauseMs = 1000;
  for (;;) {
    const answer = await askWorkflow(
      ctx,
      () =>
        ctx.temporal.workflow.getHandle(fleet.workflowId).query<FleetRunProgress>(fleetProgressQuery.name),
      false,
    );
    if (answer.kind === 'gone') return;
    if (answer.kind === 'answer') {
      pauseMs = 1000;
      const text = JSON.stringify(answer.value);
      if (text !== last) {
        last = text;
        yield answer.value;
      }
      if (answer.value.state === 'done') return;
    } else pauseMs = Math.min(pauseMs * 2, WATCH_OUTAGE_PAUSE_MS);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** The longest pause of a live stream between two questions Temporal did not answer. */
const WATCH_OUTAGE_PAUSE_MS = 5000;

function provisioningDefaults(ctx: ServiceContext) {
  return {
    offlineLimitSeconds: ctx.env.PROVISION_OFFLINE_LIMIT_SECONDS,
    failedHoldSeconds: ctx.env.PROVISION_FAILED_HOLD_SECONDS,
    retryBackoffSeconds: ctx.env.PROVISION_RETRY_BACKOFF_SECONDS,
  };
}

/**
 * Starts a fleet run (operator role): its machines are fixed in the same transaction as its row,
 * so the answer carries the real total, and a selection of nothing is refused (EMPTY_SELECTION)
 * instead of becoming a run of zero. An empty selection means every active machine.
 */
export async function startFleetRun(
  ctx: ServiceContext,
  input: SelectionInput & { profileId: string | number; concurrency?: number | null },
): Promise<FleetRun> {
  const caller = authorize(ctx, Role.Operator);
  const concurrency = input.concurrency ?? 25;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000)
    throw refuse(ErrorCode.BadUserInput, 'concurrency must be 1–1000');
  const selection = checkSelection(input);
  const profileId = checkId(input.profileId, 'profileId');
  const fleet = await audited(
    ctx,
    async (em) => {
      const profile = await em.findOne(ProfileVersionSchema, { id: profileId });
      if (!profile) throw refuse(ErrorCode.NotFound, 'profile not found');
      const id = randomUUID();
      const row = em.create(FleetRunSchema, {
        id,
        tenantId: caller.tenantId,
        workflowId: fleetRunWorkflowId(id),
        profileId: profile.id,
        selection,
        concurrency,
        status: FleetRunStatus.Running,
        total: 0,
        skipped: 0,
        passed: 0,
        failed: 0,
        cancelled: 0,
        createdBy: caller.actor,
        createdAt: new Date(),
      });
      await em.flush();
      const { total, skipped } = await snapshotFleetMachines(em, {
        id,
        selection,
        profileId: profile.id,
        createdBy: caller.actor,
      });
      if (total === 0)
        throw refuse(
          ErrorCode.EmptySelection,
          skipped > 0
            ? `all ${skipped} selected machine(s) already have a run of their own; nothing to start`
            : 'the selection matches no active machine; nothing to start',
          { skipped },
        );
      Object.assign(row, { total, skipped });
      return { row, profile };
    },
    ({ row, profile }) => ({
      action: 'fleet_run.started',
      subjectType: 'fleet_run',
      subjectId: row.id,
      data: {
        profile: `${profile.name} v${profile.version}`,
        concurrency,
        total: row.total,
        skipped: row.skipped,
      },
    }),
  ).then((r) => r.row);
  const args: FleetRunInput = {
    tenantId: caller.tenantId,
    fleetRunId: fleet.id,
    profileId: fleet.profileId,
    concurrency,
    batchSize: ctx.env.PROVISION_FLEET_BATCH_SIZE,
    reconcileSeconds: ctx.env.PROVISION_FLEET_RECONCILE_SECONDS,
    ...provisioningDefaults(ctx),
  };
  await ctx.temporal.workflow.start('fleetRun', {
    taskQueue: ctx.taskQueue,
    workflowId: fleet.workflowId,
    args: [args],
    staticSummary: `Fleet run of ${fleet.total} machine(s), ${concurrency} at a time, started by ${caller.actor}`,
    typedSearchAttributes: [
      { key: TenantIdKey, value: caller.tenantId },
      { key: FleetRunIdKey, value: fleet.id },
      // Listed as running from its first event: the workflow then writes only status changes.
      { key: RunStatusKey, value: 'running' },
    ],
  });
  return fleet;
}

/**
 * Provisions one machine with a profile version (operator role). One open run per machine (the
 * database says so): two would race for its name, apps and reboots.
 */
export async function provisionMachine(
  ctx: ServiceContext,
  input: { machineId: string | number; profileId: string | number },
): Promise<MachineRun> {
  const caller = authorize(ctx, Role.Operator);
  const [machineId, profileId] = checkIds([input.machineId, input.profileId], 'id');
  const { machine, profile } = await inTenant(ctx, async (em) => {
    const machine = await em.findOne(MachineSchema, { id: machineId!, status: 'active' as never });
    if (!machine) throw refuse(ErrorCode.NotFound, 'no active machine with that id');
    const profile = await em.findOne(ProfileVersionSchema, { id: profileId! });
    if (!profile) throw refuse(ErrorCode.NotFound, 'profile not found');
    return { machine, profile };
  });
  try {
    return await startSingleRun(ctx.orm, ctx.temporal, {
      tenantId: caller.tenantId,
      machineId: machine.id,
      siteId: machine.siteId,
      hostname: machine.hostname,
      profileId: profile.id,
      createdBy: caller.actor,
      taskQueue: ctx.taskQueue,
      options: provisioningDefaults(ctx),
      also: (em, run) =>
        appendAuditAs(em, caller, {
          action: 'machine_run.started',
          subjectType: 'machine',
          subjectId: machine.id,
          data: { runId: run.id, profile: `${profile.name} v${profile.version}` },
        }),
      onStartFailed: (em, run, err) =>
        appendAuditAs(em, caller, {
          action: 'machine_run.start_failed',
          subjectType: 'machine',
          subjectId: machine.id,
          data: { runId: run.id, error: err instanceof Error ? err.message.slice(0, 300) : 'unknown' },
        }),
    });
  } catch (err) {
    if (err instanceof MachineBusy) throw refuse(ErrorCode.RunInProgress, err.message);
    if (err instanceof OpenRunExists)
      throw refuse(
        ErrorCode.RunInProgress,
        `the machine already has a run (${err.run.status}); cancel it or let it finish first`,
        { runId: err.run.id },
      );
    if (isTemporalRefusal(err))
      throw refuse(
        ErrorCode.Unavailable,
        'Temporal did not start the run, so nothing was started and the machine is free; try again shortly',
      );
    throw err;
  }
}

export type RunControl = 'PAUSE' | 'RESUME' | 'CANCEL';
const controlSignal: Record<RunControl, SignalDefinition> = {
  PAUSE: pauseSignal,
  RESUME: resumeSignal,
  CANCEL: cancelSignal,
};

/** Pause (no new machines start), resume, or cancel (running machines stop after their current step). Operator role. */
export async function controlFleetRun(
  ctx: ServiceContext,
  input: { id: string | number; action: RunControl },
): Promise<FleetRun> {
  authorize(ctx, Role.Operator);
  const fleet = await getFleetRun(ctx, input);
  if (!fleet) throw refuse(ErrorCode.NotFound, 'fleet run not found');
  await signalRun(ctx, fleet.workflowId, controlSignal[input.action]);
  await auditAfter(ctx, {
    action: `fleet_run.${input.action.toLowerCase()}`,
    subjectType: 'fleet_run',
    subjectId: fleet.id,
  });
  return fleet;
}

/**
 * Pause or cancel (after the current step), or resume one machine run (operator role). A run whose
 * workflow ended outside Drydock (terminated in the Temporal UI) is healed: its row says so now.
 */
export async function controlMachineRun(
  ctx: ServiceContext,
  input: { id: string | number; action: RunControl },
): Promise<MachineRun> {
  const caller = authorize(ctx, Role.Operator);
  const run = await getMachineRun(ctx, input);
  if (!run) throw refuse(ErrorCode.NotFound, 'machine run not found');
  try {
    await signalRun(ctx, run.workflowId, controlSignal[input.action]);
  } catch (err) {
    if (!run.finishedAt) {
      const fleet = run.fleetRunId ? await getFleetRun(ctx, { id: run.fleetRunId }) : null;
      await healMachineRun(ctx.orm, ctx.temporal, caller.tenantId, run, fleet?.workflowId);
    }
    throw err;
  }
  await auditAfter(ctx, {
    action: `machine_run.${input.action.toLowerCase()}`,
    subjectType: 'machine',
    subjectId: run.machineId,
    data: { runId: run.id },
  });
  return run;
}

/**
 * Starts a failed run again from a step (default: the failed one); with refreshConfig, from the
 * newest version of its profile. Returns the step. Operator role.
 */
export async function retryMachineRun(
  ctx: ServiceContext,
  input: { id: string | number; fromStep?: string | null; refreshConfig?: boolean | null },
): Promise<string> {
  authorize(ctx, Role.Operator);
  const run = await getMachineRun(ctx, input);
  if (!run) throw refuse(ErrorCode.NotFound, 'machine run not found');
  const refreshConfig = input.refreshConfig ?? false;
  try {
    const step = await ctx.temporal.workflow.getHandle(run.workflowId).executeUpdate(retryFromStepUpdate, {
      args: [{ ...(input.fromStep ? { fromStep: input.fromStep } : {}), refreshConfig }],
    });
    await auditAfter(ctx, {
      action: 'machine_run.retried',
      subjectType: 'machine',
      subjectId: run.machineId,
      data: { runId: run.id, fromStep: step, refreshConfig },
    });
    return step;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw refuse(ErrorCode.RunNotRetryable, 'the run has ended; start a new run instead');
    if (err instanceof WorkflowUpdateFailedError)
      throw refuse(ErrorCode.RunNotRetryable, (err.cause as Error | undefined)?.message ?? err.message);
    throw err;
  }
}

async function signalRun(ctx: ServiceContext, workflowId: string, signal: SignalDefinition): Promise<void> {
  try {
    await ctx.temporal.workflow.getHandle(workflowId).signal(signal);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw refuse(ErrorCode.RunNotRunning, 'the run has already ended');
    throw err;
  }
}
