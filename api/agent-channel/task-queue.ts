import type { AgentTaskMessage } from '../../infra/wire/agent-protocol';
import { withTenant, type Orm } from '../../infra/db/orm';
import type { AgentIdentity } from './agent-auth';

/** A delivered task not finished within this long is offered again (the agent may have died). */
export const REDELIVER_AFTER_SECONDS = 120;

/** Claims the oldest open task of an active machine; SKIP LOCKED keeps two concurrent polls from taking the same one. */
export async function claimTask(orm: Orm, agent: AgentIdentity): Promise<AgentTaskMessage | null> {
  return withTenant(orm, agent.tenantId, async (em) => {
    const rows = await em.execute<
      { id: string; kind: string; payload: Record<string, unknown>; idempotency_key: string }[]
    >(
      `update agent_tasks set status = 'delivered', delivered_at = now(), deliveries = deliveries + 1
        where id = (
          select id from agent_tasks
           where machine_id = ? and (status = 'queued' or (status = 'delivered' and delivered_at < now() - make_interval(secs => ?)))
             -- a pending (unapproved clone) or retired machine gets nothing to do
             and exists (select 1 from machines m where m.id = agent_tasks.machine_id and m.status = 'active')
           order by created_at
           for update skip locked
           limit 1)
        returning id, kind, payload, idempotency_key`,
      [agent.machineId, REDELIVER_AFTER_SECONDS],
    );
    const row = rows[0];
    return row
      ? { id: row.id, kind: row.kind, payload: row.payload, idempotencyKey: row.idempotency_key }
      : null;
  });
}
