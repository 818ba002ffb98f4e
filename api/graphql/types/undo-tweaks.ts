import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { appendAudit } from '../../../infra/db/audit';
import {
  MachineSchema,
  MachineTweakUndoSchema,
  MachineTweakUndoStatus,
  Role,
  TweakUndoSchema,
  TweakUndoStatus,
  type MachineTweakUndo,
  type TweakUndo,
} from '../../../infra/db/entities';
import {
  closeUnrecordedUndo,
  fleetUndoCounts,
  MACHINE_BUSY_SQL,
  snapshotUndoMachines,
} from '../../../infra/db/tweak-undos';
import { retiredTweakIds, tweakIds } from '../../../infra/provisioning/tweaks';
import { FleetRunIdKey, MachineIdKey, SiteIdKey, TenantIdKey } from '../../../workflows/search-attributes';
import {
  fleetUndoProgressQuery,
  fleetUndoTweaksWorkflowId,
  undoProgressQuery,
  undoTweaksWorkflowId,
  type FleetUndoTweaksInput,
  type UndoTweaksInput,
} from '../../../workflows/tweaks/contracts';
import { builder } from '../builder';
import type { GraphQLContext } from '../context';
import { apiError, ErrorCode } from '../errors';
import { checkIds, checkRange } from '../ids';
import { inTenant, requireIdentity } from '../tenant-scope';

/**
 * Undo of tweaks (issue 12): put back what each machine had before Drydock's tweaks changed it,
 * from the records the agent keeps on the machine. One machine (`undoTweaks`) or many
 * (`undoTweaksFleet`), each a durable run (undoTweaks / fleetUndoTweaks workflows). Operators start
 * and cancel them; everything is audited.
 */

const UndoErrorRef = builder.objectRef<{ type: string; message: string }>('UndoError').implement({
  fields: (t) => ({
    type: t.exposeString('type', { description: 'Failure class, e.g. UndoIncomplete, MachineOffline.' }),
    message: t.exposeString('message'),
  }),
});

const UndoFailureRef = builder.objectRef<{ key: string; message: string }>('UndoValueFailure').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'registry:<path>\\<name> or action:<action>' }),
    message: t.exposeString('message'),
  }),
});

const MachineTweakUndoRef = builder.objectRef<MachineTweakUndo>('MachineTweakUndo').implement({
  description: 'One undoTweaks run, as mirrored for the portal (the workflow is the source of truth).',
  fields: (t) => ({
    id: t.exposeID('id'),
    machineId: t.exposeID('machineId'),
    tweakUndoId: t.id({ nullable: true, resolve: (u) => u.tweakUndoId ?? null }),
    workflowId: t.exposeString('workflowId'),
    status: t.exposeString('status'),
    tweaks: t.stringList({
      nullable: true,
      description: 'The tweak ids asked for; null: every tweak the machine had a record of.',
      resolve: (u) => u.tweaks ?? null,
    }),
    restart: t.exposeBoolean('restart'),
    restored: t.exposeStringList('restored', { description: 'Values and actions put back.' }),
    failures: t.field({ type: [UndoFailureRef], resolve: (u) => u.failures }),
    lastError: t.field({ type: UndoErrorRef, nullable: true, resolve: (u) => u.lastError ?? null }),
    progressJson: t.string({
      nullable: true,
      description: 'Live progress from the workflow; null once it is gone.',
      resolve: async (u, _a, ctx) => {
        ctx.budget.spend('workflowQueries');
        try {
          return JSON.stringify(await ctx.temporal.workflow.getHandle(u.workflowId).query(undoProgressQuery));
        } catch {
          return null;
        }
      },
    }),
    createdBy: t.exposeString('createdBy'),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.startedAt ?? null }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.finishedAt ?? null }),
  }),
});

const UndoCountsRef = builder
  .objectRef<{ queued: number; running: number; passed: number; failed: number; cancelled: number }>(
    'TweakUndoCounts',
  )
  .implement({
    description: "The fleet-wide undo's machines by status, from their rows.",
    fields: (t) => ({
      queued: t.exposeInt('queued'),
      running: t.exposeInt('running'),
      passed: t.exposeInt('passed'),
      failed: t.exposeInt('failed'),
      cancelled: t.exposeInt('cancelled'),
    }),
  });

