import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { SiteActivities } from '../../activities/sites/site-activities';
import { databaseActivity } from '../activity-presets';
import { SiteIdKey } from '../search-attributes';
import { SiteFailure, type CreateSiteInput, type CreateSiteResult } from './contracts';

const { insertSite } = proxyActivities<SiteActivities>({
  ...databaseActivity,
  retry: { ...databaseActivity.retry, nonRetryableErrorTypes: Object.values(SiteFailure) },
});

/**
 * Creates a site and its audit event. The smallest real workflow: it proves API → Temporal →
 * worker → PostgreSQL, and stays as the wiring test.
 */
export async function createSite(input: CreateSiteInput): Promise<CreateSiteResult> {
  const result = await insertSite(input);
  upsertSearchAttributes([{ key: SiteIdKey, value: result.siteId }]);
  return result;
}
