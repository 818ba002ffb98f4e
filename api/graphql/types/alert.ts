import { AlertKind, type Alert } from '../../../infra/db/entities';
import { listAlerts } from '../../services/alerts';
import { builder } from '../builder';

export const AlertKindEnum = builder.enumType(AlertKind, { name: 'AlertKind' });

export const AlertRef = builder.objectRef<Alert>('Alert').implement({
  description: 'Something an operator should look at.',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: AlertKindEnum, resolve: (a) => a.kind }),
    machineId: t.exposeID('machineId', { nullable: true }),
    siteId: t.exposeID('siteId', { nullable: true }),
    message: t.exposeString('message'),
    createdAt: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
  }),
});

builder.queryField('alerts', (t) =>
  t.field({
    type: [AlertRef],
    description: 'Newest first.',
    args: { last: t.arg.int({ required: false, defaultValue: 50 }) },
    resolve: (_root, args, ctx) => listAlerts(ctx, { last: args.last }),
  }),
);
