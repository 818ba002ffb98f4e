import { Migration } from '@mikro-orm/migrations';

/**
 * Where each discovered host's agent deployment stands (issue 15, ADR 0043), on its row: the state
 * the deployAgent workflow last recorded, why (a skip's or a failure's reason, in words), which run
 * recorded it, and when. The link to the enrolled machine is the existing `machine_id`.
 */
export class Migration0024HostDeployments extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table discovered_hosts
      add column deploy_state text check (deploy_state in
        ('queued', 'probing', 'installing', 'awaiting-enrollment', 'deployed', 'skipped', 'failed')),
      add column deploy_reason text,
      add column deploy_workflow_id text,
      add column deploy_run_id text,
      add column deploy_updated_at timestamptz;`);
  }
}
