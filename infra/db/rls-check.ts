import type { Client, Pool } from 'pg';

export interface RlsProblem {
  table: string;
  problem: string;
}

/**
 * Catalog check: every table in the schema with a tenant_id column must have row-level security
 * enabled and forced, and a policy with both USING and WITH CHECK. New tables cannot slip through.
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
  return problems;
}
