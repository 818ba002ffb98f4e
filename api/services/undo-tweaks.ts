import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  MachineSchema,
  MachineTweakUndoSchema,
  MachineTweakUndoStatus,
  Role,
  TweakUndoSchema,
  TweakUndoStatus,
  type MachineTweakUndo,
  type TweakUndo,
} from '../../infra/db/entities';
import {
  closeUnrecordedFleetUndo,
  closeUnrecordedUndo,
  fleetUndoCounts,
  machineIsBusy,
  snapshotUndoMachines,
} from '../../infra/db/tweak-undos';
import { retiredTweakIds, tweakIds } from '../../infra/provisioning/tweaks';
import { FleetRunIdKey, MachineIdKey, SiteIdKey, TenantIdKey } from '../../workflows/search-attributes';
import {
  fleetUndoProgressQuery,
  fleetUndoTweaksWorkflowId,
  undoProgressQuery,
  undoTweaksWorkflowId,
  type FleetUndoTweaksInput,
  type FleetUndoTweaksProgress,
  type UndoTweaksInput,
  type UndoTweaksProgress,
} from '../../workflows/tweaks/contracts';
import { audited, auditAfter } from './audit';
import { ErrorCode, refuse } from './errors';
import { checkId, checkRange, checkSelection, type SelectionInput } from './input';
import { liveFigures } from './live-query';
import { authorize, inTenant, type ServiceContext } from './service-context';

/**
 * Undo of tweaks (issue 12): put back what each machine had before Drydock's tweaks changed it,
 * from the records the agent keeps on the machine. One machine (`undoTweaks`) or many
 * (`undoTweaksFleet`), each a durable run (undoTweaks / fleetUndoTweaks workflows). Operators start
 * and cancel them; everything is audited.
 */

/** Tweak ids from an argument: catalogue ids (retired ones too: a machine may hold their records). */
function checkTweaks(tweaks: readonly string[] | null | undefined): string[] | null {
  if (!tweaks || tweaks.length === 0) return null;
  if (tweaks.length > 200) throw refuse(ErrorCode.BadUserInput, 'tweaks: at most 200');
  const bad = tweaks.find((id) => !tweakIds.has(id) && !retiredTweakIds.has(id));
  if (bad !== undefined)
    throw refuse(
      ErrorCode.BadUserInput,
      `tweaks: ${JSON.stringify(bad.slice(0, 80))} is not a tweak in the catalogue`,
    );
  return [...new Set(tweaks)];
}

/**
 * Where a row says a run is going on and Temporal says that run is over (terminated, timed out,
 * failed outside Drydock), the row is made true as it is read.
 */
async function closedInTemporal(ctx: ServiceContext, workflowId: string, runId: string | null | undefined) {
  ctx.budget?.spend('workflowQueries');
  try {
    const { status } = await ctx.temporal.workflow.getHandle(workflowId, runId ?? undefined).describe();
    return status.name === 'RUNNING' ? null : status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null; // not started yet, or retention passed
    throw err;
  }
}

/** One machine's undo, made true first if its run closed in Temporal unrecorded. */
export async function getMachineTweakUndo(
  ctx: ServiceContext,
  input: { id: string | number },
): Promise<MachineTweakUndo | null> {
  const id = checkId(input.id, 'id');
  const undo = await inTenant(ctx, (em) => em.findOne(MachineTweakUndoSchema, { id }));
  if (!undo || undo.finishedAt || undo.status === MachineTweakUndoStatus.Queued) return undo;
  const closed = await closedInTemporal(ctx, undo.workflowId, undo.temporalRunId);
  if (!closed || closed === 'COMPLETED') return undo;
  return inTenant(ctx, async (em) => {
    await closeUnrecordedUndo(em, undo, closed);
    return em.findOne(MachineTweakUndoSchema, { id: undo.id }, { refresh: true });
  });
}

/** A fleet-wide undo, made true first if its workflow closed in Temporal unrecorded. */
export async function getTweakUndo(
  ctx: ServiceContext,
  input: { id: string | number },
): Promise<TweakUndo | null> {
  const id = checkId(input.id, 'id');
  const undo = await inTenant(ctx, (em) => em.findOne(TweakUndoSchema, { id }));
  if (!undo || undo.finishedAt) return undo;
  const closed = await closedInTemporal(ctx, undo.workflowId, undo.temporalRunId);
  if (!closed || closed === 'COMPLETED') return undo;
  return inTenant(ctx, async (em) => {
    await closeUnrecordedFleetUndo(em, undo.id, closed);
    return em.findOne(TweakUndoSchema, { id: undo.id }, { refresh: true });
  });
}

