import type { Client, Pool } from 'pg';

export interface RlsProblem {
  table: string;
  problem: string;
}

/**
 * Catalog check: every table in the schema with a tenant_id column must have row-level security
 * enabled and forced, and a policy with both USING and WITH CHECK; a foreign key from one such
 * table to another must include tenant_id (else a row could point into another tenant); and every
 * function of ours must pin its search_path. New tables and functions cannot slip through.
 */
export async function findRlsProblems(db: Client | Pool, schema = 'public'): Promise<RlsProblem[]> {
  const { rows } = await db.query<{
    table_name: string;
    enabled: boolean;
    forced: boolean;
    policies: number;
    complete_policies: number;
  }>(
    `select c.relname as table_name, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
            (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies,
            (select count(*)::int from pg_policy p where p.polrelid = c.oid
               and p.polqual is not null and (p.polwithcheck is not null or p.polcmd = 'r')) as complete_policies
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p')
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
      order by c.relname`,
    [schema],
  );
  const problems: RlsProblem[] = [];
  for (const row of rows) {
    if (!row.enabled) problems.push({ table: row.table_name, problem: 'row-level security is not enabled' });
    else if (!row.forced)
      problems.push({ table: row.table_name, problem: 'row-level security is not forced' });
    if (row.policies === 0) problems.push({ table: row.table_name, problem: 'has no policy' });
    else if (row.complete_policies === 0)
      problems.push({ table: row.table_name, problem: 'policy lacks USING or WITH CHECK' });
  }
  const { rows: keys } = await db.query<{ table_name: string; constraint_name: string }>(
    `select c.conrelid::regclass::text as table_name, c.conname as constraint_name
       from pg_constraint c
       join pg_attribute own on own.attrelid = c.conrelid and own.attname = 'tenant_id' and not own.attisdropped
       join pg_attribute parent on parent.attrelid = c.confrelid and parent.attname = 'tenant_id' and not parent.attisdropped
      where c.contype = 'f' and c.connamespace = $1::regnamespace
        and not (own.attnum = any (c.conkey))
      order by 1, 2`,
    [schema],
  );
  for (const key of keys)
    problems.push({
      table: key.table_name,
      problem: `foreign key ${key.constraint_name} does not include tenant_id`,
    });
  const { rows: functions } = await db.query<{ name: string }>(
    `select p.oid::regprocedure::text as name from pg_proc p
      where p.pronamespace = $1::regnamespace
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
        and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')
      order by 1`,
    [schema],
  );
  for (const fn of functions)
    problems.push({ table: fn.name, problem: 'function does not pin its search_path' });
  return problems;
}
