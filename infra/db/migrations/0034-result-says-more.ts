import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';
import { OPEN_TASK_OF_ACTIVE_MACHINE } from './0033-claim-says-busy';

/**
 * A result says whether the machine has another task open. An agent posts its result and, in the
 * same request, long-polls for its next task; the poll's first claim almost always found nothing
 * (the run has not dispatched the next step yet), so every step cost one claim query too many. With
 * `more` false the API marks the machine idle as an empty claim would (ADR 0051), and the poll
 * waits for the next dispatch's notice.
 *
 * A new function around `agent_finish_task`, not a new shape of it: an API replica of the previous
 * release still calls that one during a rolling upgrade.
 */
export class Migration0034ResultSaysMore extends Migration {
  override async up(): Promise<void> {
    // API, result: agent_finish_task, and `more`: whether an open task of the machine remains (a
    // plain read after it, as the claim's busy check: it waits for no lock).
    this.addSql(`create function agent_finish_task_next(
        p_tenant uuid, p_machine uuid, p_task uuid, p_ok boolean, p_result jsonb, p_error jsonb)
      returns table (status text, result jsonb, error jsonb, task_token bytea, more boolean)
      language plpgsql set search_path = pg_catalog, public, pg_temp as $$
      #variable_conflict use_column
      declare
        v_status text;
        v_result jsonb;
        v_error jsonb;
        v_token bytea;
      begin
        perform set_config('app.tenant_id', p_tenant::text, true);
        -- The result itself is agent_finish_task's (migration 0010); a statement of its own, so that
        -- the look below sees the task it finished as finished.
        select f.status, f.result, f.error, f.task_token into v_status, v_result, v_error, v_token
          from agent_finish_task(p_tenant, p_machine, p_task, p_ok, p_result, p_error) f;
        if not found then
          return;
        end if;
        return query select v_status, v_result, v_error, v_token,
          exists (select 1 from agent_tasks o
              ${OPEN_TASK_OF_ACTIVE_MACHINE});
      end $$;`);
    this.addSql(
      `revoke all on function agent_finish_task_next(uuid, uuid, uuid, boolean, jsonb, jsonb) from public;`,
    );
    this.addSql(
      `grant execute on function agent_finish_task_next(uuid, uuid, uuid, boolean, jsonb, jsonb) to ${APP_ROLE};`,
    );
  }
}
