import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Env } from '../config/env';
import {
  RETENTION_SCHEDULE_ID,
  pruneExpiredDataWorkflowId,
  type PruneExpiredDataInput,
} from '../../workflows/maintenance/contracts';

/**
 * The retention schedule (ADR 0039), created when missing and brought in line with the
 * configuration when it differs: every worker calls this at start, so replicas agree and a changed
 * RETENTION_* setting takes effect with the next deploy. Overlaps are skipped (a long prune is not
 * run twice at once); a missed run is caught up once.
 */
export async function ensureRetentionSchedule(
  client: Client,
  env: Pick<
    Env,
    | 'TEMPORAL_TASK_QUEUE'
    | 'RETENTION_AGENT_TASK_DAYS'
    | 'RETENTION_INTERVAL_MINUTES'
    | 'RETENTION_BATCH_SIZE'
  >,
  scheduleId = RETENTION_SCHEDULE_ID,
): Promise<'created' | 'updated' | 'unchanged'> {
  const input: PruneExpiredDataInput = {
    agentTaskRetentionDays: env.RETENTION_AGENT_TASK_DAYS,
    batchSize: env.RETENTION_BATCH_SIZE,
  };
  const everyMs = env.RETENTION_INTERVAL_MINUTES * 60_000;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'pruneExpiredData',
    workflowId: pruneExpiredDataWorkflowId,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    args: [input],
    workflowExecutionTimeout: '2 hours',
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: everyMs }] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: everyMs },
      memo: { purpose: 'Drydock retention: deletes expired agent tasks and enrollment throttle rows' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(scheduleId);
  const now = await handle.describe();
  const every = now.spec.intervals?.[0]?.every;
  const same =
    now.spec.intervals?.length === 1 &&
    Number(every) === everyMs &&
    now.action.type === 'startWorkflow' &&
    now.action.taskQueue === action.taskQueue &&
    JSON.stringify(now.action.args) === JSON.stringify(action.args);
  if (same) return 'unchanged';
  await handle.update((previous) => ({
    ...previous,
    spec: { intervals: [{ every: everyMs }] },
    action,
    policies: { ...previous.policies, overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: everyMs },
  }));
  return 'updated';
}
