import { randomUUID } from 'node:crypto';
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { dispatchTask } from '../../infra/db/agent-tasks';
import type { Orm } from '../../infra/db/orm';
import { AgentChannelFailure, stepFailure, type AgentTaskInput } from '../../workflows/machines/contracts';

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
      const outcome = await dispatchTask(deps.orm, {
        tenantId: input.tenantId,
        machineId: input.machineId,
        id: randomUUID(),
        kind: input.kind,
        payload: input.payload,
        idempotencyKey,
        workflowId: info.workflowExecution!.workflowId,
        activityId: info.activityId,
        taskToken: info.taskToken,
        attempt: info.attempt,
        ...(input.run ? { run: { ...input.run, status: input.run.status ?? 'running' } } : {}),
      });
      if (!('task' in outcome)) {
        const missing = outcome.machine === 'missing';
        throw ApplicationFailure.create({
          type: missing ? AgentChannelFailure.MachineNotFound : AgentChannelFailure.MachineNotActive,
          message: missing ? 'machine not found' : 'machine is retired',
          nonRetryable: true,
        });
      }
      const row = outcome.task;
      // An earlier attempt's result arrived after that attempt timed out: use it, do not redo the step.
      if (row.status === 'completed') return row.result ?? {};
      if (row.status === 'failed' && row.error) throw stepFailure(row.error);
      throw new CompleteAsyncError();
    },
  };
}

export type AgentChannelActivities = ReturnType<typeof createAgentChannelActivities>;
