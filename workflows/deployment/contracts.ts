import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Agent push over WinRM (issue 15, docs/onboarding.md step 6, ADR 0043): `deployAgent` installs the
 * site's agent on one discovered host through the site's gateway and waits for that host's
 * enrollment; `deployAgents` runs a window of them. Only ids travel here: the credential is named
 * by id and resolved into the gateway's claim, the installer link is minted there too.
 */
export { CORE_TASK_QUEUE } from '../task-queues';

/** One deployment per host at a time: the enrollment path signals it by this id. */
export const deployAgentWorkflowId = (tenantId: string, hostId: string): string =>
  `deploy-agent:${tenantId}:${hostId}`;
export const deployAgentsWorkflowId = (tenantId: string, siteId: string, requestId: string): string =>
  `deploy-agents:${tenantId}:${siteId}:${requestId}`;

/** How the gateway reaches the hosts, and how long the deployment waits. */
export interface DeploySettings {
  /** HTTPS (5986: NTLM over TLS) instead of HTTP (5985: NTLM with message encryption, the default listener). */
  https?: boolean;
  httpPort?: number;
  httpsPort?: number;
  /** SHA-256 of a self-signed HTTPS listener's certificate. */
  pinSha256?: string;
  /** A host whose last logon is older than this is stale and skipped. Default 90. */
  staleDays?: number;
  /** How long to wait for the installed agent to enroll. Default 1 hour. */
  enrollmentWaitSeconds?: number;
  /** How often to look for the enrollment in the database while waiting (a lost signal). Default 60. */
  enrollmentCheckSeconds?: number;
  /** How long the gateway may be unreachable per step. Default 1 hour. */
  offlineLimitSeconds?: number;
  /** Install attempts on a retryable failure (network, timeout, another install running). Default 3. */
  installAttempts?: number;
}

export interface DeployAgentInput {
  tenantId: string;
  siteId: string;
  hostId: string;
  settings?: DeploySettings;
}

/** Where a host's deployment stands (also kept on its discovered_hosts row: `deploy_state`). */
export type DeploymentState =
  'queued' | 'probing' | 'installing' | 'awaiting-enrollment' | 'deployed' | 'skipped' | 'failed';

export interface DeployAgentResult {
  outcome: 'deployed' | 'skipped';
  machineId: string | null;
  /** Why it was skipped, or what the install did, in words. */
  reason: string;
  /** The agent's service was already running: nothing was installed. */
  alreadyInstalled: boolean;
}

export interface DeployAgentProgress {
  state: DeploymentState;
  host: string | null;
  reason: string | null;
  machineId: string | null;
  installAttempts: number;
}

/** From the enrollment path: a newly enrolled machine of the site has this host's name. */
export const hostEnrolledSignal = defineSignal<[{ machineId: string }]>('hostEnrolled');
export const deployAgentProgressQuery = defineQuery<DeployAgentProgress>('deployAgentProgress');

export interface DeployAgentsInput {
  tenantId: string;
  siteId: string;
  hostIds: string[];
  /** Hosts deployed at once. */
  concurrency: number;
  settings?: DeploySettings;
}

export interface HostOutcome {
  hostId: string;
  outcome: 'deployed' | 'skipped' | 'failed' | 'cancelled';
  reason: string;
  machineId: string | null;
}

export interface DeployAgentsProgress {
  total: number;
  /** Hosts being deployed now. */
  inProgress: number;
  deployed: number;
  skipped: number;
  failed: number;
  hosts: HostOutcome[];
}

export const deployAgentsProgressQuery = defineQuery<DeployAgentsProgress>('deployAgentsProgress');

/** Failures a deployment ends with (its type in the Temporal UI; the step's own type otherwise). */
export enum DeploymentFailure {
  /** The site has no active gateway to reach its LAN from. */
  DeployNoGateway = 'DeployNoGateway',
  /** The site has no accepted domain credential. */
  DeployNoCredential = 'DeployNoCredential',
  /** The site has no built MSI for its current enrollment key. */
  DeployNoInstaller = 'DeployNoInstaller',
  /** The host is not one of the site's discovered hosts. */
  DeployHostNotFound = 'DeployHostNotFound',
  /** The agent was installed but the host did not enroll in time. */
  DeployEnrollmentTimeout = 'DeployEnrollmentTimeout',
}
