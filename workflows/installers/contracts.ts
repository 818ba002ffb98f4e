import { defineQuery } from '@temporalio/workflow';

/**
 * The installers domain: building a site's signed EXE and MSI (docs/installers.md). Inputs and
 * results carry ids, versions and hashes only; the enrollment key never enters a workflow.
 */
export { CORE_TASK_QUEUE } from '../task-queues';

/** One build per (site, agent version, key version): a second request joins the first. */
export const buildSiteInstallersWorkflowId = (
  siteId: string,
  agentVersion: string,
  keyVersion: number,
): string => `build-site-installers:${siteId}:${agentVersion}:v${keyVersion}`;

export interface BuildSiteInstallersInput {
  tenantId: string;
  siteId: string;
  /** The key version the build is for: a rotation before it finishes fails it (KeyNotAvailable). */
  keyVersion: number;
}

export interface InstallerFileSummary {
  kind: 'exe' | 'msi';
  fileName: string;
  sha256: string;
  sizeBytes: number;
}

export interface BuildSiteInstallersResult {
  /** True when this agent version and key already had installers and nothing was built. */
  cached: boolean;
  agentVersion: string;
  fingerprint: string;
  installers: InstallerFileSummary[];
}

/** Heartbeat details of the build activity: how far it is. */
export interface InstallerBuildHeartbeat {
  percent: number;
  stage: string;
}

export type InstallerBuildPhase = 'building' | 'done' | 'failed';
export const installerBuildPhaseQuery = defineQuery<InstallerBuildPhase>('phase');

/** Failure types of the build activity; all but ToolFailed are permanent. */
export enum InstallerFailure {
  KeyNotAvailable = 'INSTALLER_KEY_NOT_AVAILABLE',
  SigningNotConfigured = 'INSTALLER_SIGNING_NOT_CONFIGURED',
  BadSiteConfig = 'INSTALLER_BAD_SITE_CONFIG',
  ToolMissing = 'INSTALLER_TOOL_MISSING',
  NodeIntegrity = 'INSTALLER_NODE_INTEGRITY',
  SignatureInvalid = 'INSTALLER_SIGNATURE_INVALID',
}
