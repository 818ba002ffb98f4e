import type { Dictionary, EntitySchemaMetadata } from '@mikro-orm/core';

export const TENANT_FILTER = 'tenant';

type Filters = NonNullable<EntitySchemaMetadata<object>['filters']>;

/**
 * The tenant filter, on by default on every entity. It takes its tenant from filter params; a query
 * made without them throws ("No arguments provided for filter") instead of silently reading every
 * tenant. Row-level security in PostgreSQL is the second wall (docs/adr/0003).
 */
export function tenantFilter(column: 'tenantId' | 'id' = 'tenantId'): Filters {
  return {
    [TENANT_FILTER]: {
      name: TENANT_FILTER,
      default: true,
      cond: (args: Dictionary) => {
        if (typeof args.tenantId !== 'string') throw new Error('tenant filter used without a tenantId');
        return { [column]: args.tenantId };
      },
    },
  };
}