const TweakUndoRef = builder.objectRef<TweakUndo>('TweakUndo').implement({
  description: 'A fleet-wide undo of tweaks: an undoTweaks run per selected machine.',
  fields: (t) => ({
    id: t.exposeID('id'),
    workflowId: t.exposeString('workflowId'),
    status: t.exposeString('status'),
    total: t.exposeInt('total'),
    skipped: t.exposeInt('skipped', {
      description:
        'Selected machines left out: each had a provisioning run or an undo of its own unfinished.',
    }),
    tweaks: t.stringList({ nullable: true, resolve: (u) => u.tweaks ?? null }),
    restart: t.exposeBoolean('restart'),
    lastError: t.field({ type: UndoErrorRef, nullable: true, resolve: (u) => u.lastError ?? null }),
    counts: t.field({
      type: UndoCountsRef,
      resolve: (u, _a, ctx) => inTenant(ctx, (em) => fleetUndoCounts(em, u.id)),
    }),
    progressJson: t.string({
      nullable: true,
      description:
        'Live progress from the workflow (starting, waiting, cancelling, done); null once it is gone.',
      resolve: async (u, _a, ctx) => {
        ctx.budget.spend('workflowQueries');
        try {
          return JSON.stringify(
            await ctx.temporal.workflow.getHandle(u.workflowId).query(fleetUndoProgressQuery),
          );
        } catch {
          return null;
        }
      },
    }),
    machineUndos: t.field({
      type: [MachineTweakUndoRef],
      description: 'Per-machine undos in selection order.',
      args: {
        first: t.arg.int({ required: false, defaultValue: 100 }),
        afterSeq: t.arg.int({ required: false, defaultValue: 0 }),
      },
      resolve: (u, args, ctx) => {
        const first = checkRange(args.first, 'first', { min: 1, max: 1000, fallback: 100 });
        const afterSeq = checkRange(args.afterSeq, 'afterSeq', { min: 0, max: 2 ** 31 - 1, fallback: 0 });
        return inTenant(ctx, (em) =>
          em.find(
            MachineTweakUndoSchema,
            { tweakUndoId: u.id, seq: { $gt: afterSeq } },
            { orderBy: { seq: 'asc' }, limit: first },
          ),
        );
      },
    }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (u) => u.createdAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.finishedAt ?? null }),
  }),
});

/** Tweak ids from an argument: catalogue ids (retired ones too: a machine may hold their records). */
function checkTweaks(tweaks: readonly string[] | null | undefined): string[] | null {
  if (!tweaks || tweaks.length === 0) return null;
  if (tweaks.length > 200) throw apiError(ErrorCode.BadUserInput, 'tweaks: at most 200');
  const bad = tweaks.find((id) => !tweakIds.has(id) && !retiredTweakIds.has(id));
  if (bad !== undefined)
    throw apiError(
      ErrorCode.BadUserInput,
      `tweaks: ${JSON.stringify(bad.slice(0, 80))} is not a tweak in the catalogue`,
    );
  return [...new Set(tweaks)];
}

/**
 * Where a row says a run is going on and Temporal says that run is over (terminated, timed out,
 * failed outside Drydock), the row is made true as it is read.
 */
async function closedInTemporal(ctx: GraphQLContext, workflowId: string, runId: string | null | undefined) {
  ctx.budget.spend('workflowQueries');
  try {
    const { status } = await ctx.temporal.workflow.getHandle(workflowId, runId ?? undefined).describe();
    return status.name === 'RUNNING' ? null : status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null; // not started yet, or retention passed
    throw err;
  }
}

async function freshMachineUndo(ctx: GraphQLContext, undo: MachineTweakUndo | null) {
  if (!undo || undo.finishedAt || undo.status === MachineTweakUndoStatus.Queued) return undo;
  const closed = await closedInTemporal(ctx, undo.workflowId, undo.temporalRunId);
  if (!closed || closed === 'COMPLETED') return undo;
  return inTenant(ctx, async (em) => {
    await closeUnrecordedUndo(em, undo, closed);
    return em.findOne(MachineTweakUndoSchema, { id: undo.id }, { refresh: true });
  });
}

