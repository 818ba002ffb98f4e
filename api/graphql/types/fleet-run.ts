import type { FleetRun } from '../../../infra/db/entities';
import {
  checkMachineRunPage,
  controlFleetRun,
  fleetRunProgress,
  getFleetRun,
  listFleetRuns,
  startFleetRun,
} from '../../services/provisioning';
import { builder } from '../builder';
import { FleetRunProgressRef } from './fleet-run-progress';
import { MachineRunRef } from './machine-run';
import { RunControlEnum } from './run-control';

export const FleetRunRef = builder.objectRef<FleetRun>('FleetRun').implement({
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
      type: FleetRunProgressRef,
      nullable: true,
      resolve: (f, _a, ctx) => fleetRunProgress(ctx, f),
    }),
    machineRuns: t.field({
      type: [MachineRunRef],
      description: 'Per-machine runs in selection order (the PASS/FAIL summary).',
      args: {
        status: t.arg.string({ required: false }),
        first: t.arg.int({ required: false, defaultValue: 100 }),
        afterSeq: t.arg.int({ required: false, defaultValue: 0 }),
      },
      resolve: (f, args, ctx) => ctx.loaders.machineRunPage(checkMachineRunPage(args)).load(f.id),
    }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (f) => f.createdAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (f) => f.finishedAt ?? null }),
  }),
});

builder.queryField('fleetRuns', (t) =>
  t.field({
    type: [FleetRunRef],
    args: { first: t.arg.int({ required: false, defaultValue: 50 }) },
    resolve: (_r, args, ctx) => listFleetRuns(ctx, { first: args.first }),
  }),
);

builder.queryField('fleetRun', (t) =>
  t.field({
    type: FleetRunRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => getFleetRun(ctx, { id: args.id }),
  }),
);

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

builder.mutationField('startFleetRun', (t) =>
  t.field({
    type: FleetRunRef,
    description: 'Starts a fleet run (operator role). An empty selection means every active machine.',
    args: { input: t.arg({ type: FleetRunStartInput, required: true }) },
    resolve: (_r, { input }, ctx) => startFleetRun(ctx, input),
  }),
);

builder.mutationField('controlFleetRun', (t) =>
  t.field({
    type: FleetRunRef,
    description:
      'Pause (no new machines start), resume, or cancel (running machines stop after their current step). Operator role.',
    args: { id: t.arg.id({ required: true }), action: t.arg({ type: RunControlEnum, required: true }) },
    resolve: (_r, args, ctx) => controlFleetRun(ctx, { id: args.id, action: args.action }),
  }),
);
