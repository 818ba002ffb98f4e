import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * An open task (`o`) of the caller's machine, and the machine still active: what the claim may
 * take, and what a result looks for besides its own task (migration 0034).
 */
export const OPEN_TASK_OF_ACTIVE_MACHINE = `where o.tenant_id = p_tenant and o.machine_id = p_machine
                and (o.status = 'delivered' or (o.status = 'queued' and (o.deliver_by is null or o.deliver_by > now())))
                and (o.expires_at is null or o.expires_at > now())
                and exists (select 1 from machines m
                             where m.tenant_id = p_tenant and m.id = p_machine and m.status = 'active')`;

/**
 * The claim says when it found nothing only because another transaction held an open task's row
 * (SKIP LOCKED passed it over): a progress report, a trace being recorded on a fresh task. Such a
 * claim is not "this machine has nothing" — no notice follows the lock's release, so an API that
 * took it for that (ADR 0051's idle mark) left a queued task unclaimed until the mark expired.
 *
 * A new function, not a new shape of `agent_claim_task`: an API replica of the previous release
 * still calls that one during a rolling upgrade (it stays, unchanged, until a later release drops it).
 */
export class Migration0033ClaimSaysBusy extends Migration {
  override async up(): Promise<void> {
    // API, long-poll: as agent_claim_task; with nothing taken, one row (busy, no task) if an open
    // task of the machine exists all the same (its row was locked), no row if none does.
    this.addSql(`create function agent_claim_next(p_tenant uuid, p_machine uuid)
      returns table (id uuid, kind text, payload jsonb, idempotency_key text, busy boolean)
      language plpgsql set search_path = pg_catalog, public, pg_temp as $$
      #variable_conflict use_column
      begin
        perform set_config('app.tenant_id', p_tenant::text, true);
        return query
          update agent_tasks t set status = 'delivered', delivered_at = now(), deliveries = t.deliveries + 1
           where t.id = (
             select o.id from agent_tasks o
              ${OPEN_TASK_OF_ACTIVE_MACHINE}
              order by o.created_at
              for update skip locked
              limit 1)
          returning t.id, t.kind, t.payload, t.idempotency_key, false;
        if found then
          return;
        end if;
        -- A plain read waits for no lock and sees what committed since the claim began.
        return query
          select null::uuid, null::text, null::jsonb, null::text, true
           where exists (
             select 1 from agent_tasks o
              ${OPEN_TASK_OF_ACTIVE_MACHINE});
      end $$;`);
    this.addSql(`revoke all on function agent_claim_next(uuid, uuid) from public;`);
    this.addSql(`grant execute on function agent_claim_next(uuid, uuid) to ${APP_ROLE};`);
  }
}
