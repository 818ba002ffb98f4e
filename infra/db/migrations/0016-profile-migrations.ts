import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

const newTables = ['profile_migration_batches', 'profile_migrations'];

/**
 * Profile migrations (issue 17): one profile_migrations row per migrateProfile run — the portal's
 * mirror of the saga, keyed by its workflow id and the Temporal run that last wrote it — and one
 * profile_migration_batches row per batch, whose (machine, user) pairs are fixed (numbered 1..n)
 * when it starts. Tenant-scoped with row-level security like every table.
 */
export class Migration0016ProfileMigrations extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table profile_migration_batches (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      workflow_id text not null unique,
      mode text not null check (mode in ('in-place', 'copy', 'cloud')),
      total int not null,
      concurrency int not null,
      status text not null default 'running' check (status in ('running', 'completed', 'cancelled', 'failed')),
      created_by text not null,
      created_at timestamptz not null default now(),
      finished_at timestamptz,
      unique (tenant_id, id)
    );`);
    this.addSql(`create table profile_migrations (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      machine_id uuid not null,
      batch_id uuid,
      seq int,
      workflow_id text not null unique,
      temporal_run_id text,
      mode text not null check (mode in ('in-place', 'copy', 'cloud')),
      source text not null,
      target jsonb not null,
      copy_groups boolean not null,
      retire text not null check (retire in ('keep', 'disable', 'delete')),
      status text not null default 'queued'
        check (status in ('queued', 'running', 'awaiting-approval', 'passed', 'rolled-back', 'failed', 'cancelled')),
      state text not null default 'queued',
      source_sid text,
      target_sid text,
      backup_checksum text,
      not_movable jsonb not null default '[]'::jsonb,
      restored jsonb not null default '[]'::jsonb,
      last_error jsonb,
      created_by text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      finished_at timestamptz,
      unique (batch_id, seq),
      foreign key (tenant_id, machine_id) references machines (tenant_id, id),
      foreign key (tenant_id, batch_id) references profile_migration_batches (tenant_id, id)
    );`);
    this.addSql(
      `create index profile_migrations_machine on profile_migrations (tenant_id, machine_id, created_at desc);`,
    );
    this.addSql(`create index profile_migrations_batch on profile_migrations (tenant_id, batch_id, seq);`);
    for (const table of newTables) {
      this.addSql(`alter table ${table} enable row level security;`);
      this.addSql(`alter table ${table} force row level security;`);
      this.addSql(`create policy tenant_isolation on ${table}
        using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
        with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    }
    this.addSql(`grant select, insert, update on ${newTables.join(', ')} to ${APP_ROLE};`);
  }
}
