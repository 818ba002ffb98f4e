import type { MachineRun } from '../../../infra/db/entities';
import {
  controlMachineRun,
  getMachineRun,
  machineRunProgress,
  machineRunsOf,
  provisionMachine,
  retryMachineRun,
} from '../../services/provisioning';
import { builder } from '../builder';
import { RunControlEnum } from './run-control';
import { RunErrorRef } from './run-error';
import { ValidationItemRef } from './validation-item';

export const MachineRunRef = builder.objectRef<MachineRun>('MachineRun').implement({
  description: 'One provisionMachine run, as mirrored for the portal (the workflow is the source of truth).',
  fields: (t) => ({
    id: t.exposeID('id'),
    machineId: t.exposeID('machineId'),
    hostname: t.string({
      nullable: true,
      description: 'The machine’s hostname (null if the machine is outside your view).',
      resolve: (r, _args, ctx) => ctx.loaders.hostnameByMachine.load(r.machineId),
    }),
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
        const p = await machineRunProgress(ctx, r);
        return p ? JSON.stringify(p) : null;
      },
    }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.startedAt ?? null }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.finishedAt ?? null }),
  }),
});

builder.queryField('machineRun', (t) =>
  t.field({
    type: MachineRunRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => getMachineRun(ctx, { id: args.id }),
  }),
);

builder.queryField('machineRuns', (t) =>
  t.field({
    type: [MachineRunRef],
    description: "A machine's runs, newest first.",
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => machineRunsOf(ctx, { machineId: args.machineId }),
  }),
);

builder.mutationField('provisionMachine', (t) =>
  t.field({
    type: MachineRunRef,
    description: 'Provisions one machine with a profile version (operator role).',
    args: { machineId: t.arg.id({ required: true }), profileId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) =>
      provisionMachine(ctx, { machineId: args.machineId, profileId: args.profileId }),
  }),
);

builder.mutationField('controlMachineRun', (t) =>
  t.field({
    type: MachineRunRef,
    description: 'Pause or cancel (after the current step), or resume one machine run. Operator role.',
    args: { id: t.arg.id({ required: true }), action: t.arg({ type: RunControlEnum, required: true }) },
    resolve: (_r, args, ctx) => controlMachineRun(ctx, { id: args.id, action: args.action }),
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
    resolve: (_r, args, ctx) =>
      retryMachineRun(ctx, { id: args.id, fromStep: args.fromStep, refreshConfig: args.refreshConfig }),
  }),
);