async function freshFleetUndo(ctx: GraphQLContext, undo: TweakUndo | null) {
  if (!undo || undo.finishedAt) return undo;
  const closed = await closedInTemporal(ctx, undo.workflowId, undo.temporalRunId);
  if (!closed || closed === 'COMPLETED') return undo;
  return inTenant(ctx, async (em) => {
    const cancelled = closed === 'CANCELLED';
    await em.execute(
      `update tweak_undos set status = ?, finished_at = now(),
              last_error = case when ? then last_error else ?::jsonb end
        where id = ? and finished_at is null`,
      [
        cancelled ? TweakUndoStatus.Cancelled : TweakUndoStatus.Failed,
        cancelled,
        JSON.stringify({
          type: 'RunClosed',
          message: `the fleet-wide undo was ${closed.toLowerCase().replace('_', ' ')} in Temporal, outside Drydock; its machines' undos go on by themselves`,
        }),
        undo.id,
      ],
    );
    return em.findOne(TweakUndoSchema, { id: undo.id }, { refresh: true });
  });
}

builder.queryField('tweakUndo', (t) =>
  t.field({
    type: TweakUndoRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const [id] = checkIds([args.id], 'id');
      return freshFleetUndo(ctx, await inTenant(ctx, (em) => em.findOne(TweakUndoSchema, { id: id! })));
    },
  }),
);

builder.queryField('machineTweakUndo', (t) =>
  t.field({
    type: MachineTweakUndoRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const [id] = checkIds([args.id], 'id');
      return freshMachineUndo(
        ctx,
        await inTenant(ctx, (em) => em.findOne(MachineTweakUndoSchema, { id: id! })),
      );
    },
  }),
);

builder.queryField('machineTweakUndos', (t) =>
  t.field({
    type: [MachineTweakUndoRef],
    description: "A machine's undos, newest first.",
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => {
      const [id] = checkIds([args.machineId], 'machineId');
      return inTenant(ctx, (em) =>
        em.find(MachineTweakUndoSchema, { machineId: id! }, { orderBy: { createdAt: 'desc' }, limit: 50 }),
      );
    },
  }),
);

const undoRunDefaults = (ctx: GraphQLContext) => ({
  offlineLimitSeconds: ctx.env.PROVISION_OFFLINE_LIMIT_SECONDS,
  retryBackoffSeconds: ctx.env.PROVISION_RETRY_BACKOFF_SECONDS,
});

builder.mutationField('undoTweaks', (t) =>
  t.field({
    type: MachineTweakUndoRef,
    description:
      "Puts a machine's tweaked values back as it had them before Drydock changed them (operator role); then restarts it, unless `restart` is false. `tweaks`: only these; default every tweak the machine has a record of.",
    args: {
      machineId: t.arg.id({ required: true }),
      tweaks: t.arg.stringList({ required: false }),
      restart: t.arg.boolean({ required: false, defaultValue: true }),
    },
    resolve: async (_r, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const [machineId] = checkIds([args.machineId], 'machineId');
      const tweaks = checkTweaks(args.tweaks);
      const restart = args.restart ?? true;
      const undo = await inTenant(ctx, async (em) => {
        const machine = await em.findOne(MachineSchema, { id: machineId!, status: 'active' as never });
        if (!machine) throw apiError(ErrorCode.NotFound, 'no active machine with that id');
        // One run per machine at a time: an undo racing a provisioning run would fight over values.
        const [busy] = await em.execute<{ busy: boolean }[]>(
          `select ${MACHINE_BUSY_SQL} as busy from machines m where m.id = ?`,
          [machine.id],
        );
        if (busy?.busy)
          throw apiError(
            ErrorCode.RunInProgress,
            'the machine has a provisioning run or an undo unfinished; cancel it or let it finish first',
          );
        const id = randomUUID();
        const row = em.create(MachineTweakUndoSchema, {
          id,
          tenantId: identity.tenantId,
          machineId: machine.id,
          siteId: machine.siteId,
          workflowId: undoTweaksWorkflowId(machine.id, id),
          tweaks,
          restart,
          status: MachineTweakUndoStatus.Queued,
          restored: [],
          failures: [],
          createdBy: identity.actor,
          createdAt: new Date(),
          updatedAt: new Date(),
        });
        await em.flush();
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: 'tweak_undo.started',
          subjectType: 'machine',
          subjectId: machine.id,
          data: { undoId: id, tweaks: tweaks ?? 'all', restart },
        });
        return row;
      });
      const input: UndoTweaksInput = {
        tenantId: identity.tenantId,
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
        args: [input],
        staticSummary: `Undo tweaks on machine ${undo.machineId}${tweaks ? ` (${tweaks.join(', ')})` : ''}`,
        typedSearchAttributes: [
          { key: TenantIdKey, value: identity.tenantId },
          { key: SiteIdKey, value: undo.siteId },
          { key: MachineIdKey, value: undo.machineId },
        ],
      });
      return undo;
    },
  }),
);