/** A machine's undos, newest first (the last 50). */
export async function machineTweakUndosOf(
  ctx: ServiceContext,
  input: { machineId: string | number },
): Promise<MachineTweakUndo[]> {
  const id = checkId(input.machineId, 'machineId');
  return inTenant(ctx, (em) =>
    em.find(MachineTweakUndoSchema, { machineId: id }, { orderBy: { createdAt: 'desc' }, limit: 50 }),
  );
}

/** A fleet-wide undo's machines by status, from their rows. */
export function tweakUndoCounts(ctx: ServiceContext, undo: TweakUndo) {
  return inTenant(ctx, (em) => fleetUndoCounts(em, undo.id));
}

/** A page of a fleet-wide undo's machine undos, in selection order. */
export async function machineUndosOf(
  ctx: ServiceContext,
  undo: TweakUndo,
  input: { first?: number | null; afterSeq?: number | null },
): Promise<MachineTweakUndo[]> {
  const first = checkRange(input.first, 'first', { min: 1, max: 1000, fallback: 100 });
  const afterSeq = checkRange(input.afterSeq, 'afterSeq', { min: 0, max: 2 ** 31 - 1, fallback: 0 });
  return inTenant(ctx, (em) =>
    em.find(
      MachineTweakUndoSchema,
      { tweakUndoId: undo.id, seq: { $gt: afterSeq } },
      { orderBy: { seq: 'asc' }, limit: first },
    ),
  );
}

/** Live progress of a machine's undo; null once its workflow is gone. */
export async function machineUndoProgress(
  ctx: ServiceContext,
  undo: MachineTweakUndo,
): Promise<UndoTweaksProgress | null> {
  return liveFigures(ctx, () => ctx.temporal.workflow.getHandle(undo.workflowId).query(undoProgressQuery));
}

/** Live progress of a fleet-wide undo (starting, waiting, cancelling, done); null once it is gone. */
export async function tweakUndoProgress(
  ctx: ServiceContext,
  undo: TweakUndo,
): Promise<FleetUndoTweaksProgress | null> {
  return liveFigures(ctx, () =>
    ctx.temporal.workflow.getHandle(undo.workflowId).query(fleetUndoProgressQuery),
  );
}

const undoRunDefaults = (ctx: ServiceContext) => ({
  offlineLimitSeconds: ctx.env.PROVISION_OFFLINE_LIMIT_SECONDS,
  retryBackoffSeconds: ctx.env.PROVISION_RETRY_BACKOFF_SECONDS,
});

/**
 * Puts a machine's tweaked values back as it had them (operator role); then restarts it unless
 * `restart` is false. `tweaks`: only these; default every tweak the machine has a record of.
 */
export async function undoTweaks(
  ctx: ServiceContext,
  input: { machineId: string | number; tweaks?: readonly string[] | null; restart?: boolean | null },
): Promise<MachineTweakUndo> {
  const caller = authorize(ctx, Role.Operator);
  const machineId = checkId(input.machineId, 'machineId');
  const tweaks = checkTweaks(input.tweaks);
  const restart = input.restart ?? true;
  const undo = await audited(
    ctx,
    async (em) => {
      const machine = await em.findOne(MachineSchema, { id: machineId, status: 'active' as never });
      if (!machine) throw refuse(ErrorCode.NotFound, 'no active machine with that id');
      // One run per machine at a time: an undo racing a provisioning run would fight over values.
      if (await machineIsBusy(em, machine.id))
        throw refuse(
          ErrorCode.RunInProgress,
          'the machine has a provisioning run or an undo unfinished; cancel it or let it finish first',
        );
      const id = randomUUID();
      return em.create(MachineTweakUndoSchema, {
        id,
        tenantId: caller.tenantId,
        machineId: machine.id,
        siteId: machine.siteId,
        workflowId: undoTweaksWorkflowId(machine.id, id),
        tweaks,
        restart,
        status: MachineTweakUndoStatus.Queued,
        restored: [],
        failures: [],
        createdBy: caller.actor,
        createdAt: new Date(),
        updatedAt: new Date(),
      });
    },
    (row) => ({
      action: 'tweak_undo.started',
      subjectType: 'machine',
      subjectId: row.machineId,
      data: { undoId: row.id, tweaks: tweaks ?? 'all', restart },
    }),
  );
  const args: UndoTweaksInput = {
    tenantId: caller.tenantId,
    machineId: undo.machineId,
    siteId: undo.siteId,
    undoId: undo.id,
    ...(tweaks ? { tweaks } : {}),
    restart,
    ...undoRunDefaults(ctx),
  };
  await ctx.temporal.workflow.start('undoTweaks', {
    taskQueue: ctx.taskQueue,
    workflowId: undo.workflowId,
    args: [args],
    staticSummary: `Undo tweaks on machine ${undo.machineId}${tweaks ? ` (${tweaks.join(', ')})` : ''}`,
    typedSearchAttributes: [
      { key: TenantIdKey, value: caller.tenantId },
      { key: SiteIdKey, value: undo.siteId },
      { key: MachineIdKey, value: undo.machineId },
    ],
  });
  return undo;
}

