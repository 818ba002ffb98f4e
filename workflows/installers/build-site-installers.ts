import { proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { InstallerActivities } from '../../activities/installers/installer-activities';
import { SiteIdKey } from '../search-attributes';
import {
  InstallerFailure,
  installerBuildPhaseQuery,
  type BuildSiteInstallersInput,
  type BuildSiteInstallersResult,
  type InstallerBuildPhase,
} from './contracts';

const { buildSiteInstallerFiles } = proxyActivities<InstallerActivities>({
  summary: 'build and sign the site’s EXE and MSI',
  // A cold build (node.exe from npm, injection, NSIS, MSI, signing) takes about a minute on 2 cores.
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '2 minutes',
  retry: {
    initialInterval: '10 seconds',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: Object.values(InstallerFailure),
  },
});

/**
 * Builds (or finds cached) the signed per-site installers for the site's current enrollment key
 * and this agent version. Query `phase`; the activity's heartbeat says the percentage and stage.
 */
export async function buildSiteInstallers(
  input: BuildSiteInstallersInput,
): Promise<BuildSiteInstallersResult> {
  let phase: InstallerBuildPhase = 'building';
  setHandler(installerBuildPhaseQuery, () => phase);
  upsertSearchAttributes([{ key: SiteIdKey, value: input.siteId }]);
  try {
    const result = await buildSiteInstallerFiles(input);
    phase = 'done';
    return result;
  } catch (err) {
    phase = 'failed';
    throw err;
  }
}