const TweakUndoFleetInput = builder.inputType('TweakUndoFleetInput', {
  fields: (t) => ({
    siteIds: t.idList({ required: false }),
    clientIds: t.idList({ required: false }),
    machineIds: t.idList({ required: false }),
    tags: t.stringList({ required: false, description: 'Machine labels that must all match, as key=value.' }),
    tweaks: t.stringList({ required: false, description: 'Only these tweaks; default every recorded one.' }),
    restart: t.boolean({ required: false, defaultValue: true }),
  }),
});

builder.mutationField('undoTweaksFleet', (t) =>
  t.field({
    type: TweakUndoRef,
    description:
      'Undoes tweaks on many machines (operator role): an undoTweaks run per selected active machine. An empty selection means every active machine; machines with a run unfinished are skipped (counted).',
    args: { input: t.arg({ type: TweakUndoFleetInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const tags: Record<string, string> = {};
      for (const tag of input.tags ?? []) {
        const m = /^([^=]{1,64})=(.{0,256})$/.exec(tag);
        if (!m) throw apiError(ErrorCode.BadUserInput, `tag ${JSON.stringify(tag)} must be key=value`);
        tags[m[1]!] = m[2]!;
      }
      const selection = {
        siteIds: checkIds(input.siteIds, 'siteIds'),
        clientIds: checkIds(input.clientIds, 'clientIds'),
        machineIds: checkIds(input.machineIds, 'machineIds'),
        tags,
      };
      const tweaks = checkTweaks(input.tweaks);
      const restart = input.restart ?? true;
      const undo = await inTenant(ctx, async (em) => {
        const id = randomUUID();
        const row = em.create(TweakUndoSchema, {
          id,
          tenantId: identity.tenantId,
          workflowId: fleetUndoTweaksWorkflowId(id),
          selection,
          tweaks,
          restart,
          status: TweakUndoStatus.Running,
          total: 0,
          skipped: 0,
          createdBy: identity.actor,
          createdAt: new Date(),
        });
        await em.flush();
        const { total, skipped } = await snapshotUndoMachines(em, {
          id,
          selection,
          tweaks,
          restart,
          createdBy: identity.actor,
        });
        if (total === 0)
          throw apiError(
            ErrorCode.EmptySelection,
            skipped > 0
              ? `all ${skipped} selected machine(s) have a run of their own unfinished; nothing to undo`
              : 'the selection matches no active machine; nothing to undo',
            { skipped },
          );
        Object.assign(row, { total, skipped });
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: 'tweak_undo.fleet_started',
          subjectType: 'tweak_undo',
          subjectId: id,
          data: { tweaks: tweaks ?? 'all', restart, total, skipped },
        });
        return row;
      });
      const args: FleetUndoTweaksInput = {
        tenantId: identity.tenantId,
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
          { key: TenantIdKey, value: identity.tenantId },
          { key: FleetRunIdKey, value: undo.id },
        ],
      });
      return undo;
    },
  }),
);

builder.mutationField('cancelTweakUndo', (t) =>
  t.field({
    type: 'Boolean',
    description:
      "Cancels a fleet-wide undo (every machine's undo with it) or one machine's undo (operator role). A machine that has not picked its undo up yet never runs it; one that has finishes it.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const [id] = checkIds([args.id], 'id');
      const found = await inTenant(ctx, async (em) => {
        const fleet = await em.findOne(TweakUndoSchema, { id: id! });
        if (fleet)
          return {
            workflowId: fleet.workflowId,
            subjectType: 'tweak_undo',
            subjectId: fleet.id,
            ended: !!fleet.finishedAt,
          };
        const one = await em.findOne(MachineTweakUndoSchema, { id: id! });
        if (one)
          return {
            workflowId: one.workflowId,
            subjectType: 'machine',
            subjectId: one.machineId,
            ended: !!one.finishedAt,
          };
        throw apiError(ErrorCode.NotFound, 'no undo with that id');
      });
      if (found.ended) throw apiError(ErrorCode.RunNotRunning, 'the undo has already ended');
      try {
        await ctx.temporal.workflow.getHandle(found.workflowId).cancel();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw apiError(ErrorCode.RunNotRunning, 'the undo has already ended');
        throw err;
      }
      await inTenant(ctx, (em) =>
        appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: 'tweak_undo.cancel',
          subjectType: found.subjectType,
          subjectId: found.subjectId,
          data: { undoId: id },
        }),
      );
      return true;
    },
  }),
);
