import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * The agent channel's per-step statements as functions, so each is one round trip instead of a
 * transaction of four (BEGIN, set_config, the statement, COMMIT): at fleet scale the API and the
 * worker spend most of their database time on round trips (ADR 0012).
 *
 * They run with the caller's rights (SECURITY INVOKER, the default), so row-level security applies
 * exactly as before; each sets `app.tenant_id` (or `app.key_lookup`) for its own statement's
 * transaction and names the tenant in its WHERE clauses too. Call them outside a transaction.
 */
export class Migration0005AgentChannelFunctions extends Migration {
  override async up(): Promise<void> {
    // Authentication: the one agent_keys row with this key id (the key_lookup policy shows it).
    this.addSql(`create function agent_key_lookup(p_key_id text)
      returns table (tenant_id uuid, machine_id uuid, key_hash text, revoked_at timestamptz)
      language plpgsql as $$
      #variable_conflict use_column
      begin
        perform set_config('app.key_lookup', p_key_id, true);
        return query select k.tenant_id, k.machine_id, k.key_hash, k.revoked_at
          from agent_keys k where k.key_id = p_key_id;
        perform set_config('app.key_lookup', '', true);
      end $$;`);

    // Worker: store (or re-arm) a step's task for this attempt, mirror the run, wake the long-polls.
    this.addSql(`create function agent_dispatch_task(
        p_tenant uuid, p_machine uuid, p_id uuid, p_kind text, p_payload jsonb, p_key text,
        p_workflow text, p_activity text, p_token bytea, p_attempt int,
        p_run uuid, p_run_status text, p_run_phase text, p_run_step text, p_run_attempt int,
        p_channel text, p_notice text)
      returns table (machine_status text, status text, result jsonb, error jsonb)
      language plpgsql as $$
      #variable_conflict use_column
      declare
        v_machine text;
        v_status text;
        v_result jsonb;
        v_error jsonb;
      begin
        perform set_config('app.tenant_id', p_tenant::text, true);
        select m.status into v_machine from machines m where m.tenant_id = p_tenant and m.id = p_machine;
        if v_machine is null or v_machine = 'retired' then
          return query select coalesce(v_machine, 'missing'), null::text, null::jsonb, null::jsonb;
          return;
        end if;
        insert into agent_tasks as t (id, tenant_id, machine_id, kind, payload, idempotency_key,
                                      workflow_id, activity_id, task_token, attempt)
          values (p_id, p_tenant, p_machine, p_kind, p_payload, p_key, p_workflow, p_activity, p_token, p_attempt)
          on conflict (tenant_id, idempotency_key) do update set
            task_token = excluded.task_token,
            attempt = excluded.attempt,
            status = case when t.status in ('completed', 'failed') then t.status else 'queued' end
          returning t.status, t.result, t.error into v_status, v_result, v_error;
        if p_run is not null then
          update machine_runs r set status = p_run_status, phase = p_run_phase, step = p_run_step,
                 attempt = p_run_attempt, updated_at = now()
           where r.tenant_id = p_tenant and r.id = p_run;
        end if;
        perform pg_notify(p_channel, p_notice);
        return query select v_machine, v_status, v_result, v_error;
      end $$;`);

    // API, long-poll: the oldest open task of an active machine (SKIP LOCKED: one poll takes it).
    this.addSql(`create function agent_claim_task(p_tenant uuid, p_machine uuid)
      returns table (id uuid, kind text, payload jsonb, idempotency_key text)
      language plpgsql as $$
      #variable_conflict use_column
      begin
        perform set_config('app.tenant_id', p_tenant::text, true);
        return query
          update agent_tasks t set status = 'delivered', delivered_at = now(), deliveries = t.deliveries + 1
           where t.id = (
             select o.id from agent_tasks o
              where o.tenant_id = p_tenant and o.machine_id = p_machine and o.status in ('queued', 'delivered')
                and exists (select 1 from machines m
                             where m.tenant_id = p_tenant and m.id = p_machine and m.status = 'active')
              order by o.created_at
              for update skip locked
              limit 1)
          returning t.id, t.kind, t.payload, t.idempotency_key;
      end $$;`);

    // API, result: the first result of a task wins; the row as it now stands either way.
    this.addSql(`create function agent_finish_task(
        p_tenant uuid, p_machine uuid, p_task uuid, p_ok boolean, p_result jsonb, p_error jsonb)
      returns table (status text, result jsonb, error jsonb, task_token bytea)
      language plpgsql as $$
      #variable_conflict use_column
      begin
        perform set_config('app.tenant_id', p_tenant::text, true);
        return query
          update agent_tasks t set
                 status = case when p_ok then 'completed' else 'failed' end,
                 result = case when p_ok then p_result end,
                 error = case when p_ok then null else p_error end,
                 finished_at = now()
           where t.tenant_id = p_tenant and t.machine_id = p_machine and t.id = p_task
             and t.status not in ('completed', 'failed')
          returning t.status, t.result, t.error, t.task_token;
        if not found then
          return query select t.status, t.result, t.error, t.task_token from agent_tasks t
            where t.tenant_id = p_tenant and t.machine_id = p_machine and t.id = p_task;
        end if;
      end $$;`);

    // API, progress: is the task still out, and under which activity attempt.
    this.addSql(`create function agent_task_state(p_tenant uuid, p_machine uuid, p_task uuid)
      returns table (status text, task_token bytea)
      language plpgsql as $$
      #variable_conflict use_column
      begin
        perform set_config('app.tenant_id', p_tenant::text, true);
        return query select t.status, t.task_token from agent_tasks t
          where t.tenant_id = p_tenant and t.machine_id = p_machine and t.id = p_task;
      end $$;`);

    for (const fn of [
      'agent_key_lookup(text)',
      'agent_dispatch_task(uuid, uuid, uuid, text, jsonb, text, text, text, bytea, int, uuid, text, text, text, int, text, text)',
      'agent_claim_task(uuid, uuid)',
      'agent_finish_task(uuid, uuid, uuid, boolean, jsonb, jsonb)',
      'agent_task_state(uuid, uuid, uuid)',
    ]) {
      this.addSql(`revoke all on function ${fn} from public;`);
      this.addSql(`grant execute on function ${fn} to ${APP_ROLE};`);
    }
  }
}
