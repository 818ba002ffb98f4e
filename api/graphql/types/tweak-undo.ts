import type { TweakUndo } from '../../../infra/db/entities';
import {
  cancelTweakUndo,
  getTweakUndo,
  machineUndosOf,
  tweakUndoCounts,
  tweakUndoProgress,
  undoTweaksFleet,
} from '../../services/undo-tweaks';
import { builder } from '../builder';
import { MachineTweakUndoRef } from './machine-tweak-undo';
import { TweakUndoCountsRef } from './tweak-undo-counts';
import { UndoErrorRef } from './undo-error';

export const TweakUndoRef = builder.objectRef<TweakUndo>('TweakUndo').implement({
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
    counts: t.field({ type: TweakUndoCountsRef, resolve: (u, _a, ctx) => tweakUndoCounts(ctx, u) }),
    progressJson: t.string({
      nullable: true,
      description:
        'Live progress from the workflow (starting, waiting, cancelling, done); null once it is gone.',
      resolve: async (u, _a, ctx) => {
        const progress = await tweakUndoProgress(ctx, u);
        return progress === null ? null : JSON.stringify(progress);
      },
    }),
    machineUndos: t.field({
      type: [MachineTweakUndoRef],
      description: 'Per-machine undos in selection order.',
      args: {
        first: t.arg.int({ required: false, defaultValue: 100 }),
        afterSeq: t.arg.int({ required: false, defaultValue: 0 }),
      },
      resolve: (u, args, ctx) => machineUndosOf(ctx, u, args),
    }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (u) => u.createdAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.finishedAt ?? null }),
  }),
});

builder.queryField('tweakUndo', (t) =>
  t.field({
    type: TweakUndoRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => getTweakUndo(ctx, { id: args.id }),
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
    resolve: (_r, { input }, ctx) => undoTweaksFleet(ctx, input),
  }),
);

builder.mutationField('cancelTweakUndo', (t) =>
  t.field({
    type: 'Boolean',
    description:
      "Cancels a fleet-wide undo (every machine's undo with it) or one machine's undo (operator role). A machine that has not picked its undo up yet never runs it; one that has finishes it.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => cancelTweakUndo(ctx, { id: args.id }),
  }),
);
