import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { appendAudit } from '../../../infra/db/audit';
import {
  ClientSchema,
  FleetRunSchema,
  FleetRunStatus,
  MachineRunSchema,
  MachineRunStatus,
  MachineSchema,
  ProfileVersionSchema,
  Role,
  SiteSchema,
  TenantSchema,
  type FleetRun,
  type MachineRun,
} from '../../../infra/db/entities';
import { resolveProfile, type ProfileLayer } from '../../../infra/provisioning/profile';
import {
  healMachineRun,
  MachineBusy,
  OpenRunExists,
  snapshotFleetMachines,
  startSingleRun,
} from '../../../infra/provisioning/machine-runs';
import { FleetRunIdKey, TenantIdKey } from '../../../workflows/search-attributes';
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
} from '../../../workflows/provisioning/contracts';
import { builder } from '../builder';
import type { GraphQLContext } from '../context';
import { apiError, ErrorCode } from '../errors';
import { checkIds, checkRange } from '../ids';
import { inTenant, requireIdentity } from '../tenant-scope';

const FleetProgressRef = builder.objectRef<FleetRunProgress>('FleetRunProgress').implement({
  description: 'Live counts from the fleetRun workflow.',
  fields: (t) => ({
    state: t.exposeString('state'),
    total: t.exposeInt('total'),
    queued: t.exposeInt('queued'),
    running: t.exposeInt('running'),
    passed: t.exposeInt('passed'),
    failed: t.exposeInt('failed'),
    cancelled: t.exposeInt('cancelled'),
    paused: t.exposeBoolean('paused'),
    batches: t.exposeInt('batches', { description: 'Histories so far (continue-as-new).' }),
    recovered: t.exposeInt('recovered', {
      description:
        "Settles the fleet run's periodic check applied before any signal did: closedInTemporal + lateSignals.",
    }),
    closedInTemporal: t.exposeInt('closedInTemporal', {
      description:
        'Machine runs ended in Temporal without settling (terminated, timed out), healed by the check.',
    }),
    lateSignals: t.exposeInt('lateSignals', {
      description:
        'Machine runs settled by their rows for two checks with no signal (lost or very late; alerted).',
    }),
  }),
});

const RunErrorRef = builder
  .objectRef<{ type: string; message: string; step?: string }>('RunError')
  .implement({
    fields: (t) => ({
      type: t.exposeString('type', { description: 'Failure class, e.g. InstallerHashMismatch.' }),
      message: t.exposeString('message'),
      step: t.string({ nullable: true, resolve: (e) => e.step ?? null }),
    }),
  });

const ValidationItemRef = builder
  .objectRef<{ item: string; pass: boolean; detail: string }>('ValidationItem')
  .implement({
    fields: (t) => ({
      item: t.exposeString('item'),
      result: t.string({ description: 'PASS or FAIL', resolve: (i) => (i.pass ? 'PASS' : 'FAIL') }),
      detail: t.exposeString('detail'),
    }),
  });

const MachineRunRef = builder.objectRef<MachineRun>('MachineRun').implement({
  description: 'One provisionMachine run, as mirrored for the portal (the workflow is the source of truth).',
  fields: (t) => ({
    id: t.exposeID('id'),
    machineId: t.exposeID('machineId'),
    fleetRunId: t.id({ nullable: true, resolve: (r) => r.fleetRunId ?? null }),
    seq: t.int({
      nullable: true,
      description: 'Its place in its fleet run (1..total).',
      resolve: (r) => r.seq ?? null,
    }),
    workflowId: t.exposeString('workflowId'),
    status: t.exposeString('status'),
    phase: t.string({ nullable: true, resolve: (r) => r.phase ?? null }),
    step: t.string({ nullable: true, resolve: (r) => r.step ?? null }),
    attempt: t.exposeInt('attempt'),
    profileVersion: t.int({ nullable: true, resolve: (r) => r.profileVersion ?? null }),
    resolvedConfigJson: t.string({
      nullable: true,
      description: 'The exact resolved config the run used.',
      resolve: (r) => (r.resolvedConfig ? JSON.stringify(r.resolvedConfig) : null),
    }),
    lastError: t.field({ type: RunErrorRef, nullable: true, resolve: (r) => r.lastError ?? null }),
    validation: t.field({ type: [ValidationItemRef], resolve: (r) => r.validation ?? [] }),
    progressJson: t.string({
      nullable: true,
      description:
        'Live progress from the workflow (phase, step, attempts, timings, last error); null once it is gone.',
      resolve: async (r, _a, ctx) => {
        const p = await queryWorkflow<MachineRunProgress>(ctx, r.workflowId, machineProgressQuery.name);
        return p ? JSON.stringify(p) : null;
      },
    }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.startedAt ?? null }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.finishedAt ?? null }),
  }),
});

