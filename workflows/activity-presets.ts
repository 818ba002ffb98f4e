import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { AgentChannelFailure } from './machines/contracts';

/**
 * Short database work: quick and idempotent (check, then act). Bookkeeping retries until it
 * succeeds — a database outage of any length delays a run, never fails it — unless it fails
 * permanently (a non-retryable failure: the run itself is wrong). Lesson 18 of STYLE.md.
 */
export const databaseActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
  },
};

/**
 * The same work as a local activity: run by the worker inside the workflow task that asks for it,
 * recorded as one marker event — no activity task on the server and no workflow task of its own.
 * For the per-run database work of provisioning (prepare, record), milliseconds long.
 */
export const databaseLocalActivity: LocalActivityOptions = {
  ...databaseActivity,
  // Retries after this long are scheduled with a timer instead of holding the workflow task.
  localRetryThreshold: '10 seconds',
};

/** How a step is retried and timed on the machine: each kind of work has its own. */
export type AgentStepPolicy = 'check' | 'change' | 'install';

/** How long one delivery of a step may run on the machine, once it has picked the step up. */
export const AGENT_STEP_RUNNING_TIME: Record<AgentStepPolicy, number> = {
  check: 10 * 60,
  change: 20 * 60,
  install: 60 * 60,
};

/**
 * An agent step (dispatchAgentTask, async completion through the agent channel). Two budgets: the
 * machine has `offlineSeconds` to pick the step up (the task's delivery deadline, passed as the
 * activity's `deliverWithinSeconds`), then the step's running time; the schedule-to-close is their
 * sum, so a long install after a long wait still has its whole running time. Each attempt lives as
 * long as the agent heartbeats; delivery retries (offline, a restarted worker or API) are the
 * server's, step failures the workflow's. `summary` names the step in the Temporal UI.
 */
export function agentStepActivity(
  policy: AgentStepPolicy,
  offlineSeconds: number,
  summary?: string,
): ActivityOptions {
  return {
    scheduleToCloseTimeout: `${offlineSeconds + AGENT_STEP_RUNNING_TIME[policy]} seconds`,
    startToCloseTimeout: `${AGENT_STEP_RUNNING_TIME[policy]} seconds`,
    heartbeatTimeout: '2 minutes',
    retry: {
      initialInterval: '1 second',
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: Object.values(AgentChannelFailure),
    },
    ...(summary ? { summary } : {}),
  };
}
