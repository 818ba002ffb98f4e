import { Migration } from '@mikro-orm/migrations';

/**
 * Join credentials (issue 16, ADR 0048): a site's domain credentials get a purpose. `directory`
 * (every row before this) is the gateway's LDAP and WinRM credential; `join` is the account
 * endpoints of the site join the domain with (delegated "create computer objects" in the OU, no
 * more), resolved into a `join.domain` task's claim only. One current credential per site and
 * purpose; the version numbers stay one sequence per site.
 */
export class Migration0029JoinCredentials extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table domain_credentials add column purpose text not null default 'directory'
         check (purpose in ('directory', 'join'));`,
    );
    this.addSql(`drop index domain_credentials_current;`);
    this.addSql(
      `create unique index domain_credentials_current on domain_credentials (tenant_id, site_id, purpose)
         where replaced_at is null and state = 'accepted';`,
    );
  }
}
