import { randomUUID } from 'node:crypto';
import { appendAudit } from '../../../infra/db/audit';
import { ClientSchema, Role, type Client } from '../../../infra/db/entities';
import { builder } from '../builder';
import { apiError, ErrorCode } from '../errors';
import { inTenant, requireIdentity } from '../tenant-scope';
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
  t.field({
    type: [ClientRef],
    resolve: (_root, _args, ctx) =>
      inTenant(ctx, (em) => em.find(ClientSchema, {}, { orderBy: { name: 'asc' } })),
  }),
);

builder.mutationField('createClient', (t) =>
  t.field({
    type: ClientRef,
    description: 'Adds a client (a company the MSP serves). Needs the admin role.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      requireIdentity(ctx, Role.Admin);
      const name = args.name.trim();
      if (name.length < 1 || name.length > 200)
        throw apiError(ErrorCode.BadUserInput, 'client name must be 1–200 characters');
      return inTenant(ctx, async (em, identity) => {
        const client = em.create(ClientSchema, {
          id: randomUUID(),
          tenantId: identity.tenantId,
          name,
          createdAt: new Date(),
        });
        await em.flush();
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: 'client.created',
          subjectType: 'client',
          subjectId: client.id,
          data: { name },
        });
        return client;
      });
    },
  }),
);
