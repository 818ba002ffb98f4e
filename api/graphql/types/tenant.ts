import type { Tenant } from '../../../infra/db/entities';
import { callerTenant, listClients } from '../../services/clients-and-sites';
import { builder } from '../builder';
import { ClientRef } from './client';

export const TenantRef = builder.objectRef<Tenant>('Tenant').implement({
  description: 'The MSP you are signed in to.',
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    clients: t.field({ type: [ClientRef], resolve: (_tenant, _args, ctx) => listClients(ctx) }),
  }),
});

builder.queryField('tenant', (t) =>
  t.field({
    type: TenantRef,
    description: 'Your tenant, with its clients, their sites and the sites’ machines.',
    resolve: (_root, _args, ctx) => callerTenant(ctx),
  }),
);
