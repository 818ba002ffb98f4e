import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

const tenantTables = ['tenants', 'clients', 'sites', 'machines', 'users', 'memberships', 'audit_events'];

/** Tenants, clients, sites, machines, users, memberships and the audit chain, all under forced RLS. */
export class Migration0001Foundation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`do $$ begin
      if not exists (select 1 from pg_roles where rolname = '${APP_ROLE}') then
        create role ${APP_ROLE} nologin nosuperuser nocreatedb nocreaterole nobypassrls;
      end if;
    end $$;`);

    this.addSql(`create table tenants (
      tenant_id uuid primary key,
      slug text not null unique check (slug ~ '^[a-z0-9-]{1,63}$'),
      name text not null check (length(name) between 1 and 200),
      created_at timestamptz not null default now()
    );`);
    this.addSql(`create table clients (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      name text not null check (length(name) between 1 and 200),
      created_at timestamptz not null default now(),
      unique (tenant_id, id)
    );`);
    this.addSql(`create table sites (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      client_id uuid not null,
      code text not null unique check (code ~ '^[A-Z0-9-]{3,32}$'),
      name text not null check (length(name) between 1 and 200),
      created_at timestamptz not null default now(),
      unique (tenant_id, id),
      foreign key (tenant_id, client_id) references clients (tenant_id, id)
    );`);
    this.addSql(`create table machines (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      site_id uuid not null,
      machine_uid text not null,
      hostname text not null,
      status text not null default 'active' check (status in ('active', 'pending', 'retired')),
      boot_id text,
      last_seen_at timestamptz,
      created_at timestamptz not null default now(),
      unique (tenant_id, machine_uid),
      foreign key (tenant_id, site_id) references sites (tenant_id, id)
    );`);
    this.addSql(`create table users (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      oidc_issuer text,
      oidc_subject text,
      email text not null,
      display_name text not null,
      created_at timestamptz not null default now(),
      unique (tenant_id, id),
      unique (tenant_id, oidc_issuer, oidc_subject)
    );`);
    this.addSql(`create table memberships (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      user_id uuid not null,
      role text not null check (role in ('viewer', 'operator', 'engineer', 'admin')),
      created_at timestamptz not null default now(),
      unique (tenant_id, user_id),
      foreign key (tenant_id, user_id) references users (tenant_id, id)
    );`);

    // The audit chain. seq, occurred_at, prev_hash and hash are assigned by the trigger below,
    // under a per-tenant advisory lock, so concurrent writers leave one gapless chain.
    this.addSql(`create table audit_events (
      id bigint generated always as identity primary key,
      tenant_id uuid not null references tenants (tenant_id),
      seq bigint not null,
      occurred_at timestamptz not null,
      actor text not null,
      action text not null,
      subject_type text not null,
      subject_id text not null,
      data jsonb not null default '{}'::jsonb,
      prev_hash text not null,
      hash text not null,
      unique (tenant_id, seq)
    );`);
    this.addSql(`create function audit_field(v text) returns text language sql immutable as $$
      select octet_length(coalesce(v, ''))::text || ':' || coalesce(v, '')
    $$;`);
    this.addSql(`create function audit_time(t timestamptz) returns text language sql immutable as $$
      select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    $$;`);
    this.addSql(`create function audit_events_chain() returns trigger language plpgsql as $$
      declare
        head record;
      begin
        perform pg_advisory_xact_lock(hashtextextended('audit_events:' || new.tenant_id::text, 0));
        select seq, hash into head from audit_events
          where tenant_id = new.tenant_id order by seq desc limit 1;
        new.seq := coalesce(head.seq, 0) + 1;
        new.prev_hash := coalesce(head.hash, repeat('0', 64));
        new.occurred_at := clock_timestamp();
        new.hash := encode(sha256(convert_to(
          'drydock-audit-v1|' || audit_field(new.tenant_id::text) || audit_field(new.seq::text)
          || audit_field(audit_time(new.occurred_at)) || audit_field(new.actor) || audit_field(new.action)
          || audit_field(new.subject_type) || audit_field(new.subject_id) || audit_field(new.data::text)
          || audit_field(new.prev_hash), 'UTF8')), 'hex');
        return new;
      end
    $$;`);
    this.addSql(`create trigger audit_events_chain before insert on audit_events
      for each row execute function audit_events_chain();`);
    this.addSql(`create function audit_events_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_events is append-only: % is not allowed', tg_op
          using errcode = 'insufficient_privilege';
      end
    $$;`);
    this.addSql(`create trigger audit_events_no_update_delete before update or delete on audit_events
      for each row execute function audit_events_append_only();`);
    this.addSql(`create trigger audit_events_no_truncate before truncate on audit_events
      for each statement execute function audit_events_append_only();`);

    for (const table of tenantTables) {
      this.addSql(`alter table ${table} enable row level security;`);
      this.addSql(`alter table ${table} force row level security;`);
      this.addSql(`create policy tenant_isolation on ${table}
        using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
        with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    }
    const mutable = tenantTables.filter((t) => t !== 'audit_events');
    this.addSql(`grant select, insert, update, delete on ${mutable.join(', ')} to ${APP_ROLE};`);
    this.addSql(`grant select, insert on audit_events to ${APP_ROLE};`);
    this.addSql(`revoke update, delete, truncate on audit_events from ${APP_ROLE};`);
    this.addSql(`create index machines_site on machines (tenant_id, site_id);`);
    this.addSql(`create index sites_client on sites (tenant_id, client_id);`);
  }
}
