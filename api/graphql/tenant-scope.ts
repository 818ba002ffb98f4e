import { withTenant, type EntityManager } from '../../infra/db/orm';
import type { Role } from '../../infra/db/entities';
import { hasRole, type Identity } from '../auth/identity';
import type { GraphQLContext } from './context';
import { apiError, ErrorCode } from './errors';

export function requireIdentity(ctx: GraphQLContext, role?: Role): Identity {
  if (!ctx.identity) throw apiError(ErrorCode.Unauthenticated, 'sign in to use the API');
  if (role && !hasRole(ctx.identity, role))
    throw apiError(ErrorCode.Forbidden, `this needs the ${role} role`);
  return ctx.identity;
}

/** Every resolver reads through here: one tenant transaction, ORM filter and RLS both set. */
export function inTenant<T>(
  ctx: GraphQLContext,
  fn: (em: EntityManager, identity: Identity) => Promise<T>,
): Promise<T> {
  const identity = requireIdentity(ctx);
  ctx.budget.spend('transactions');
  return withTenant(ctx.orm, identity.tenantId, (em) => fn(em, identity));
}
