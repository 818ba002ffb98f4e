import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * A run's life has one owner (infra/provisioning/machine-runs.ts, ADR 0016), and what belongs to a
 * run outside Temporal ends with it:
 * - agent tasks carry the Temporal run that asked for them (`run_id`; the idempotency key names it
 *   too), a delivery deadline (`deliver_by`: the step's offline limit) and an expiry (`expires_at`:
 *   the activity's schedule-to-close); a run's end abandons its open tasks (`abandoned`), and no
 *   claim hands out an abandoned, expired or undeliverable task;
 * - one open run per machine is a unique index, not a read before an insert.
 */
export class Migration0010RunLifecycle extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table agent_tasks drop constraint agent_tasks_status_check,
      add constraint agent_tasks_status_check
        check (status in ('queued', 'delivered', 'completed', 'failed', 'abandoned')),
      add column run_id text,
      add column deliver_by timestamptz,
      add column expires_at timestamptz,
      add column abandoned_reason text check (length(abandoned_reason) <= 200);`);
    this.addSql(`create index agent_tasks_workflow_open on agent_tasks (tenant_id, workflow_id)
      where status in ('queued', 'delivered');`);
    this.addSql(`create unique index machine_runs_one_open on machine_runs (tenant_id, machine_id)
      where finished_at is null;`);

    this.addSql(
      `drop function agent_dispatch_task(uuid, uuid, uuid, text, jsonb, text, text, text, bytea, int, uuid, text, text, text, int, text, text);`,
    );
    // Worker: store (or re-arm) a step's task for this activity attempt, mirror the run, wake the
    // long-polls. A row of this key but another kind is refused ('conflict'); a queued row past its
    // delivery deadline is abandoned ('undelivered'); an abandoned one stays so.
    this.addSql(`create function agent_dispatch_task(
        p_tenant uuid, p_machine uuid, p_id uuid, p_kind text, p_payload jsonb, p_key text,
        p_workflow text, p_run_id text, p_activity text, p_token bytea, p_attempt int,
        p_deliver_by timestamptz, p_expires timestamptz,
        p_run uuid, p_run_status text, p_run_phase text, p_run_step text, p_run_attempt int,
        p_channel text, p_notice text)
      returns table (machine_status text, status text, result jsonb, error jsonb)
      language plpgsql set search_path = pg_catalog, public, pg_temp as $$
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
                                      workflow_id, run_id, activity_id, task_token, attempt, deliver_by, expires_at)
          values (p_id, p_tenant, p_machine, p_kind, p_payload, p_key, p_workflow, p_run_id, p_activity,
                  p_token, p_attempt, p_deliver_by, p_expires)
          on conflict (tenant_id, idempotency_key) do update set
            task_token = excluded.task_token,
            attempt = excluded.attempt
          where t.kind = excluded.kind
          returning t.status, t.result, t.error into v_status, v_result, v_error;
        if not found then
          return query select v_machine, 'conflict'::text, null::jsonb, null::jsonb;
          return;
        end if;
        if v_status = 'queued' then
          update agent_tasks t set status = 'abandoned', abandoned_reason = 'not delivered within the offline limit',
                 finished_at = now()
           where t.tenant_id = p_tenant and t.idempotency_key = p_key and t.status = 'queued'
             and t.deliver_by <= now()
          returning 'undelivered' into v_status;
          v_status := coalesce(v_status, 'queued');
        end if;
        if p_run is not null and v_status in ('queued', 'delivered') then
          update machine_runs r set status = p_run_status, phase = p_run_phase, step = p_run_step,
                 attempt = p_run_attempt, updated_at = now()
           where r.tenant_id = p_tenant and r.id = p_run and r.finished_at is null;
        end if;
        perform pg_notify(p_channel, p_notice);
        return query select v_machine, v_status, v_result, v_error;
      end $$;`);

    // API, long-poll: the oldest open task of an active machine that may still run (SKIP LOCKED:
    // one poll takes it). Never an abandoned or expired one, nor a queued one past its deadline.
    this.addSql(`create or replace function agent_claim_task(p_tenant uuid, p_machine uuid)
      returns table (id uuid, kind text, payload jsonb, idempotency_key text)
      language plpgsql set search_path = pg_catalog, public, pg_temp as $$
      #variable_conflict use_column
      begin
        perform set_config('app.tenant_id', p_tenant::text, true);
        return query
          update agent_tasks t set status = 'delivered', delivered_at = now(), deliveries = t.deliveries + 1
           where t.id = (
             select o.id from agent_tasks o
              where o.tenant_id = p_tenant and o.machine_id = p_machine
                and (o.status = 'delivered' or (o.status = 'queued' and (o.deliver_by is null or o.deliver_by > now())))
                and (o.expires_at is null or o.expires_at > now())
                and exists (select 1 from machines m
                             where m.tenant_id = p_tenant and m.id = p_machine and m.status = 'active')
              order by o.created_at
              for update skip locked
              limit 1)
          returning t.id, t.kind, t.payload, t.idempotency_key;
      end $$;`);

    // API, result: the first result of a task wins; an abandoned task keeps no result.
    this.addSql(`create or replace function agent_finish_task(
        p_tenant uuid, p_machine uuid, p_task uuid, p_ok boolean, p_result jsonb, p_error jsonb)
      returns table (status text, result jsonb, error jsonb, task_token bytea)
      language plpgsql set search_path = pg_catalog, public, pg_temp as $$
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
             and t.status in ('queued', 'delivered')
          returning t.status, t.result, t.error, t.task_token;
        if not found then
          return query select t.status, t.result, t.error, t.task_token from agent_tasks t
            where t.tenant_id = p_tenant and t.machine_id = p_machine and t.id = p_task;
        end if;
      end $$;`);

    // API, progress: the machine is working on the task, whatever the row says since its last
    // delivery (an activity retry re-arms the row): delivered it is, under the current attempt.
    this.addSql(`create or replace function agent_task_state(p_tenant uuid, p_machine uuid, p_task uuid)
      returns table (status text, task_token bytea)
      language plpgsql set search_path = pg_catalog, public, pg_temp as $$
      #variable_conflict use_column
      begin
        perform set_config('app.tenant_id', p_tenant::text, true);
        return query
          update agent_tasks t set status = 'delivered', delivered_at = coalesce(t.delivered_at, now())
           where t.tenant_id = p_tenant and t.machine_id = p_machine and t.id = p_task
             and t.status in ('queued', 'delivered')
          returning t.status, t.task_token;
        if not found then
          return query select t.status, t.task_token from agent_tasks t
            where t.tenant_id = p_tenant and t.machine_id = p_machine and t.id = p_task;
        end if;
      end $$;`);

    const fn =
      'agent_dispatch_task(uuid, uuid, uuid, text, jsonb, text, text, text, text, bytea, int, timestamptz, timestamptz, uuid, text, text, text, int, text, text)';
    this.addSql(`revoke all on function ${fn} from public;`);
    this.addSql(`grant execute on function ${fn} to ${APP_ROLE};`);
  }
}
