import { Migration } from '@mikro-orm/migrations';

/**
 * A domain credential is tested by a bind through the site's gateway before it is accepted (issue
 * 15): until then it is a `candidate` the gateway can be handed for that test only, never the
 * site's current credential; a failed test leaves it `rejected`. Rows written before this were all
 * accepted. The "one current per site" index counts accepted rows only.
 */
export class Migration0022CredentialCandidates extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table domain_credentials add column state text not null default 'accepted'
         check (state in ('candidate', 'accepted', 'rejected'));`,
    );
    this.addSql(`alter table domain_credentials add column decided_at timestamptz;`);
    this.addSql(`drop index domain_credentials_current;`);
    this.addSql(
      `create unique index domain_credentials_current on domain_credentials (tenant_id, site_id)
         where replaced_at is null and state = 'accepted';`,
    );
  }
}
