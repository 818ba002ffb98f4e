import type { MachineTweakUndo } from '../../../infra/db/entities';
import {
  getMachineTweakUndo,
  machineTweakUndosOf,
  machineUndoProgress,
  undoTweaks,
} from '../../services/undo-tweaks';
import { builder } from '../builder';
import { UndoErrorRef } from './undo-error';
import { UndoValueFailureRef } from './undo-value-failure';

/**
 * Undo of tweaks (issue 12): put back what each machine had before Drydock's tweaks changed it,
 * from the records the agent keeps on the machine (docs/provisioning.md, "Undoing tweaks").
 */
export const MachineTweakUndoRef = builder.objectRef<MachineTweakUndo>('MachineTweakUndo').implement({
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
    failures: t.field({ type: [UndoValueFailureRef], resolve: (u) => u.failures }),
    lastError: t.field({ type: UndoErrorRef, nullable: true, resolve: (u) => u.lastError ?? null }),
    progressJson: t.string({
      nullable: true,
      description: 'Live progress from the workflow; null once it is gone.',
      resolve: async (u, _a, ctx) => {
        const progress = await machineUndoProgress(ctx, u);
        return progress === null ? null : JSON.stringify(progress);
      },
    }),
    createdBy: t.exposeString('createdBy'),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.startedAt ?? null }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.finishedAt ?? null }),
  }),
});

builder.queryField('machineTweakUndo', (t) =>
  t.field({
    type: MachineTweakUndoRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => getMachineTweakUndo(ctx, { id: args.id }),
  }),
);

builder.queryField('machineTweakUndos', (t) =>
  t.field({
    type: [MachineTweakUndoRef],
    description: "A machine's undos, newest first.",
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => machineTweakUndosOf(ctx, { machineId: args.machineId }),
  }),
);

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
    resolve: (_r, args, ctx) =>
      undoTweaks(ctx, { machineId: args.machineId, tweaks: args.tweaks, restart: args.restart }),
  }),
);
