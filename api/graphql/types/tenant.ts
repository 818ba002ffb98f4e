import { ClientSchema, TenantSchema, type Tenant } from '../../../infra/db/entities';
import { builder } from '../builder';
import { apiError, ErrorCode } from '../errors';
import { inTenant } from '../tenant-scope';
import { ClientRef } from './client';

export const TenantRef = builder.objectRef<Tenant>('Tenant').implement({
  description: 'The MSP you are signed in to.',
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    clients: t.field({
      type: [ClientRef],
      resolve: (_tenant, _args, ctx) =>
        inTenant(ctx, (em) => em.find(ClientSchema, {}, { orderBy: { name: 'asc' } })),
    }),
  }),
});

builder.queryField('tenant', (t) =>
  t.field({
    type: TenantRef,
    description: 'Your tenant, with its clients, their sites and the sites’ machines.',
    resolve: (_root, _args, ctx) =>
      inTenant(ctx, async (em, identity) => {
        const tenant = await em.findOne(TenantSchema, { id: identity.tenantId });
        if (!tenant) throw apiError(ErrorCode.NotFound, 'tenant not found');
        return tenant;
      }),
  }),
);
