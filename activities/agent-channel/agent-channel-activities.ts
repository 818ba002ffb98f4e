import { randomUUID } from 'node:crypto';
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { MachineSchema, MachineStatus } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { AgentChannelFailure, stepFailure, type AgentTaskInput } from '../../workflows/machines/contracts';
import { noticeSql } from '../../infra/db/agent-notices';

/**
 * The agent channel's server side: a dispatch stores the task with this attempt's task token,
 * wakes the long-polls, and completes asynchronously — the API completes the activity when the
 * agent posts its result (ARCHITECTURE: "How an activity reaches a Windows machine").
 */
export function createAgentChannelActivities(deps: { orm: Orm }) {
  return {
    async dispatchAgentTask(input: AgentTaskInput): Promise<Record<string, unknown>> {
      const { info } = Context.current();
      // Stable across retries of this activity: the agent journals its result under it.
      const idempotencyKey = `${info.workflowExecution!.workflowId}:${info.activityId}`;
      const row = await withTenant(deps.orm, input.tenantId, async (em) => {
        const machine = await em.findOne(MachineSchema, { id: input.machineId });
        if (!machine) {
          throw ApplicationFailure.create({
            type: AgentChannelFailure.MachineNotFound,
            message: 'machine not found',
            nonRetryable: true,
          });
        }
        if (machine.status === MachineStatus.Retired) {
          throw ApplicationFailure.create({
            type: AgentChannelFailure.MachineNotActive,
            message: 'machine is retired',
            nonRetryable: true,
          });
        }
        const [stored] = await em.execute<
          {
            status: string;
            result: Record<string, unknown> | null;
            error: { type: string; message: string; retryable: boolean } | null;
          }[]
        >(
          `insert into agent_tasks as t (id, tenant_id, machine_id, kind, payload, idempotency_key, workflow_id, activity_id, task_token, attempt)
           values (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?)
           on conflict (tenant_id, idempotency_key) do update set
             task_token = excluded.task_token,
             attempt = excluded.attempt,
             status = case when t.status in ('completed', 'failed') then t.status else 'queued' end
           returning status, result, error`,
          [
            randomUUID(),
            input.tenantId,
            input.machineId,
            input.kind,
            JSON.stringify(input.payload),
            idempotencyKey,
            info.workflowExecution!.workflowId,
            info.activityId,
            Buffer.from(info.taskToken),
            info.attempt,
          ],
        );
        if (input.run) {
          await em.execute(
            `update machine_runs set status = ?, phase = ?, step = ?, attempt = ?, updated_at = now()
              where id = ?`,
            [
              input.run.status ?? 'running',
              input.run.phase,
              input.run.step,
              input.run.attempt,
              input.run.runId,
            ],
          );
        }
        const notice = noticeSql({ t: 'task', m: input.machineId });
        await em.execute(notice.sql, notice.params);
        return stored!;
      });
      // An earlier attempt's result arrived after that attempt timed out: use it, do not redo the step.
      if (row.status === 'completed') return row.result ?? {};
      if (row.status === 'failed' && row.error) throw stepFailure(row.error);
      throw new CompleteAsyncError();
    },
  };
}

export type AgentChannelActivities = ReturnType<typeof createAgentChannelActivities>;
