import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * One-time installer links (issue 15, ADR 0043): when the site's gateway claims a `winrm.install`
 * step, the API mints a link to the site's MSI for that claim only. The row keeps the SHA-256 of the
 * link's token (never the token), when it expires, and when it was used: the first download marks
 * it used in the same statement that checks it, so a second download is refused. Rows go with
 * their task's retention (no delete grant: they expire, and `used_at` is the audit trail).
 */
export class Migration0023InstallerGrants extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table installer_grants (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (tenant_id),
      site_id uuid not null,
      installer_id uuid not null,
      task_id uuid not null,
      machine_id uuid not null,
      token_sha256 text not null check (token_sha256 ~ '^[0-9a-f]{64}$'),
      expires_at timestamptz not null,
      used_at timestamptz,
      used_from text,
      created_at timestamptz not null default now(),
      unique (tenant_id, id),
      foreign key (tenant_id, site_id) references sites (tenant_id, id)
    );`);
    this.addSql(`create index installer_grants_task on installer_grants (tenant_id, task_id);`);
    this.addSql(`alter table installer_grants enable row level security;`);
    this.addSql(`alter table installer_grants force row level security;`);
    this.addSql(`create policy tenant_isolation on installer_grants
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    const visible =
      'exists (select 1 from sites s where s.tenant_id = installer_grants.tenant_id and s.id = installer_grants.site_id)';
    this.addSql(`create policy client_scope on installer_grants as restrictive for all
      using (drydock_client_scope() is null or ${visible})
      with check (drydock_client_scope() is null or ${visible});`);
    this.addSql(`grant select, insert, update on installer_grants to ${APP_ROLE};`);
  }
}
