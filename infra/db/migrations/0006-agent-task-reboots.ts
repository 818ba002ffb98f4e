import { Migration } from '@mikro-orm/migrations';

/**
 * A machine's restart requests, by when they finished: a check-in with a new boot id signals the
 * workflows that asked for it (ADR 0012), found through this index instead of a visibility search.
 */
export class Migration0006AgentTaskReboots extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index agent_tasks_machine_reboots on agent_tasks (tenant_id, machine_id, finished_at)
      where kind = 'system.reboot';`);
  }
}
