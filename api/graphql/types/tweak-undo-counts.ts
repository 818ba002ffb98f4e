import { builder } from '../builder';

export const TweakUndoCountsRef = builder
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
