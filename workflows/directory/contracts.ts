import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DirectoryDiscoverResult, DirectoryEnumeratePayload } from '../../infra/wire/agent-steps';

/**
 * Site onboarding's directory workflows (issue 15, docs/onboarding.md, ADR 0042): `discoverSite`
 * finds the site's AD domain through its gateway, waits for the one domain credential (tested by a
 * bind before it is accepted) and enumerates; `enumerateDirectory` lists the domain's computers
 * again (on the site's schedule or on demand). Passwords never travel here: a credential is named
 * by its id and resolved by the API into the gateway's claim. Imports nothing from the implementation.
 */
export { CORE_TASK_QUEUE } from '../task-queues';

/** One discovery per site at a time. */
export const discoverSiteWorkflowId = (tenantId: string, siteId: string): string =>
  `discover-site:${tenantId}:${siteId}`;
export const enumerateDirectoryWorkflowId = (tenantId: string, siteId: string): string =>
  `enumerate-directory:${tenantId}:${siteId}`;
export const enumerationScheduleId = (tenantId: string, siteId: string): string =>
  `directory-enumeration:${tenantId}:${siteId}`;

export type DiscoveredDomain = NonNullable<DirectoryDiscoverResult['found']>;

/** How the gateway reaches the domain controller: TLS always (a plain simple bind is refused by signing DCs). */
export interface DirectoryConnection {
  security: 'ldaps' | 'starttls';
  /** PEM of a private CA that issued the DC's certificate. */
  caPem?: string;
  /** SHA-256 of the DC's certificate: accept only that one. */
  pinSha256?: string;
}

export interface DiscoverSiteInput {
  tenantId: string;
  siteId: string;
  /** DNS servers the gateway asks; default: its own. */
  resolvers?: string[];
  /** DNS suffixes to try; default: the gateway's own. */
  searchSuffixes?: string[];
  /** How often the alert is raised again while no credential is accepted. Default 24 hours. */
  reminderSeconds?: number;
  /** How long the gateway may be unreachable per step. Default 1 hour. */
  offlineLimitSeconds?: number;
  /** Re-enumeration's interval for the site's schedule, created once a credential is accepted. Default 24 hours. */
  enumerationIntervalSeconds?: number;
}

export type DiscoveryState =
  | 'discovering'
  | 'awaiting-credential'
  | 'testing-credential'
  | 'enumerating'
  | 'done'
  | 'not-found'
  | 'failed';

export interface DiscoveryProgress {
  state: DiscoveryState;
  gatewayMachineId: string | null;
  domain: DiscoveredDomain | null;
  /** Suffixes tried when nothing was found. */
  tried: string[];
  /** The accepted credential's id and version (never the password). */
  credentialId: string | null;
  credentialVersion: number | null;
  reminders: number;
  lastRefusal: string | null;
  enumeration: EnumerationSummary | null;
  lastError: string | null;
}

/**
 * What an enumeration did, as the API reports it when it merged the gateway's list (ADR 0029); the
 * merge counts are missing when a retried step read the stored result instead.
 */
export interface EnumerationSummary {
  domain: string;
  pages: number;
  computers: number;
  added?: number;
  updated?: number;
  merged?: number;
  disappeared?: number;
  returned?: number;
}

export type DirectoryEndpoint = DirectoryEnumeratePayload['endpoint'];

/** Entered through GraphQL: the candidate's id (stored sealed by the API) and how to reach the DC. */
export interface CredentialEntry {
  credentialId: string;
  connection: DirectoryConnection;
}

export interface CredentialVerdict {
  accepted: boolean;
  /** Why it was refused, in words (no password). */
  reason: string | null;
  version: number | null;
}

/** Tests a candidate credential by a bind through the gateway; it is accepted only if the bind succeeds. */
export const enterCredentialUpdate = defineUpdate<CredentialVerdict, [CredentialEntry]>('enterCredential');
export const discoveryProgressQuery = defineQuery<DiscoveryProgress>('discoveryProgress');

export interface DiscoverSiteResult {
  state: DiscoveryState;
  domain: string | null;
  enumeration: EnumerationSummary | null;
}

export interface EnumerateDirectoryInput {
  tenantId: string;
  siteId: string;
  /** The domain and DC endpoint discovery settled on (no secret: a CA certificate is public). */
  domain: string;
  endpoint: DirectoryEndpoint;
  offlineLimitSeconds?: number;
}

/** Failures a directory workflow ends with (its type in the Temporal UI). */
export enum DirectoryFailure {
  NoGateway = 'NoGateway',
  NoCredential = 'NoCredential',
  NoDomain = 'NoDomain',
}
