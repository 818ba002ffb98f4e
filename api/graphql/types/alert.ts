import { AlertKind, AlertSchema, type Alert } from '../../../infra/db/entities';
import { builder } from '../builder';
import { checkRange } from '../ids';
import { inTenant } from '../tenant-scope';

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
    resolve: (_root, args, ctx) =>
      inTenant(ctx, (em) =>
        em.find(
          AlertSchema,
          {},
          {
            orderBy: { createdAt: 'desc' },
            limit: checkRange(args.last, 'last', { min: 1, max: 500, fallback: 50 }),
          },
        ),
      ),
  }),
);
