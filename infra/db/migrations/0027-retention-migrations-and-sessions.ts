import { Migration } from '@mikro-orm/migrations';

/**
 * Retention (ADR 0039), two additions: an agent task of an open profile migration is kept like one
 * of an open provisioning run (a migration waiting weeks for an operator's decision must not lose
 * the idempotency records of its steps), and portal sessions expired or revoked more than a day ago
 * are deleted (they can never be used again; sign-in keeps no other state).
 */
export class Migration0027RetentionMigrationsAndSessions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index sessions_ended on sessions (expires_at);`);
    this.addSql(`create or replace function drydock_prune(p_task_days int, p_batch int)
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
               and not exists (select 1 from profile_migrations p
                                where p.workflow_id = c.workflow_id and p.finished_at is null)
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
        what := 'sessions';
        with gone as (
          delete from sessions s where s.id in (
            select c.id from sessions c
             where coalesce(least(c.expires_at, c.revoked_at), c.expires_at) < now() - interval '1 day'
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
  }
}
