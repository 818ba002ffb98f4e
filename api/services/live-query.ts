import {
  QueryNotRegisteredError,
  ServiceError,
  WorkflowNotFoundError,
  type QueryDefinition,
  type WorkflowHandle,
} from '@temporalio/client';
import { ErrorCode, refuse } from './errors';
import type { ServiceContext } from './service-context';

/** An error of the Temporal service itself (unreachable, refused, timed out), not of Drydock. */
export function isTemporalRefusal(err: unknown): boolean {
  return err instanceof ServiceError || (err instanceof Error && err.name === 'ServiceError');
}

/**
 * What a query of a run's workflow gave: its answer; `gone` when the workflow no longer exists
 * (retention) or cannot answer (closed before its handler was set, or its handler failed: the
 * client reports both as QueryNotRegisteredError); `unavailable` when Temporal did not answer
 * (unreachable, or no worker took the query in time). Any other error is Drydock's and is thrown.
 */
export type WorkflowAnswer<T> = { kind: 'answer'; value: T } | { kind: 'gone' } | { kind: 'unavailable' };

export async function askWorkflow<T>(
  ctx: ServiceContext,
  ask: () => Promise<T>,
  budgeted = true,
): Promise<WorkflowAnswer<T>> {
  if (budgeted) ctx.budget?.spend('workflowQueries');
  try {
    return { kind: 'answer', value: await ask() };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || err instanceof QueryNotRegisteredError)
      return { kind: 'gone' };
    if (isTemporalRefusal(err)) return { kind: 'unavailable' };
    throw err;
  }
}

/**
 * A run's live figures for a page field: null when there are none to give, gone or unavailable
 * alike. A page of runs stays readable from its rows while Temporal is down; a live stream
 * (watchFleetRun) tells the two apart and waits out an outage.
 */
export async function liveFigures<T>(ctx: ServiceContext, ask: () => Promise<T>): Promise<T | null> {
  const answer = await askWorkflow(ctx, ask);
  return answer.kind === 'answer' ? answer.value : null;
}

/**
 * One run's live progress and whether it still runs, for a page that shows that run: null when its
 * workflow is gone (or cannot answer); UNAVAILABLE when Temporal did not answer, so the page says
 * "try again" instead of "none was started".
 */
export async function runProgressOf<P extends object>(
  ctx: ServiceContext,
  handle: WorkflowHandle,
  query: QueryDefinition<P>,
): Promise<(P & { running: boolean }) | null> {
  // Both asked at once, and both waited for: a call left behind would go on retrying after the answer.
  const answer = await askWorkflow(ctx, async () => {
    const [description, progress] = await Promise.allSettled([handle.describe(), handle.query(query)]);
    if (description.status === 'rejected') throw description.reason;
    if (progress.status === 'rejected') throw progress.reason;
    return [description.value, progress.value] as const;
  });
  if (answer.kind === 'gone') return null;
  if (answer.kind === 'unavailable')
    throw refuse(ErrorCode.Unavailable, 'Temporal did not answer for this run; try again shortly');
  const [description, progress] = answer.value;
  return { ...progress, running: description.status.name === 'RUNNING' };
}
