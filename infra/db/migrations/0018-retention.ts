import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Retention (ADR 0039): what grows without bound and is worth nothing after a while is deleted in
 * batches by one function the worker's schedule calls.
 *
 * - Agent tasks finished (completed, failed, abandoned) more than `p_task_days` ago whose workflow
 *   has no open run row and no task open or finished within those days: a task is the idempotency
 *   record of a step, so it stays while anything could still dispatch that step again (a run that
 *   is open, failed and waiting included). Run tables of new workflow families join this list.
 * - Enrollment guard rows of sources quiet for a day and not locked; per-site enrollment windows
 *   older than an hour (both are recreated by the next enrollment).
 *
 * SECURITY DEFINER because retention crosses tenants and the app role sees one tenant at a time;
 * it takes no tenant, returns only counts, and its rules are fixed here. Audit events are never
 * deleted (append-only; docs/operations.md says how to archive them).
 */
export class Migration0018Retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index agent_tasks_finished on agent_tasks (finished_at)
      where status in ('completed', 'failed', 'abandoned');`);
    this.addSql(`create index agent_tasks_workflow_finished on agent_tasks (workflow_id, finished_at);`);
    this.addSql(`create function drydock_prune(p_task_days int, p_batch int)
      returns table (what text, deleted bigint)
      language plpgsql security definer set search_path = pg_catalog, public, pg_temp as $$
      begin
        if p_task_days is null or p_task_days < 1 or p_batch is null or p_batch < 1 or p_batch > 100000 then
          raise exception 'drydock_prune: task days must be at least 1 and the batch 1..100000'
            using errcode = '22023';
        end if;
        what := 'agent_tasks';
        with gone as (
          delete from agent_tasks t where t.id in (
            select c.id from agent_tasks c
             where c.status in ('completed', 'failed', 'abandoned')
               and c.finished_at < now() - make_interval(days => p_task_days)
               and not exists (select 1 from machine_runs r
                                where r.workflow_id = c.workflow_id and r.finished_at is null)
               and not exists (select 1 from machine_tweak_undos u
                                where u.workflow_id = c.workflow_id and u.finished_at is null)
               and not exists (select 1 from agent_tasks n
                                where n.workflow_id = c.workflow_id
                                  and (n.finished_at is null
                                       or n.finished_at >= now() - make_interval(days => p_task_days)))
             limit p_batch)
          returning 1)
        select count(*) into deleted from gone;
        return next;
        what := 'enrollment_guard';
        with gone as (
          delete from enrollment_guard g where g.source in (
            select c.source from enrollment_guard c
             where c.updated_at < now() - interval '1 day'
               and (c.locked_until is null or c.locked_until < now())
             limit p_batch)
          returning 1)
        select count(*) into deleted from gone;
        return next;
        what := 'enrollment_site_rate';
        with gone as (
          delete from enrollment_site_rate s where (s.tenant_id, s.site_id) in (
            select c.tenant_id, c.site_id from enrollment_site_rate c
             where c.window_started_at < now() - interval '1 hour'
             limit p_batch)
          returning 1)
        select count(*) into deleted from gone;
        return next;
      end $$;`);
    this.addSql(`revoke all on function drydock_prune(int, int) from public;`);
    this.addSql(`grant execute on function drydock_prune(int, int) to ${APP_ROLE};`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function drydock_prune(int, int);`);
    this.addSql(`drop index agent_tasks_workflow_finished;`);
    this.addSql(`drop index agent_tasks_finished;`);
  }
}
