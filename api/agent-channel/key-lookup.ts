import type { EntityManager, Orm } from '../../infra/db/orm';

/**
 * Finds a key row by its non-secret key id before the tenant is known. The `key_lookup` RLS
 * policy shows exactly the row whose key_id equals `app.key_lookup`, nothing else.
 */
export async function lookupKeyRow<T extends object>(
  orm: Orm,
  table: 'site_enrollment_keys' | 'agent_keys',
  keyId: string,
  columns: string,
): Promise<T | null> {
  const em = orm.em.fork();
  return em.transactional(async (tx: EntityManager) => {
    await tx.execute(`select set_config('app.key_lookup', ?, true)`, [keyId]);
    const rows = await tx.execute<T[]>(`select ${columns} from ${table} where key_id = ?`, [keyId]);
    return rows[0] ?? null;
  });
}
