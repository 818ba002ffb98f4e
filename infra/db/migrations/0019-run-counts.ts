import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Runs by kind and status across all tenants, for the API's Prometheus gauge `drydock_runs`
 * (issue 18). SECURITY DEFINER because the app role sees one tenant at a time; it returns counts
 * only — no tenant, no id — of open runs and of those that finished in the last day.
 */
export class Migration0019RunCounts extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function drydock_run_counts()
      returns table (kind text, status text, n bigint)
      language sql stable security definer set search_path = pg_catalog, public, pg_temp as $$
        select 'machine', r.status, count(*) from machine_runs r
         where r.finished_at is null or r.finished_at > now() - interval '1 day' group by r.status
        union all
        select 'fleet', f.status, count(*) from fleet_runs f
         where f.finished_at is null or f.finished_at > now() - interval '1 day' group by f.status
      $$;`);
    this.addSql(`revoke all on function drydock_run_counts() from public;`);
    this.addSql(`grant execute on function drydock_run_counts() to ${APP_ROLE};`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function drydock_run_counts();`);
  }
}