const FleetRunRef = builder.objectRef<FleetRun>('FleetRun').implement({
  description: 'A fleet-wide run: selected machines × one profile version, in a sliding window.',
  fields: (t) => ({
    id: t.exposeID('id'),
    workflowId: t.exposeString('workflowId'),
    profileId: t.exposeID('profileId'),
    status: t.exposeString('status'),
    concurrency: t.exposeInt('concurrency'),
    total: t.exposeInt('total', { description: 'Machines in the run (the selection less `skipped`).' }),
    skipped: t.exposeInt('skipped', {
      description:
        'Selected machines left out because each already had a run of its own (queued, running, paused, or failed and waiting for a retry).',
    }),
    passed: t.exposeInt('passed', {
      description: 'Machines whose latest run passed (updated after retries).',
    }),
    failed: t.exposeInt('failed'),
    cancelled: t.exposeInt('cancelled'),
    progress: t.field({
      type: FleetProgressRef,
      nullable: true,
      resolve: (f, _a, ctx) => queryWorkflow<FleetRunProgress>(ctx, f.workflowId, fleetProgressQuery.name),
    }),
    machineRuns: t.field({
      type: [MachineRunRef],
      description: 'Per-machine runs in selection order (the PASS/FAIL summary).',
      args: {
        status: t.arg.string({ required: false }),
        first: t.arg.int({ required: false, defaultValue: 100 }),
        afterSeq: t.arg.int({ required: false, defaultValue: 0 }),
      },
      resolve: (f, args, ctx) => {
        const first = checkRange(args.first, 'first', { min: 1, max: 1000, fallback: 100 });
        if (args.status && !Object.values(MachineRunStatus).includes(args.status as MachineRunStatus))
          throw apiError(
            ErrorCode.BadUserInput,
            `status must be one of ${Object.values(MachineRunStatus).join(', ')}`,
          );
        const afterSeq = checkRange(args.afterSeq, 'afterSeq', { min: 0, max: 2 ** 31 - 1, fallback: 0 });
        return ctx.loaders.machineRunPage({ status: args.status ?? null, first, afterSeq }).load(f.id);
      },
    }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (f) => f.createdAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (f) => f.finishedAt ?? null }),
  }),
});

/** A live query of a run; null when the workflow is gone (retention) or unreachable. */
async function queryWorkflow<T>(
  ctx: GraphQLContext,
  workflowId: string,
  query: string,
  budgeted = true,
): Promise<T | null> {
  // A subscription's periodic polls are paced by its timer, not by the document: not budgeted.
  if (budgeted) ctx.budget.spend('workflowQueries');
  try {
    return await ctx.temporal.workflow.getHandle(workflowId).query<T>(query);
  } catch {
    return null;
  }
}

const FleetRunStartInput = builder.inputType('FleetRunStartInput', {
  fields: (t) => ({
    profileId: t.id({ required: true, description: 'A saved profile version.' }),
    siteIds: t.idList({ required: false }),
    clientIds: t.idList({ required: false }),
    machineIds: t.idList({ required: false }),
    tags: t.stringList({ required: false, description: 'Machine labels that must all match, as key=value.' }),
    concurrency: t.int({ required: false, defaultValue: 25, description: 'Machines at once (1–1000).' }),
  }),
});

builder.queryField('fleetRuns', (t) =>
  t.field({
    type: [FleetRunRef],
    args: { first: t.arg.int({ required: false, defaultValue: 50 }) },
    resolve: (_r, args, ctx) =>
      inTenant(ctx, (em) =>
        em.find(
          FleetRunSchema,
          {},
          {
            orderBy: { createdAt: 'desc' },
            limit: checkRange(args.first, 'first', { min: 1, max: 500, fallback: 50 }),
          },
        ),
      ),
  }),
);

