import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

/** Short database work: quick, safe to retry (activities are idempotent: check, then act). */
export const databaseActivity: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
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

/**
 * One agent step (dispatchAgentTask, completed by the API when the agent answers): the whole wait,
 * offline time included, within `scheduleToCloseSeconds`; each delivery lives as long as the agent
 * heartbeats. Delivery retries are unlimited within that; a step's own failure is the workflow's to
 * retry (`details[0].retryable`). The same shape provisionMachine builds for its steps.
 */
export const agentStepActivity = (
  startToClose: '10 minutes' | '20 minutes' | '60 minutes',
  scheduleToCloseSeconds: number,
  nonRetryableErrorTypes: string[],
): ActivityOptions => ({
  scheduleToCloseTimeout: `${Math.max(1, Math.floor(scheduleToCloseSeconds))} seconds`,
  startToCloseTimeout: startToClose,
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes },
});
