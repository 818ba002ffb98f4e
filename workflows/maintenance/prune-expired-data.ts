import { proxyActivities } from '@temporalio/workflow';
import type { MaintenanceActivities } from '../../activities/maintenance/maintenance-activities';
import { databaseActivity } from '../activity-presets';
import type { PruneExpiredDataInput, PruneExpiredDataResult } from './contracts';

const { pruneExpiredRows } = proxyActivities<MaintenanceActivities>({
  ...databaseActivity,
  // Batches until nothing expired is left; it heartbeats after each, and resumes its totals from there.
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
});

/**
 * Deletes what has expired (ADR 0039), batch by batch, on the retention schedule. One activity:
 * the loop lives in it so a backlog of a million rows costs the history one event, not thousands.
 */
export async function pruneExpiredData(input: PruneExpiredDataInput): Promise<PruneExpiredDataResult> {
  return pruneExpiredRows(input);
}
