import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Queued tasks past their delivery deadline, for the API's delivery sweep
 * (api/agent-channel/delivery-sweep.ts). Nothing else notices them: the agent is offline, and the
 * dispatch activity waits for its heartbeat timeout (2 minutes) before Temporal retries it and the
 * retry's `agent_dispatch_task` abandons the row as undelivered. The sweep ends that wait: it fails
 * each such task's current activity attempt as retryable, and the retry says undelivered at once.
 *
 * SECURITY DEFINER because the sweep crosses tenants and the app role sees one tenant at a time
 * (as `drydock_prune`); it takes no tenant, changes nothing, and returns only task tokens, which
 * are the API's own to complete anyway.
 */
export class Migration0035OverdueTasks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index agent_tasks_queued_deadline on agent_tasks (deliver_by)
      where status = 'queued' and deliver_by is not null;`);
    this.addSql(`create function agent_overdue_tasks(p_batch int)
      returns table (task_token bytea)
      language plpgsql security definer set search_path = pg_catalog, public, pg_temp as $$
      begin
        if p_batch is null or p_batch < 1 or p_batch > 10000 then
          raise exception 'agent_overdue_tasks: the batch must be 1..10000' using errcode = '22023';
        end if;
        return query
          select t.task_token from agent_tasks t
           where t.status = 'queued' and t.deliver_by is not null and t.deliver_by <= now()
             and t.task_token is not null
           order by t.deliver_by
           limit p_batch;
      end $$;`);
    this.addSql(`revoke all on function agent_overdue_tasks(int) from public;`);
    this.addSql(`grant execute on function agent_overdue_tasks(int) to ${APP_ROLE};`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function agent_overdue_tasks(int);`);
    this.addSql(`drop index agent_tasks_queued_deadline;`);
  }
}
