import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { DirectoryActivities } from '../../activities/directory/directory-activities';
import { databaseActivity } from '../activity-presets';
import { DirectoryFailure, type EnumerateDirectoryInput, type EnumerationSummary } from './contracts';
import { enumerate, gatewayStep } from './directory-steps';

const db = proxyActivities<DirectoryActivities>(databaseActivity);

/**
 * Lists the site's AD computers again (its schedule, or an operator's "enumerate now"): with the
 * site's current credential, through its current gateway, so a rotated credential or a replaced
 * gateway is picked up by the next run.
 */
export async function enumerateDirectory(input: EnumerateDirectoryInput): Promise<EnumerationSummary> {
  const gateway = await db.siteGateway({ tenantId: input.tenantId, siteId: input.siteId });
  if (!gateway)
    throw ApplicationFailure.create({
      type: DirectoryFailure.NoGateway,
      message: 'the site has no active gateway: give an enrolled machine of the site the gateway role',
      nonRetryable: true,
    });
  const credential = await db.siteCredential({ tenantId: input.tenantId, siteId: input.siteId });
  if (!credential)
    throw ApplicationFailure.create({
      type: DirectoryFailure.NoCredential,
      message: 'the site has no accepted domain credential: enter one (setDomainCredential)',
      nonRetryable: true,
    });
  const step = gatewayStep(input.tenantId, gateway, input.offlineLimitSeconds ?? 3600);
  return enumerate(step, { credentialId: credential.id, domain: input.domain, endpoint: input.endpoint });
}