builder.queryField('fleetRun', (t) =>
  t.field({
    type: FleetRunRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => {
      const [id] = checkIds([args.id], 'id');
      return inTenant(ctx, (em) => em.findOne(FleetRunSchema, { id: id! }));
    },
  }),
);

builder.queryField('machineRun', (t) =>
  t.field({
    type: MachineRunRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => {
      const [id] = checkIds([args.id], 'id');
      return inTenant(ctx, (em) => em.findOne(MachineRunSchema, { id: id! }));
    },
  }),
);

builder.queryField('machineRuns', (t) =>
  t.field({
    type: [MachineRunRef],
    description: "A machine's runs, newest first.",
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => {
      const [id] = checkIds([args.machineId], 'machineId');
      return inTenant(ctx, (em) =>
        em.find(MachineRunSchema, { machineId: id! }, { orderBy: { createdAt: 'desc' }, limit: 50 }),
      );
    },
  }),
);

builder.mutationField('startFleetRun', (t) =>
  t.field({
    type: FleetRunRef,
    description: 'Starts a fleet run (operator role). An empty selection means every active machine.',
    args: { input: t.arg({ type: FleetRunStartInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const concurrency = input.concurrency ?? 25;
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000)
        throw apiError(ErrorCode.BadUserInput, 'concurrency must be 1–1000');
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
      const [profileId] = checkIds([input.profileId], 'profileId');
      const fleet = await inTenant(ctx, async (em) => {
        const profile = await em.findOne(ProfileVersionSchema, { id: profileId! });
        if (!profile) throw apiError(ErrorCode.NotFound, 'profile not found');
        const id = randomUUID();
        const row = em.create(FleetRunSchema, {
          id,
          tenantId: identity.tenantId,
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
          createdBy: identity.actor,
          createdAt: new Date(),
        });
        await em.flush();
        // The machines are fixed now, in this transaction: the answer carries the real total, and
        // a selection of nothing is refused (rolled back) instead of becoming a run of zero.
        const { total, skipped } = await snapshotFleetMachines(em, {
          id,
          selection,
          profileId: profile.id,
          createdBy: identity.actor,
        });
        if (total === 0)
          throw apiError(
            ErrorCode.EmptySelection,
            skipped > 0
              ? `all ${skipped} selected machine(s) already have a run of their own; nothing to start`
              : 'the selection matches no active machine; nothing to start',
            { skipped },
          );
        Object.assign(row, { total, skipped });
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: 'fleet_run.started',
          subjectType: 'fleet_run',
          subjectId: id,
          data: { profile: `${profile.name} v${profile.version}`, concurrency, total, skipped },
        });
        return row;
      });
      const args: FleetRunInput = {
        tenantId: identity.tenantId,
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
        staticSummary: `Fleet run of ${fleet.total} machine(s), ${concurrency} at a time, started by ${identity.actor}`,
        typedSearchAttributes: [
          { key: TenantIdKey, value: identity.tenantId },
          { key: FleetRunIdKey, value: fleet.id },
        ],
      });
      return fleet;
    },
  }),
);

builder.mutationField('provisionMachine', (t) =>
  t.field({
    type: MachineRunRef,
    description: 'Provisions one machine with a profile version (operator role).',
    args: { machineId: t.arg.id({ required: true }), profileId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const [machineId, profileId] = checkIds([args.machineId, args.profileId], 'id');
      const { machine, profile } = await inTenant(ctx, async (em) => {
        const machine = await em.findOne(MachineSchema, { id: machineId!, status: 'active' as never });
        if (!machine) throw apiError(ErrorCode.NotFound, 'no active machine with that id');
        const profile = await em.findOne(ProfileVersionSchema, { id: profileId! });
        if (!profile) throw apiError(ErrorCode.NotFound, 'profile not found');
        return { machine, profile };
      });
      try {
        // One open run per machine (the database says so): two would race for its name, apps and reboots.
        return await startSingleRun(ctx.orm, ctx.temporal, {
          tenantId: identity.tenantId,
          machineId: machine.id,
          siteId: machine.siteId,
          hostname: machine.hostname,
          profileId: profile.id,
          createdBy: identity.actor,
          taskQueue: ctx.taskQueue,
          options: provisioningDefaults(ctx),
          also: (em, run) =>
            appendAudit(em, {
              tenantId: identity.tenantId,
              actor: identity.actor,
              action: 'machine_run.started',
              subjectType: 'machine',
              subjectId: machine.id,
              data: { runId: run.id, profile: `${profile.name} v${profile.version}` },
            }),
        });
      } catch (err) {
        if (err instanceof MachineBusy) throw apiError(ErrorCode.RunInProgress, err.message);
        if (err instanceof OpenRunExists)
          throw apiError(
            ErrorCode.RunInProgress,
            `the machine already has a run (${err.run.status}); cancel it or let it finish first`,
            { runId: err.run.id },
          );
        throw err;
      }
    },
  }),
);

