import { SiteSchema, type Site } from '../../../infra/db/entities';
import { builder } from '../builder';
import { inTenant } from '../tenant-scope';
import { MachineRef } from './machine';

export const SiteRef = builder.objectRef<Site>('Site').implement({
  description: 'A location of a client; its machines enroll with its code.',
  fields: (t) => ({
    id: t.exposeID('id'),
    clientId: t.exposeID('clientId'),
    code: t.exposeString('code'),
    name: t.exposeString('name'),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    enrollmentFingerprint: t.string({
      nullable: true,
      description: 'The current enrollment key’s `vN (XXXX)`; null until one is issued.',
      resolve: (site, _args, ctx) => ctx.loaders.fingerprintBySite.load(site.id),
    }),
    machines: t.field({
      type: [MachineRef],
      resolve: (site, _args, ctx) => ctx.loaders.machinesBySite.load(site.id),
    }),
  }),
});

builder.queryField('sites', (t) =>
  t.field({
    type: [SiteRef],
    resolve: (_root, _args, ctx) =>
      inTenant(ctx, (em) => em.find(SiteSchema, {}, { orderBy: { code: 'asc' } })),
  }),
);

builder.queryField('site', (t) =>
  t.field({
    type: SiteRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => inTenant(ctx, (em) => em.findOne(SiteSchema, { id: String(args.id) })),
  }),
);
