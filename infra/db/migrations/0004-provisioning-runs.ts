import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

const newTables = ['fleet_runs', 'machine_runs', 'machine_names'];

/**
 * Provisioning runs: profile layers on tenants, clients, sites and machines; fleet runs; one
 * machine_runs row per provisionMachine run (the portal's mirror of the workflow); the names
 * reserved per site (NetBIOS names are unique within a site, checked here, not on the machine).
 */
export class Migration0004ProvisioningRuns extends Migration {
  override async up(): Promise<void> {
    for (const table of ['tenants', 'clients', 'sites', 'machines']) {
      this.addSql(`alter table ${table} add column profile_layer jsonb not null default '{}'::jsonb
        check (jsonb_typeof(profile_layer) = 'object');`);
    }
    this.addSql(`alter table machines add column autopilot jsonb;`);
    this.addSql(`create table fleet_runs (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      workflow_id text not null unique,
      profile_id uuid not null references profiles (id),
      selection jsonb not null,
      concurrency int not null check (concurrency between 1 and 1000),
      status text not null default 'running'
        check (status in ('running', 'paused', 'cancelling', 'cancelled', 'completed')),
      total int not null default 0,
      passed int not null default 0,
      failed int not null default 0,
      cancelled int not null default 0,
      created_by text not null,
      created_at timestamptz not null default now(),
      finished_at timestamptz
    );`);
    this.addSql(`create table machine_runs (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      machine_id uuid not null references machines (id),
      site_id uuid not null references sites (id),
      fleet_run_id uuid references fleet_runs (id),
      seq int,
      workflow_id text not null unique,
      profile_id uuid not null references profiles (id),
      profile_version int,
      resolved_config jsonb,
      status text not null default 'queued'
        check (status in ('queued', 'running', 'paused', 'rebooting', 'failed', 'passed', 'cancelled')),
      phase text,
      step text,
      attempt int not null default 0,
      last_error jsonb,
      validation jsonb,
      created_by text not null,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      updated_at timestamptz not null default now(),
      finished_at timestamptz,
      unique (fleet_run_id, seq),
      unique (fleet_run_id, machine_id)
    );`);
    this.addSql(
      `create index machine_runs_machine on machine_runs (tenant_id, machine_id, created_at desc);`,
    );
    this.addSql(`create table machine_names (
      tenant_id uuid not null references tenants (tenant_id),
      site_id uuid not null references sites (id),
      name text not null check (name ~ '^[A-Z0-9-]{1,15}$'),
      machine_id uuid not null references machines (id),
      sequence int,
      reserved_at timestamptz not null default now(),
      primary key (site_id, name),
      unique (site_id, machine_id)
    );`);
    for (const table of newTables) {
      this.addSql(`alter table ${table} enable row level security;`);
      this.addSql(`alter table ${table} force row level security;`);
      this.addSql(`create policy tenant_isolation on ${table}
        using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
        with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    }
    this.addSql(`grant select, insert, update, delete on ${newTables.join(', ')} to ${APP_ROLE};`);
  }
}
