import { randomUUID } from 'node:crypto';
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { context, propagation } from '@opentelemetry/api';
import { dispatchTask, recordTaskTrace } from '../../infra/db/agent-tasks';
import { escrowCompletionOf } from '../../infra/db/escrow';
import { withTenant, type Orm } from '../../infra/db/orm';
import { ESCROW_STEP_KINDS, isEscrowStepKind, StepKind, type TaskResult } from '../../infra/wire/agent-steps';
import { checkStepResult, isStepResult } from '../../infra/wire/step-results';
import { AgentChannelFailure, stepFailure, type AgentTaskInput } from '../../workflows/machines/contracts';

/**
 * The agent channel's server side: a dispatch stores the task with this attempt's task token,
 * wakes the long-polls, and completes asynchronously — the API completes the activity when the
 * agent posts its result (ARCHITECTURE: "How an activity reaches a Windows machine").
 */
export function createAgentChannelActivities(deps: { orm: Orm }) {
  return {
    async dispatchAgentTask<K extends StepKind>(input: AgentTaskInput<K>): Promise<TaskResult<K>> {
      const { info } = Context.current();
      const { workflowId, runId } = info.workflowExecution!;
      // Stable across retries of this activity, and this run's own: a reset's new run (same
      // workflow id, same activity ids) never gets the old run's results. The agent journals by it.
      const idempotencyKey = `${workflowId}:${runId}:${info.activityId}`;
      // Both budgets count from the activity's first schedule, not from this attempt's.
      // Without a delivery limit of its own, a task may wait for delivery as long as it may live.
      const firstScheduled = info.scheduledTimestampMs;
      const lifetimeMs = info.scheduleToCloseTimeoutMs || 24 * 3600_000;
      const deliverWithinMs = input.deliverWithinSeconds ? input.deliverWithinSeconds * 1000 : lifetimeMs;
      const deliverBy = new Date(firstScheduled + deliverWithinMs);
      const expiresAt = new Date(firstScheduled + lifetimeMs);
      const outcome = await dispatchTask(deps.orm, {
        tenantId: input.tenantId,
        machineId: input.machineId,
        id: randomUUID(),
        kind: input.kind,
        payload: input.payload,
        idempotencyKey,
        workflowId,
        runId,
        activityId: info.activityId,
        taskToken: info.taskToken,
        attempt: info.attempt,
        deliverBy,
        expiresAt,
        ...(input.run ? { run: { ...input.run, status: input.run.status ?? 'running' } } : {}),
      });
      if (!('task' in outcome)) {
        const missing = outcome.machine === 'missing';
        throw permanent(
          missing ? AgentChannelFailure.MachineNotFound : AgentChannelFailure.MachineNotActive,
          missing ? 'machine not found' : 'machine is retired',
        );
      }
      const row = outcome.task;
      // Tracing on: the task keeps this activity's trace, where the API puts the machine's work.
      if (row.status === 'queued' || row.status === 'delivered') {
        const carrier: Record<string, string> = {};
        propagation.inject(context.active(), carrier);
        if (carrier.traceparent)
          await recordTaskTrace(deps.orm, input.tenantId, idempotencyKey, carrier.traceparent);
      }
      switch (row.status) {
        // An earlier attempt's result arrived after that attempt timed out: use it, do not redo the step.
        // The API stored it only if it fit the kind's schema (infra/wire/step-results.ts).
        case 'completed':
          if (isStepResult(input.kind, row.result)) {
            // An enumeration's computers stay in the database (the API merged them when they were
            // posted, ADR 0029): the history gets their number, as the API's completion gives it.
            if (input.kind === StepKind.DirectoryEnumerate) {
              const listed = row.result as unknown as TaskResult<StepKind.DirectoryEnumerate>;
              return {
                domain: listed.domain,
                pages: listed.pages,
                computers: listed.computers.length,
              } as unknown as TaskResult<K>;
            }
            // An escrow's envelope stays in the database (the API stored it when it was posted, ADR 0044).
            const stepKind: string = input.kind;
            if (isEscrowStepKind(stepKind)) {
              const posted = row.result as unknown as TaskResult<StepKind.LocalAdminEscrow>;
              const stored = await withTenant(deps.orm, input.tenantId, (em) =>
                escrowCompletionOf(em, {
                  tenantId: input.tenantId,
                  machineId: input.machineId,
                  kind: ESCROW_STEP_KINDS[stepKind],
                  secretVersion: posted.secretVersion,
                }),
              );
              if (!stored)
                throw permanent(
                  AgentChannelFailure.ResultInvalid,
                  'the escrowed secret of this step is not stored',
                );
              return stored as unknown as TaskResult<K>;
            }
            return row.result;
          }
          throw permanent(
            AgentChannelFailure.ResultInvalid,
            `the stored ${input.kind} result does not fit its schema: ${checkStepResult(input.kind, row.result)}`,
          );
        case 'failed':
          if (row.error) throw stepFailure(row.error);
          break;
        case 'undelivered':
          throw permanent(
            AgentChannelFailure.MachineUnreachable,
            `the machine did not pick up the step within ${Math.round(deliverWithinMs / 1000)} s (offline, or switched off)`,
          );
        case 'abandoned':
          throw permanent(AgentChannelFailure.TaskAbandoned, 'the step was abandoned: its run has ended');
        case 'conflict':
          throw permanent(
            AgentChannelFailure.TaskKeyConflict,
            `another kind of task holds the idempotency key ${idempotencyKey}; not dispatched`,
          );
      }
      throw new CompleteAsyncError();
    },
  };
}

const permanent = (type: AgentChannelFailure, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true });

export type AgentChannelActivities = ReturnType<typeof createAgentChannelActivities>;
