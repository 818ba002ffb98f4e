import { MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver, type EntityManager } from '@mikro-orm/postgresql';
import { entities, TENANT_FILTER } from './entities';
import { migrationsList } from './migrations';

export type Orm = MikroORM<PostgreSqlDriver>;
export type { EntityManager };

export function ormOptions(
  clientUrl: string,
  overrides: Partial<Options<PostgreSqlDriver>> = {},
): Options<PostgreSqlDriver> {
  return {
    driver: PostgreSqlDriver,
    clientUrl,
    entities,
    extensions: [Migrator],
    forceUtcTimezone: true,
    allowGlobalContext: false,
    discovery: { warnWhenNoEntities: true },
    migrations: {
      migrationsList,
      silent: true,
      transactional: true,
      allOrNothing: true,
      tableName: 'mikro_orm_migrations',
    },
    pool: { min: 0, max: 10 },
    ...overrides,
  };
}

export function createOrm(
  clientUrl: string,
  overrides: Partial<Options<PostgreSqlDriver>> = {},
): Promise<Orm> {
  return MikroORM.init(ormOptions(clientUrl, overrides));
}

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Runs `fn` in a transaction that belongs to one tenant: the ORM tenant filter gets the tenant and
 * `app.tenant_id` is set for this transaction only (set_config(..., true)), which is what the
 * row-level-security policies read. Pooled connections therefore never carry a tenant over.
 */
export async function withTenant<T>(
  orm: Orm,
  tenantId: string,
  fn: (em: EntityManager) => Promise<T>,
  opts: { clientScope?: readonly string[] | null } = {},
): Promise<T> {
  if (!uuidPattern.test(tenantId)) throw new Error(`not a tenant id: ${JSON.stringify(tenantId)}`);
  const scope = opts.clientScope ?? null;
  if (scope && (scope.length === 0 || !scope.every((id) => uuidPattern.test(id))))
    throw new Error('a client scope is one or more client ids');
  const em = orm.em.fork();
  em.setFilterParams(TENANT_FILTER, { tenantId });
  return em.transactional(async (tx) => {
    tx.setFilterParams(TENANT_FILTER, { tenantId });
    // The client scope (ADR 0031): restrictive policies read it; unset = the whole tenant.
    await tx.execute(`select set_config('app.tenant_id', ?, true), set_config('app.client_scope', ?, true)`, [
      tenantId,
      scope ? `{${scope.join(',')}}` : '',
    ]);
    return fn(tx);
  });
}
