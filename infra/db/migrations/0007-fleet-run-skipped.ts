import { Migration } from '@mikro-orm/migrations';

/**
 * A fleet run leaves out the selected machines that already have a run of their own (queued,
 * running, paused or failed and waiting): one run per machine at a time. It counts them here.
 */
export class Migration0007FleetRunSkipped extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table fleet_runs add column skipped int not null default 0;`);
    // The check for a machine's unfinished run, at snapshot and at a single machine's start.
    this.addSql(`create index machine_runs_machine_unfinished on machine_runs (tenant_id, machine_id)
      where finished_at is null;`);
  }
}
