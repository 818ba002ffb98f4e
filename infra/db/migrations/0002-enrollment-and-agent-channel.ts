import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

const tenantPolicy = (table: string) => [
  `alter table ${table} enable row level security;`,
  `alter table ${table} force row level security;`,
  `create policy tenant_isolation on ${table}
     using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
     with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`,
];

/**
 * Site enrollment keys, agent keys, agent tasks, alerts, and the enrollment throttle.
 * Key rows can be found before the tenant is known, by their non-secret key id only
 * (policy key_lookup): that is how an unauthenticated enroll or agent request finds its tenant.
 */
export class Migration0002EnrollmentAndAgentChannel extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table machines
      add column machine_guid text,
      add column clone_key text not null default '',
      add column hardware jsonb not null default '{}'::jsonb,
      add column os jsonb not null default '{}'::jsonb,
      add column agent_version text,
      add column labels jsonb not null default '{}'::jsonb,
      add column inventory jsonb,
      add column uptime_seconds bigint,
      add column pending_reason text,
      add column decided_by text,
      add column decided_at timestamptz;`);
    this.addSql(`alter table machines drop constraint machines_tenant_id_machine_uid_key;`);
    this.addSql(
      `alter table machines add constraint machines_identity unique (tenant_id, machine_uid, clone_key);`,
    );
    this.addSql(`alter table machines add constraint machines_tenant_id_id_key unique (tenant_id, id);`);

    this.addSql(`create table site_enrollment_keys (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      site_id uuid not null,
      version int not null check (version > 0),
      key_id text not null unique,
      key_hash text not null,
      fingerprint text not null,
      active boolean not null default true,
      created_by text not null,
      created_at timestamptz not null default now(),
      retired_at timestamptz,
      unique (tenant_id, site_id, version),
      foreign key (tenant_id, site_id) references sites (tenant_id, id)
    );`);
    this.addSql(
      `create unique index site_enrollment_keys_one_active on site_enrollment_keys (site_id) where active;`,
    );

    this.addSql(`create table agent_keys (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      machine_id uuid not null,
      key_id text not null unique,
      key_hash text not null,
      created_at timestamptz not null default now(),
      revoked_at timestamptz,
      revoked_reason text,
      foreign key (tenant_id, machine_id) references machines (tenant_id, id)
    );`);
    this.addSql(`create index agent_keys_machine on agent_keys (tenant_id, machine_id);`);

    this.addSql(`create table agent_tasks (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      machine_id uuid not null,
      kind text not null,
      payload jsonb not null default '{}'::jsonb,
      idempotency_key text not null,
      workflow_id text not null,
      activity_id text not null,
      task_token bytea,
      attempt int not null default 1,
      status text not null default 'queued' check (status in ('queued', 'delivered', 'completed', 'failed')),
      deliveries int not null default 0,
      progress jsonb,
      result jsonb,
      error jsonb,
      created_at timestamptz not null default now(),
      delivered_at timestamptz,
      finished_at timestamptz,
      unique (tenant_id, idempotency_key),
      foreign key (tenant_id, machine_id) references machines (tenant_id, id)
    );`);
    this.addSql(`create index agent_tasks_machine_open on agent_tasks (tenant_id, machine_id, created_at)
      where status in ('queued', 'delivered');`);

    this.addSql(`create table alerts (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      kind text not null,
      machine_id uuid,
      site_id uuid,
      message text not null,
      data jsonb not null default '{}'::jsonb,
      created_at timestamptz not null default now(),
      acknowledged_at timestamptz
    );`);

    for (const table of ['site_enrollment_keys', 'agent_keys', 'agent_tasks', 'alerts']) {
      for (const sql of tenantPolicy(table)) this.addSql(sql);
    }
    for (const table of ['site_enrollment_keys', 'agent_keys']) {
      this.addSql(`create policy key_lookup on ${table} for select
        using (key_id = nullif(current_setting('app.key_lookup', true), ''));`);
    }

    // Pre-authentication abuse state, keyed by what the caller claims (site code, source IP):
    // it belongs to no tenant, holds no tenant data, and must work before any tenant is known.
    this.addSql(`create table enrollment_throttle (
      site_code text not null,
      source_ip text not null,
      window_started_at timestamptz not null default now(),
      attempts int not null default 0,
      failures int not null default 0,
      locked_until timestamptz,
      primary key (site_code, source_ip)
    );`);

    this
      .addSql(`grant select, insert, update, delete on site_enrollment_keys, agent_keys, agent_tasks, alerts,
      enrollment_throttle to ${APP_ROLE};`);
  }
}
