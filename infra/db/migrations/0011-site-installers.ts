import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Per-site installers (ADR 0024): the active enrollment key kept sealed for installer builds, and
 * the built installers, cached per (site, agent version, key version).
 */
export class Migration0011SiteInstallers extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table site_enrollment_keys add column key_sealed text;`);
    this.addSql(`create table site_installers (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      site_id uuid not null,
      agent_version text not null,
      key_version int not null check (key_version > 0),
      fingerprint text not null,
      kind text not null check (kind in ('exe', 'msi')),
      file_name text not null,
      sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
      size_bytes bigint not null,
      storage_path text not null,
      built_at timestamptz not null default now(),
      unique (tenant_id, site_id, agent_version, key_version, kind),
      foreign key (tenant_id, site_id) references sites (tenant_id, id)
    );`);
    this.addSql(`alter table site_installers enable row level security;`);
    this.addSql(`alter table site_installers force row level security;`);
    this.addSql(`create policy tenant_isolation on site_installers
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    this.addSql(`grant select, insert, update, delete on site_installers to ${APP_ROLE};`);
  }
}
