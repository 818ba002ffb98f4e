import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Site onboarding (ADR 0026): a machine's role (an agent in the gateway role does a site's LAN
 * work), and the site's domain credential, stored sealed with a server-held key (never the
 * password), one current version per site, older versions kept replaced (no delete grant).
 */
export class Migration0014DomainCredentials extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table machines add column role text not null default 'endpoint' check (role in ('endpoint', 'gateway'));`,
    );
    this.addSql(`create table domain_credentials (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      site_id uuid not null,
      domain text not null check (domain ~ '^[a-z0-9.-]+$'),
      user_name text not null check (length(user_name) between 1 and 256),
      password_sealed text not null check (password_sealed like 'v1.%'),
      key_id text not null,
      version int not null check (version > 0),
      created_by text not null,
      created_at timestamptz not null default now(),
      replaced_at timestamptz,
      unique (tenant_id, site_id, version),
      unique (tenant_id, id),
      foreign key (tenant_id, site_id) references sites (tenant_id, id)
    );`);
    this.addSql(
      `create unique index domain_credentials_current on domain_credentials (tenant_id, site_id) where replaced_at is null;`,
    );
    this.addSql(`alter table domain_credentials enable row level security;`);
    this.addSql(`alter table domain_credentials force row level security;`);
    this.addSql(`create policy tenant_isolation on domain_credentials
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    this.addSql(`grant select, insert, update on domain_credentials to ${APP_ROLE};`);
  }
}
