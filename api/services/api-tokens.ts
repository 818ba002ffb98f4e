import { serverSecret } from '../../infra/config/env';
import { ApiTokenSchema, Role, type ApiToken } from '../../infra/db/entities';
import { issueApiToken } from '../auth/api-tokens';
import { audited } from './audit';
import { ErrorCode, refuse } from './errors';
import { checkId } from './input';
import { authorize, inTenant, type ServiceContext } from './service-context';
import { checkAccess, type AccessInput } from './users';

/** API tokens for scripts (admin, tenant-wide; ADR 0032): scoped like a user, stored hashed, shown once. */

export async function listApiTokens(ctx: ServiceContext): Promise<ApiToken[]> {
  authorize(ctx, Role.Admin, { tenantWide: true });
  return inTenant(ctx, (em) => em.find(ApiTokenSchema, {}, { orderBy: { createdAt: 'desc' } }));
}

export async function createApiToken(
  ctx: ServiceContext,
  input: AccessInput & { name: string; expiresInDays?: number | null },
): Promise<{ token: string; apiToken: ApiToken }> {
  const caller = authorize(ctx, Role.Admin, { tenantWide: true });
  const name = input.name.trim();
  if (name.length < 1 || name.length > 100)
    throw refuse(ErrorCode.BadUserInput, 'name must be 1–100 characters', { field: 'name' });
  const days = input.expiresInDays;
  if (days != null && (!Number.isInteger(days) || days < 1 || days > 3650))
    throw refuse(ErrorCode.BadUserInput, 'expiresInDays must be 1–3650', { field: 'expiresInDays' });
  // A token never holds more than its maker: reveal-secrets only from someone who has it.
  if (input.canRevealSecrets && !caller.canRevealSecrets)
    throw refuse(ErrorCode.Forbidden, 'only a user with reveal-secrets can make a token with it');
  return audited(
    ctx,
    async (em) => {
      const access = await checkAccess(em, input);
      const { token, row } = await issueApiToken(em, serverSecret(ctx.env), {
        tenantId: caller.tenantId,
        name,
        ...access,
        expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null,
        createdBy: caller.actor,
      });
      return { token, apiToken: row };
    },
    ({ apiToken: t }) => ({
      action: 'api_token.created',
      subjectType: 'api_token',
      subjectId: t.id,
      // Never the token: its name, scope and expiry only.
      data: {
        name: t.name,
        role: t.role,
        canRevealSecrets: t.canRevealSecrets,
        clientIds: t.clientIds ?? null,
        expiresAt: t.expiresAt ?? null,
      },
    }),
  );
}

export async function revokeApiToken(ctx: ServiceContext, input: { id: string | number }): Promise<ApiToken> {
  authorize(ctx, Role.Admin, { tenantWide: true });
  const id = checkId(input.id, 'id');
  return audited(
    ctx,
    async (em) => {
      const token = await em.findOne(ApiTokenSchema, { id });
      if (!token) throw refuse(ErrorCode.NotFound, 'API token not found');
      token.revokedAt ??= new Date();
      return token;
    },
    (t) => ({
      action: 'api_token.revoked',
      subjectType: 'api_token',
      subjectId: t.id,
      data: { name: t.name },
    }),
  );
}
