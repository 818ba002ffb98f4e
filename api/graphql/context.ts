import type { ServiceContext } from '../services/service-context';
import type { Loaders } from './loaders';
import type { RequestBudget } from './request-budget';

/**
 * A GraphQL request's context: the service context (the caller, the connections, the request's
 * budget) that every resolver hands to a service, and the request's batch loaders.
 */
export interface GraphQLContext extends ServiceContext {
  /** What this request may still spend (transactions, Temporal queries). */
  budget: RequestBudget;
  /** Per-request batch loaders: one transaction per list level, not one per parent. */
  loaders: Loaders;
}
