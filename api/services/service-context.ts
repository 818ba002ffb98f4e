import type { Client as TemporalClient } from '@temporalio/client';
import type { Env } from '../../infra/config/env';
import { Role } from '../../infra/db/entities';
import { withTenant, type EntityManager, type Orm } from '../../infra/db/orm';
import type { AgentKeyCache } from '../agent-channel/key-cache';
import { hasRole, type Identity } from '../auth/identity';
import { ErrorCode, refuse } from './errors';

/**
 * Who calls a service: a signed-in person or an API token, with a role in one tenant, maybe the
 * reveal-secrets permission, maybe a client scope (ADR 0031). `authorize` checks the role and
 * permission; `inTenant` applies the client scope to every query of the transaction.
 */
export type Caller = Identity;

export interface Needs {
  /** The caller must hold reveal-secrets. */
  revealSecrets?: boolean;
  /** The operation concerns the whole tenant: a caller scoped to some clients is refused. */
  tenantWide?: boolean;
}

/** What the request may still spend; each tenant transaction and live run query spends one. */
export interface Budget {
  spend(what: 'transactions' | 'workflowQueries'): void;
}

/**
 * What every service function receives first: the caller and the process's connections. Transports
 * build one per request (GraphQL: its context extends this one).
 */
export interface ServiceContext {
  /** Null when nobody is signed in: every service refuses it with UNAUTHENTICATED. */
  caller: Caller | null;
  env: Env;
  orm: Orm;
  temporal: TemporalClient;
  taskQueue: string;
  /** This process's agent key cache: a revocation forgets its keys here once committed. */
  agentKeys?: AgentKeyCache;
  budget?: Budget;
}

/**
 * The caller, when signed in and holding at least `role` (and what `needs` asks); else
 * UNAUTHENTICATED or FORBIDDEN. Checked before anything is looked up, so a refusal says nothing
 * about whether the thing asked for exists.
 */
export function authorize(
  ctx: Pick<ServiceContext, 'caller'>,
  role: Role = Role.Viewer,
  needs: Needs = {},
): Caller {
  if (!ctx.caller) throw refuse(ErrorCode.Unauthenticated, 'sign in to use the API');
  if (!hasRole(ctx.caller, role)) throw refuse(ErrorCode.Forbidden, `this needs the ${role} role`);
  if (needs.revealSecrets && !ctx.caller.canRevealSecrets)
    throw refuse(ErrorCode.Forbidden, 'this needs the reveal-secrets permission');
  if (needs.tenantWide && ctx.caller.clientScope)
    throw refuse(
      ErrorCode.Forbidden,
      'this concerns the whole tenant; your access is limited to some clients',
    );
  return ctx.caller;
}

/** Whether the caller holds `role`, for what is shown rather than refused (a field left out). */
export function callerHas(ctx: Pick<ServiceContext, 'caller'>, role: Role): boolean {
  return !!ctx.caller && hasRole(ctx.caller, role);
}

/**
 * One transaction in the caller's tenant (the ORM filter and row-level security both set), spent
 * from the request's budget. Every service reads and writes through here or `audited`.
 */
export async function inTenant<T>(
  ctx: ServiceContext,
  fn: (em: EntityManager, caller: Caller) => Promise<T>,
): Promise<T> {
  const caller = authorize(ctx);
  ctx.budget?.spend('transactions');
  // A caller scoped to some clients sees only theirs, in every query of the transaction (ADR 0031).
  return withTenant(ctx.orm, caller.tenantId, (em) => fn(em, caller), { clientScope: caller.clientScope });
}