const RunControl = builder.enumType('RunControl', { values: ['PAUSE', 'RESUME', 'CANCEL'] as const });
const controlSignal = { PAUSE: pauseSignal, RESUME: resumeSignal, CANCEL: cancelSignal } as const;

builder.mutationField('controlFleetRun', (t) =>
  t.field({
    type: FleetRunRef,
    description:
      'Pause (no new machines start), resume, or cancel (running machines stop after their current step). Operator role.',
    args: { id: t.arg.id({ required: true }), action: t.arg({ type: RunControl, required: true }) },
    resolve: async (_r, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const [id] = checkIds([args.id], 'id');
      const fleet = await inTenant(ctx, (em) => em.findOne(FleetRunSchema, { id: id! }));
      if (!fleet) throw apiError(ErrorCode.NotFound, 'fleet run not found');
      await signalRun(ctx, fleet.workflowId, controlSignal[args.action]);
      await inTenant(ctx, (em) =>
        appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: `fleet_run.${args.action.toLowerCase()}`,
          subjectType: 'fleet_run',
          subjectId: fleet.id,
        }),
      );
      return fleet;
    },
  }),
);

builder.mutationField('controlMachineRun', (t) =>
  t.field({
    type: MachineRunRef,
    description: 'Pause or cancel (after the current step), or resume one machine run. Operator role.',
    args: { id: t.arg.id({ required: true }), action: t.arg({ type: RunControl, required: true }) },
    resolve: async (_r, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const [id] = checkIds([args.id], 'id');
      const run = await inTenant(ctx, (em) => em.findOne(MachineRunSchema, { id: id! }));
      if (!run) throw apiError(ErrorCode.NotFound, 'machine run not found');
      try {
        await signalRun(ctx, run.workflowId, controlSignal[args.action]);
      } catch (err) {
        // Its workflow ended outside Drydock (terminated in the Temporal UI): its row says so now.
        if (!run.finishedAt) {
          const fleet = run.fleetRunId
            ? await inTenant(ctx, (em) => em.findOne(FleetRunSchema, { id: run.fleetRunId! }))
            : null;
          await healMachineRun(ctx.orm, ctx.temporal, identity.tenantId, run, fleet?.workflowId);
        }
        throw err;
      }
      await inTenant(ctx, (em) =>
        appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: `machine_run.${args.action.toLowerCase()}`,
          subjectType: 'machine',
          subjectId: run.machineId,
          data: { runId: run.id },
        }),
      );
      return run;
    },
  }),
);

builder.mutationField('retryMachineRun', (t) =>
  t.field({
    type: 'String',
    description:
      'Starts a failed run again from a step (default: the failed one); with refreshConfig, from the newest version of its profile. Returns the step. Operator role.',
    args: {
      id: t.arg.id({ required: true }),
      fromStep: t.arg.string({ required: false }),
      refreshConfig: t.arg.boolean({ required: false, defaultValue: false }),
    },
    resolve: async (_r, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const [id] = checkIds([args.id], 'id');
      const run = await inTenant(ctx, (em) => em.findOne(MachineRunSchema, { id: id! }));
      if (!run) throw apiError(ErrorCode.NotFound, 'machine run not found');
      try {
        const step = await ctx.temporal.workflow
          .getHandle(run.workflowId)
          .executeUpdate(retryFromStepUpdate, {
            args: [
              {
                ...(args.fromStep ? { fromStep: args.fromStep } : {}),
                refreshConfig: args.refreshConfig ?? false,
              },
            ],
          });
        await inTenant(ctx, (em) =>
          appendAudit(em, {
            tenantId: identity.tenantId,
            actor: identity.actor,
            action: 'machine_run.retried',
            subjectType: 'machine',
            subjectId: run.machineId,
            data: { runId: run.id, fromStep: step, refreshConfig: args.refreshConfig ?? false },
          }),
        );
        return step;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw apiError(ErrorCode.RunNotRetryable, 'the run has ended; start a new run instead');
        if (err instanceof WorkflowUpdateFailedError)
          throw apiError(ErrorCode.RunNotRetryable, (err.cause as Error | undefined)?.message ?? err.message);
        throw err;
      }
    },
  }),
);

