import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * What the first attack on the running stack found (docs/SECURITY.md):
 * - foreign keys between tenant tables name the tenant too, so a row can only point into its own
 *   tenant (as 0001/0002 do); `drydock migrate` now refuses a single-column one;
 * - site codes are unique per tenant, so creating a site reveals nothing about other tenants;
 * - machines can ask for an operator's decision: a re-enrollment that cannot prove it is the same
 *   install (`replaces_machine_id`, `pending_kind`) or a move to another site (`requested_site_id`);
 * - the enrollment throttle counts failed guesses per source address, not per claimed site code,
 *   and a site's valid enrollments have a budget of their own (ADR 0015);
 * - every function pins its search_path.
 */
export class Migration0008SecurityHardening extends Migration {
  override async up(): Promise<void> {
    // Composite foreign keys: (tenant_id, x_id) → parent (tenant_id, id).
    this.addSql(`alter table profiles add constraint profiles_tenant_id_id_key unique (tenant_id, id);`);
    this.addSql(`alter table fleet_runs add constraint fleet_runs_tenant_id_id_key unique (tenant_id, id);`);
    const repoint: [string, string, string, string][] = [
      ['fleet_runs', 'profile_id', 'profiles', 'fleet_runs_profile_id_fkey'],
      ['machine_runs', 'machine_id', 'machines', 'machine_runs_machine_id_fkey'],
      ['machine_runs', 'site_id', 'sites', 'machine_runs_site_id_fkey'],
      ['machine_runs', 'fleet_run_id', 'fleet_runs', 'machine_runs_fleet_run_id_fkey'],
      ['machine_runs', 'profile_id', 'profiles', 'machine_runs_profile_id_fkey'],
      ['machine_names', 'machine_id', 'machines', 'machine_names_machine_id_fkey'],
      ['machine_names', 'site_id', 'sites', 'machine_names_site_id_fkey'],
    ];
    for (const [table, column, parent, old] of repoint) {
      this.addSql(`alter table ${table} drop constraint ${old},
        add constraint ${table}_tenant_id_${column}_fkey
        foreign key (tenant_id, ${column}) references ${parent} (tenant_id, id);`);
    }

    this.addSql(`alter table sites drop constraint sites_code_key;`);
    this.addSql(`alter table sites add constraint sites_tenant_id_code_key unique (tenant_id, code);`);

    this.addSql(`alter table machines
      add column pending_kind text check (pending_kind in ('collision', 'unverified', 'move')),
      add column replaces_machine_id uuid,
      add column requested_site_id uuid,
      add column requested_by jsonb,
      add constraint machines_replaces_fkey foreign key (tenant_id, replaces_machine_id) references machines (tenant_id, id),
      add constraint machines_requested_site_fkey foreign key (tenant_id, requested_site_id) references sites (tenant_id, id);`);

    // Failed enrollment guesses per source (an IPv4 address or an IPv6 /64): rows exist only for
    // sources that failed, and are purged once their window and lockout are over.
    this.addSql(`drop table enrollment_throttle;`);
    this.addSql(`create table enrollment_guard (
      source text primary key check (length(source) <= 64),
      window_started_at timestamptz not null default now(),
      failures int not null default 0,
      locked_until timestamptz,
      updated_at timestamptz not null default now()
    );`);
    this.addSql(`create index enrollment_guard_updated on enrollment_guard (updated_at);`);
    // Valid enrollments per site and minute: sized for bulk imaging behind one address.
    this.addSql(`create table enrollment_site_rate (
      tenant_id uuid not null references tenants (tenant_id),
      site_id uuid not null,
      window_started_at timestamptz not null default now(),
      enrollments int not null default 0,
      primary key (tenant_id, site_id),
      foreign key (tenant_id, site_id) references sites (tenant_id, id)
    );`);
    this.addSql(`alter table enrollment_site_rate enable row level security;`);
    this.addSql(`alter table enrollment_site_rate force row level security;`);
    this.addSql(`create policy tenant_isolation on enrollment_site_rate
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    this.addSql(
      `grant select, insert, update, delete on enrollment_guard, enrollment_site_rate to ${APP_ROLE};`,
    );

    // Every function of ours resolves names in a fixed path, whatever the caller's search_path.
    this.addSql(`do $$ declare f regprocedure; begin
      for f in select p.oid::regprocedure from pg_proc p
                 where p.pronamespace = 'public'::regnamespace
                   and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
      loop
        execute format('alter function %s set search_path = pg_catalog, public, pg_temp', f);
      end loop;
    end $$;`);
  }
}
