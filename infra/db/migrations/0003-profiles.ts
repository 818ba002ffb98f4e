import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/** Versioned provisioning profiles: a new row per saved version; runs record the version they used. */
export class Migration0003Profiles extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table profiles (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      name text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$'),
      version int not null check (version > 0),
      document jsonb not null,
      created_by text not null,
      created_at timestamptz not null default now(),
      unique (tenant_id, name, version)
    );`);
    this.addSql(`alter table profiles enable row level security;`);
    this.addSql(`alter table profiles force row level security;`);
    this.addSql(`create policy tenant_isolation on profiles
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    this.addSql(`grant select, insert on profiles to ${APP_ROLE};`);
  }
}
