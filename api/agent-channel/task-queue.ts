import type { AgentTaskMessage } from '../../infra/wire/agent-protocol';
import { withTenant, type Orm } from '../../infra/db/orm';
import type { AgentIdentity } from './agent-auth';

/**
 * Claims the oldest open task of an active machine; SKIP LOCKED keeps two concurrent polls from
 * taking the same one. A task delivered earlier and not finished is offered again at once: an
 * agent polls only when it holds nothing (it finishes, journals and reports every task before it
 * polls again), so that delivery went to a poll that died with its agent — a restart, a crash, a
 * power cut the server could not see. The agent's journal keeps a task it did get from running twice.
 */
export async function claimTask(orm: Orm, agent: AgentIdentity): Promise<AgentTaskMessage | null> {
  return withTenant(orm, agent.tenantId, async (em) => {
    const rows = await em.execute<
      { id: string; kind: string; payload: Record<string, unknown>; idempotency_key: string }[]
    >(
      `update agent_tasks set status = 'delivered', delivered_at = now(), deliveries = deliveries + 1
        where id = (
          select id from agent_tasks
           where machine_id = ? and status in ('queued', 'delivered')
             -- a pending (unapproved clone) or retired machine gets nothing to do
             and exists (select 1 from machines m where m.id = agent_tasks.machine_id and m.status = 'active')
           order by created_at
           for update skip locked
           limit 1)
        returning id, kind, payload, idempotency_key`,
      [agent.machineId],
    );
    const row = rows[0];
    return row
      ? { id: row.id, kind: row.kind, payload: row.payload, idempotencyKey: row.idempotency_key }
      : null;
  });
}
