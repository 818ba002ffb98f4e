import type { FleetRunProgress } from '../../../workflows/provisioning/contracts';
import { watchFleetRun } from '../../services/provisioning';
import { builder } from '../builder';

export const FleetRunProgressRef = builder.objectRef<FleetRunProgress>('FleetRunProgress').implement({
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

builder.subscriptionField('fleetRunProgress', (t) =>
  t.field({
    type: FleetRunProgressRef,
    description: 'Live progress of a fleet run: a new value whenever it changes; ends when the run is done.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_r, args, ctx) => watchFleetRun(ctx, { id: args.id }),
    resolve: (progress: FleetRunProgress) => progress,
  }),
);
