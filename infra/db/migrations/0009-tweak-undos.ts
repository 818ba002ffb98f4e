import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

const newTables = ['tweak_undos', 'machine_tweak_undos'];

/**
 * Undo of tweaks (issue 12): one machine_tweak_undos row per undoTweaks run (the portal's mirror of
 * the workflow, keyed by its workflow id and the Temporal run that last wrote it), and one
 * tweak_undos row per fleet-wide undo, whose machines are fixed (numbered 1..total) when it starts.
 */
export class Migration0009TweakUndos extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table tweak_undos (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      workflow_id text not null unique,
      temporal_run_id text,
      selection jsonb not null,
      tweaks jsonb,
      restart boolean not null default true,
      status text not null default 'running'
        check (status in ('running', 'cancelling', 'cancelled', 'completed', 'failed')),
      total int not null default 0,
      skipped int not null default 0,
      last_error jsonb,
      created_by text not null,
      created_at timestamptz not null default now(),
      finished_at timestamptz,
      unique (tenant_id, id)
    );`);
    this.addSql(`create table machine_tweak_undos (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      machine_id uuid not null,
      site_id uuid not null,
      tweak_undo_id uuid,
      seq int,
      workflow_id text not null unique,
      temporal_run_id text,
      tweaks jsonb,
      restart boolean not null default true,
      status text not null default 'queued'
        check (status in ('queued', 'running', 'rebooting', 'passed', 'failed', 'cancelled')),
      restored jsonb not null default '[]'::jsonb,
      failures jsonb not null default '[]'::jsonb,
      last_error jsonb,
      created_by text not null,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      updated_at timestamptz not null default now(),
      finished_at timestamptz,
      unique (tweak_undo_id, seq),
      unique (tweak_undo_id, machine_id),
      foreign key (tenant_id, machine_id) references machines (tenant_id, id),
      foreign key (tenant_id, site_id) references sites (tenant_id, id),
      foreign key (tenant_id, tweak_undo_id) references tweak_undos (tenant_id, id)
    );`);
    this.addSql(
      `create index machine_tweak_undos_machine on machine_tweak_undos (tenant_id, machine_id, created_at desc);`,
    );
    this.addSql(`create index machine_tweak_undos_unfinished on machine_tweak_undos (tenant_id, machine_id)
      where finished_at is null;`);
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
