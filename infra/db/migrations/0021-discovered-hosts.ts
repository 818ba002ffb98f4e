import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Discovered hosts (issue 15, ADR 0029): the computers a site's gateway found in its Active
 * Directory, keyed by objectGUID per site, beside the hosts an operator added by hand. An
 * enumeration merges into manual hosts without overwriting what the operator entered, and marks a
 * computer that left AD (`disappeared_at`) instead of deleting it: no delete grant.
 */
export class Migration0021DiscoveredHosts extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table discovered_hosts (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (tenant_id),
      site_id uuid not null,
      source text not null check (source in ('directory', 'manual')),
      object_guid uuid,
      name text not null check (length(name) between 1 and 255),
      dns_name text check (dns_name is null or dns_name ~ '^[a-z0-9][a-z0-9.-]{0,253}$'),
      os text,
      os_version text,
      ou_dn text,
      enabled boolean,
      last_logon_at timestamptz,
      role text check (role in ('domain-controller', 'server', 'workstation')),
      machine_id uuid,
      first_seen_at timestamptz not null default now(),
      last_seen_at timestamptz,
      disappeared_at timestamptz,
      created_by text not null,
      unique (tenant_id, id),
      unique (tenant_id, site_id, object_guid),
      check (source = 'manual' or object_guid is not null),
      foreign key (tenant_id, site_id) references sites (tenant_id, id),
      foreign key (tenant_id, machine_id) references machines (tenant_id, id)
    );`);
    this.addSql(`create index discovered_hosts_dns on discovered_hosts (tenant_id, site_id, dns_name);`);
    this.addSql(`alter table discovered_hosts enable row level security;`);
    this.addSql(`alter table discovered_hosts force row level security;`);
    this.addSql(`create policy tenant_isolation on discovered_hosts
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    const visible =
      'exists (select 1 from sites s where s.tenant_id = discovered_hosts.tenant_id and s.id = discovered_hosts.site_id)';
    this.addSql(`create policy client_scope on discovered_hosts as restrictive for all
      using (drydock_client_scope() is null or ${visible})
      with check (drydock_client_scope() is null or ${visible});`);
    this.addSql(`grant select, insert, update on discovered_hosts to ${APP_ROLE};`);
  }
}
