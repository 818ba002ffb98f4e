import type { EntityManager } from './orm';

/** Where a profile layer applies: the tenant's defaults, a client, a site or one machine. */
export type ProfileLayerScope = 'tenant' | 'client' | 'site' | 'machine';

/** One fixed statement per scope: the table is never spliced into SQL from a caller's argument. */
const setLayerSql: Record<ProfileLayerScope, string> = {
  tenant: `update tenants set profile_layer = ?::jsonb where tenant_id = ? returning 1 as n`,
  client: `update clients set profile_layer = ?::jsonb where id = ? returning 1 as n`,
  site: `update sites set profile_layer = ?::jsonb where id = ? returning 1 as n`,
  machine: `update machines set profile_layer = ?::jsonb where id = ? returning 1 as n`,
};

/**
 * Sets the profile layer of the tenant, a client, a site or a machine, inside the caller's tenant
 * transaction (row-level security keeps it to that tenant). Returns how many rows it changed: 0 when
 * there is no such row in the tenant.
 */
export async function setProfileLayer(
  em: EntityManager,
  scope: ProfileLayerScope,
  id: string,
  layer: Record<string, unknown>,
): Promise<number> {
  const rows = await em.execute<{ n: number }[]>(setLayerSql[scope], [JSON.stringify(layer), id]);
  return rows.length;
}
