import type { ActivityOptions } from '@temporalio/workflow';

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
