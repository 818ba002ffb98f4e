import type { Client } from '../../../infra/db/entities';
import { createClient, listClients } from '../../services/clients-and-sites';
import { builder } from '../builder';
import { SiteRef } from './site';

export const ClientRef = builder.objectRef<Client>('Client').implement({
  description: 'A company the MSP serves.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
    sites: t.field({
      type: [SiteRef],
      resolve: (client, _args, ctx) => ctx.loaders.sitesByClient.load(client.id),
    }),
  }),
});

builder.queryField('clients', (t) =>
  t.field({ type: [ClientRef], resolve: (_root, _args, ctx) => listClients(ctx) }),
);

builder.mutationField('createClient', (t) =>
  t.field({
    type: ClientRef,
    description: 'Adds a client (a company the MSP serves). Needs the admin role.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => createClient(ctx, { name: args.name }),
  }),
);
