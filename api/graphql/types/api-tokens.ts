import type { ApiToken } from '../../../infra/db/entities';
import { createApiToken, listApiTokens, revokeApiToken } from '../../services/api-tokens';
import { builder } from '../builder';

export const ApiTokenRef = builder.objectRef<ApiToken>('ApiToken').implement({
  description: 'A token for scripts, scoped like a user. Its secret is never shown again after creation.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.exposeString('role'),
    canRevealSecrets: t.exposeBoolean('canRevealSecrets'),
    clientIds: t.field({ type: ['ID'], nullable: true, resolve: (k) => k.clientIds ?? null }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt ?? null }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt ?? null }),
    lastUsedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.lastUsedAt ?? null }),
  }),
});

const CreatedTokenRef = builder
  .objectRef<{ token: string; apiToken: ApiToken }>('CreatedApiToken')
  .implement({
    fields: (t) => ({
      token: t.exposeString('token', {
        description: '`ddt_…`: send as `Authorization: Bearer <token>`. Shown this once; stored only hashed.',
      }),
      apiToken: t.field({ type: ApiTokenRef, resolve: (c) => c.apiToken }),
    }),
  });

const CreateApiTokenInput = builder.inputType('CreateApiTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    role: t.string({ required: true }),
    canRevealSecrets: t.boolean(),
    clientIds: t.idList(),
    expiresInDays: t.int(),
  }),
});

builder.queryField('apiTokens', (t) =>
  t.field({
    type: [ApiTokenRef],
    description: 'The tenant’s API tokens (admin).',
    resolve: (_r, _a, ctx) => listApiTokens(ctx),
  }),
);

builder.mutationField('createApiToken', (t) =>
  t.field({
    type: CreatedTokenRef,
    description: 'Creates an API token (admin). The token is in this answer only.',
    args: { input: t.arg({ type: CreateApiTokenInput, required: true }) },
    resolve: (_r, { input }, ctx) => createApiToken(ctx, input),
  }),
);

builder.mutationField('revokeApiToken', (t) =>
  t.field({
    type: ApiTokenRef,
    description: 'Revokes an API token at once (admin).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => revokeApiToken(ctx, args),
  }),
);
