import type { Site } from '../../../infra/db/entities';
import { createSite, getSite, listSites } from '../../services/clients-and-sites';
import { builder } from '../builder';
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
  t.field({ type: [SiteRef], resolve: (_root, _args, ctx) => listSites(ctx) }),
);

builder.queryField('site', (t) =>
  t.field({
    type: SiteRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getSite(ctx, { id: String(args.id) }),
  }),
);

const CreateSiteInput = builder.inputType('CreateSiteInput', {
  fields: (t) => ({
    clientId: t.id({ required: true }),
    code: t.string({ required: true, description: 'Upper-case letters, digits, dashes; 3–32 characters.' }),
    name: t.string({ required: true }),
  }),
});

builder.mutationField('createSite', (t) =>
  t.field({
    type: SiteRef,
    description:
      'Creates a site through the createSite workflow (admin role). Repeating it returns the same site.',
    args: { input: t.arg({ type: CreateSiteInput, required: true }) },
    resolve: (_root, { input }, ctx) => createSite(ctx, input),
  }),
);