const Scope = builder.enumType('ProfileLayerScope', {
  values: ['TENANT', 'CLIENT', 'SITE', 'MACHINE'] as const,
});

builder.mutationField('setProfileLayer', (t) =>
  t.field({
    type: 'Boolean',
    description:
      'Sets the profile overrides of the tenant, a client, a site or a machine (engineer role). Refused with every error by path if the layer would make the Standard profile invalid.',
    args: {
      scope: t.arg({ type: Scope, required: true }),
      id: t.arg.id({ required: false, description: 'The client, site or machine (not for TENANT).' }),
      documentJson: t.arg.string({ required: true }),
    },
    resolve: async (_r, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Engineer);
      let layer: unknown;
      try {
        layer = JSON.parse(args.documentJson);
      } catch {
        throw apiError(ErrorCode.BadUserInput, 'documentJson is not valid JSON');
      }
      if (typeof layer !== 'object' || layer === null || Array.isArray(layer))
        throw apiError(ErrorCode.BadUserInput, 'documentJson must be a JSON object');
      const resolved = resolveProfile([layer as ProfileLayer]);
      if (!resolved.ok)
        throw apiError(ErrorCode.InvalidProfile, `the layer has ${resolved.errors.length} error(s)`, {
          errors: resolved.errors,
        });
      const [id] = args.scope === 'TENANT' ? [identity.tenantId] : checkIds([args.id ?? ''], 'id');
      const schema = { TENANT: TenantSchema, CLIENT: ClientSchema, SITE: SiteSchema, MACHINE: MachineSchema }[
        args.scope
      ];
      return inTenant(ctx, async (em) => {
        const found = await em.count(schema as typeof SiteSchema, { id: id! } as never);
        if (found === 0 && args.scope !== 'TENANT') throw apiError(ErrorCode.NotFound, 'not found');
        const table = { TENANT: 'tenants', CLIENT: 'clients', SITE: 'sites', MACHINE: 'machines' }[
          args.scope
        ];
        const key = args.scope === 'TENANT' ? 'tenant_id' : 'id';
        await em.execute(`update ${table} set profile_layer = ?::jsonb where ${key} = ?`, [
          JSON.stringify(layer),
          id,
        ]);
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: 'profile_layer.set',
          subjectType: args.scope.toLowerCase(),
          subjectId: id!,
        });
        return true;
      });
    },
  }),
);

builder.subscriptionField('fleetRunProgress', (t) =>
  t.field({
    type: FleetProgressRef,
    description: 'Live progress of a fleet run: a new value whenever it changes; ends when the run is done.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: async function* (_r, args, ctx) {
      const [id] = checkIds([args.id], 'id');
      const fleet = await inTenant(ctx, (em) => em.findOne(FleetRunSchema, { id: id! }));
      if (!fleet) throw apiError(ErrorCode.NotFound, 'fleet run not found');
      let last = '';
      for (;;) {
        const progress = await queryWorkflow<FleetRunProgress>(
          ctx,
          fleet.workflowId,
          fleetProgressQuery.name,
          false,
        );
        if (!progress) return;
        const text = JSON.stringify(progress);
        if (text !== last) {
          last = text;
          yield progress;
        }
        if (progress.state === 'done') return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    },
    resolve: (progress: FleetRunProgress) => progress,
  }),
);

function provisioningDefaults(ctx: GraphQLContext) {
  return {
    offlineLimitSeconds: ctx.env.PROVISION_OFFLINE_LIMIT_SECONDS,
    failedHoldSeconds: ctx.env.PROVISION_FAILED_HOLD_SECONDS,
    retryBackoffSeconds: ctx.env.PROVISION_RETRY_BACKOFF_SECONDS,
  };
}

async function signalRun(
  ctx: GraphQLContext,
  workflowId: string,
  signal: SignalDefinition<[], string>,
): Promise<void> {
  try {
    await ctx.temporal.workflow.getHandle(workflowId).signal(signal);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw apiError(ErrorCode.RunNotRunning, 'the run has already ended');
    throw err;
  }
}
