import { apiError, ErrorCode } from './errors';

export interface RequestLimits {
  /** Tenant transactions one GraphQL request may open (each resolver that reads opens one). */
  transactions: number;
  /** Live Temporal queries (a run's progress) one request may make. */
  workflowQueries: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = { transactions: 50, workflowQueries: 50 };

/**
 * What one GraphQL request may spend beyond its document's static cost (graphql-armor limits
 * depth, aliases, tokens and cost before anything runs): database transactions and Temporal
 * queries. Lists are loaded in batches (one transaction per level), so an honest request stays far
 * below these; past them a field fails with QUERY_TOO_EXPENSIVE instead of holding a connection
 * pool and the event loop the agents share.
 */
export class RequestBudget {
  private spent = { transactions: 0, workflowQueries: 0 };

  constructor(private readonly limits: RequestLimits = DEFAULT_REQUEST_LIMITS) {}

  spend(what: keyof RequestLimits): void {
    this.spent[what]++;
    if (this.spent[what] > this.limits[what])
      throw apiError(
        ErrorCode.QueryTooExpensive,
        `this request needs more than ${this.limits[what]} ${what === 'transactions' ? 'database transactions' : 'live run queries'}; ask for fewer items at once`,
      );
  }
}