/**
 * Undoes tweaks on many machines (operator role): an undoTweaks run per selected active machine. An
 * empty selection means every active machine; machines with a run unfinished are skipped (counted).
 */
export async function undoTweaksFleet(
  ctx: ServiceContext,
  input: SelectionInput & { tweaks?: readonly string[] | null; restart?: boolean | null },
): Promise<TweakUndo> {
  const caller = authorize(ctx, Role.Operator);
  const selection = checkSelection(input);
  const tweaks = checkTweaks(input.tweaks);
  const restart = input.restart ?? true;
  const undo = await audited(
    ctx,
    async (em) => {
      const id = randomUUID();
      const row = em.create(TweakUndoSchema, {
        id,
        tenantId: caller.tenantId,
        workflowId: fleetUndoTweaksWorkflowId(id),
        selection,
        tweaks,
        restart,
        status: TweakUndoStatus.Running,
        total: 0,
        skipped: 0,
        createdBy: caller.actor,
        createdAt: new Date(),
      });
      await em.flush();
      const { total, skipped } = await snapshotUndoMachines(em, {
        id,
        selection,
        tweaks,
        restart,
        createdBy: caller.actor,
      });
      if (total === 0)
        throw refuse(
          ErrorCode.EmptySelection,
          skipped > 0
            ? `all ${skipped} selected machine(s) have a run of their own unfinished; nothing to undo`
            : 'the selection matches no active machine; nothing to undo',
          { skipped },
        );
      Object.assign(row, { total, skipped });
      return row;
    },
    (row) => ({
      action: 'tweak_undo.fleet_started',
      subjectType: 'tweak_undo',
      subjectId: row.id,
      data: { tweaks: tweaks ?? 'all', restart, total: row.total, skipped: row.skipped },
    }),
  );
  const args: FleetUndoTweaksInput = {
    tenantId: caller.tenantId,
    fleetUndoId: undo.id,
    total: undo.total,
    checkSeconds: ctx.env.PROVISION_FLEET_RECONCILE_SECONDS,
    runOptions: { ...(tweaks ? { tweaks } : {}), restart, ...undoRunDefaults(ctx) },
  };
  await ctx.temporal.workflow.start('fleetUndoTweaks', {
    taskQueue: ctx.taskQueue,
    workflowId: undo.workflowId,
    args: [args],
    staticSummary: `Undo tweaks on ${undo.total} machine(s)${tweaks ? ` (${tweaks.join(', ')})` : ''}`,
    typedSearchAttributes: [
      { key: TenantIdKey, value: caller.tenantId },
      { key: FleetRunIdKey, value: undo.id },
    ],
  });
  return undo;
}

/**
 * Cancels a fleet-wide undo (every machine's undo with it) or one machine's undo (operator role). A
 * machine that has not picked its undo up yet never runs it; one that has finishes it.
 */
export async function cancelTweakUndo(ctx: ServiceContext, input: { id: string | number }): Promise<true> {
  authorize(ctx, Role.Operator);
  const id = checkId(input.id, 'id');
  const found = await inTenant(ctx, async (em) => {
    const fleet = await em.findOne(TweakUndoSchema, { id });
    if (fleet)
      return {
        workflowId: fleet.workflowId,
        subjectType: 'tweak_undo',
        subjectId: fleet.id,
        ended: !!fleet.finishedAt,
      };
    const one = await em.findOne(MachineTweakUndoSchema, { id });
    if (one)
      return {
        workflowId: one.workflowId,
        subjectType: 'machine',
        subjectId: one.machineId,
        ended: !!one.finishedAt,
      };
    throw refuse(ErrorCode.NotFound, 'no undo with that id');
  });
  if (found.ended) throw refuse(ErrorCode.RunNotRunning, 'the undo has already ended');
  try {
    await ctx.temporal.workflow.getHandle(found.workflowId).cancel();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw refuse(ErrorCode.RunNotRunning, 'the undo has already ended');
    throw err;
  }
  await auditAfter(ctx, {
    action: 'tweak_undo.cancel',
    subjectType: found.subjectType,
    subjectId: found.subjectId,
    data: { undoId: id },
  });
  return true;
}
