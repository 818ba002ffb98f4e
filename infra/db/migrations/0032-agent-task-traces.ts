import { Migration } from '@mikro-orm/migrations';

/**
 * An agent task remembers the trace of the activity that dispatched it (a W3C `traceparent`, only
 * when tracing is on: issue 18, ADR 0040), so the API can put the machine's work — delivery to
 * result — into the same trace as the request, the workflow and the activity.
 */
export class Migration0032AgentTaskTraces extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table agent_tasks add column trace_parent text
         check (trace_parent ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');`,
    );
  }
}
