/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type AddManualHostInput = {
  /** Its DNS host name; an enumeration matches it by this name. */
  dnsName?: string | null | undefined;
  name: string;
  os?: string | null | undefined;
  siteId: string | number;
};

export type AlertKind =
  | 'DirectoryCredentialNeeded'
  | 'DirectoryNoGateway'
  | 'DirectoryNotFound'
  | 'EscrowRotationFailed'
  | 'FleetRunLostSignals'
  | 'MachineCollision'
  | 'MachineEnrolled'
  | 'MachineMoveRequested'
  | 'MachineReenrollmentUnverified'
  | 'MachineSiteMoved'
  | 'MigrationRollbackFailed';

export type BrandingInput = {
  accentColor: string;
  displayName: string;
  logoUrl?: string | null | undefined;
};

export type DeployAgentsInput = {
  /** Hosts deployed at once (1–50, default 5). */
  concurrency?: number | null | undefined;
  /** Discovered hosts of the site (1–1000). */
  hostIds: Array<string | number>;
  /** WinRM over HTTPS (5986) instead of HTTP with NTLM message encryption (5985, default). */
  https?: boolean | null | undefined;
  /** The hosts’ WinRM listener port when it is not the default (5985 HTTP, 5986 HTTPS). */
  port?: number | null | undefined;
  siteId: string | number;
};

export type EscrowKind =
  | 'BITLOCKER_RECOVERY_PASSWORD'
  | 'LOCAL_ADMIN_PASSWORD';

export type FleetRunStartInput = {
  clientIds?: Array<string | number> | null | undefined;
  /** Machines at once (1–1000). */
  concurrency?: number | null | undefined;
  machineIds?: Array<string | number> | null | undefined;
  /** A saved profile version. */
  profileId: string | number;
  siteIds?: Array<string | number> | null | undefined;
  /** Machine labels that must all match, as key=value. */
  tags?: Array<string> | null | undefined;
};

/** Machines by status, or Online/Offline: active machines whose agent was heard from in the last 5 minutes, or not. */
export type MachineFilter =
  | 'Active'
  | 'Offline'
  | 'Online'
  | 'Pending'
  | 'Retired';

export type MachineSort =
  | 'AgentVersion'
  | 'Hostname'
  | 'LastSeen'
  | 'Site'
  | 'Status';

export type MachineStatus =
  | 'Active'
  | 'Pending'
  | 'Retired';

export type MigrationTargetInput = {
  /** local, domain or entra. */
  kind: string;
  /** local: the account name; domain: DOMAIN\name. */
  name?: string | null | undefined;
  /** entra: the user’s object id (its SID is derived from it). */
  objectId?: string | null | undefined;
  /** entra: the tenant the machine must be joined to. */
  tenantId?: string | null | undefined;
  upn?: string | null | undefined;
};

/** What an operator is asked to decide about a machine. */
export type PendingKind =
  | 'Collision'
  | 'Move'
  | 'Unverified';

export type ProfileLayerScope =
  | 'CLIENT'
  | 'MACHINE'
  | 'SITE'
  | 'TENANT';

export type RewrappedSecretInput = {
  /** The `dde1` envelope sealed to the current key. */
  envelope: string;
  id: string | number;
};

export type RunControl =
  | 'CANCEL'
  | 'PAUSE'
  | 'RESUME';

export type SetJoinCredentialInput = {
  /** The domain’s DNS name (contoso.com). */
  domain: string;
  password: string;
  siteId: string | number;
  /** DOMAIN\user or user@domain: an account that may create computer objects in the join OU, nothing more. */
  user: string;
};

export type SetupEscrowKeyInput = {
  keyVersion: number;
  publicKey: string;
  /** The `ddk1` blob made in the browser. */
  wrappedPrivateKey: string;
};

export type StartProfileMigrationInput = {
  copyGroups?: boolean | null | undefined;
  excludeDirs?: Array<string> | null | undefined;
  machineId: string | number;
  /** in-place, copy or cloud (docs/migration.md). */
  mode: string;
  oneDriveTenantId?: string | null | undefined;
  /** keep, disable or delete the old account (after approval). */
  retire?: string | null | undefined;
  /** A SID or an account name (name, DOMAIN\name). */
  source: string;
  target: MigrationTargetInput;
};

export type SubmitRewrappedSecretsInput = {
  secrets: Array<RewrappedSecretInput>;
};

export type EscrowWrappedKeyQueryVariables = Exact<{
  keyVersion?: number | null | undefined;
}>;


export type EscrowWrappedKeyQuery = { escrowKey: { keyVersion: number, wrappedPrivateKey: string | null } | null };

export type AuditQueryVariables = Exact<{ [key: string]: never; }>;


export type AuditQuery = { auditEvents: Array<{ seq: string, occurredAt: string, actor: string, action: string, subjectType: string, subjectId: string, hash: string }> };

export type VerifyAuditChainQueryVariables = Exact<{ [key: string]: never; }>;


export type VerifyAuditChainQuery = { auditChain: { ok: boolean, events: number, headSeq: string | null, brokenAtSeq: string | null, problem: string | null } };

export type DashboardQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardQuery = { clients: Array<{ id: string, name: string, sites: Array<{ id: string, name: string, code: string }> }>, machineCounts: Array<{ siteId: string, online: number, offline: number, pending: number, retired: number }>, fleetRuns: Array<{ id: string, status: string, createdAt: string, total: number, passed: number, failed: number, cancelled: number }>, alerts: Array<{ id: string, kind: AlertKind, message: string, createdAt: string }> };

export type EscrowKeyStatusQueryVariables = Exact<{ [key: string]: never; }>;


export type EscrowKeyStatusQuery = { escrowKey: { keyVersion: number, publicKey: string, fingerprint: string, kdfName: string, kdfIterations: number, createdBy: string, createdAt: string } | null };

export type EscrowKeyVersionsQueryVariables = Exact<{ [key: string]: never; }>;


export type EscrowKeyVersionsQuery = { escrowKeys: Array<{ keyVersion: number, fingerprint: string, createdBy: string, createdAt: string, retiredAt: string | null, destroyedAt: string | null, sealedSecrets: number }> };

export type EscrowRewrapBatchMutationVariables = Exact<{
  limit?: number | null | undefined;
}>;


export type EscrowRewrapBatchMutation = { escrowRewrapBatch: { toKeyVersion: number, remaining: number, secrets: Array<{ id: string, machineId: string, kind: EscrowKind, secretVersion: number, keyVersion: number, envelope: string }> } };

export type SubmitRewrappedSecretsMutationVariables = Exact<{
  input: SubmitRewrappedSecretsInput;
}>;


export type SubmitRewrappedSecretsMutation = { submitRewrappedSecrets: { stored: number, remaining: number, toKeyVersion: number } };

export type DestroyEscrowKeyMutationVariables = Exact<{
  keyVersion: number;
}>;


export type DestroyEscrowKeyMutation = { destroyEscrowKey: { keyVersion: number, destroyedAt: string | null } };

export type SetupEscrowKeyMutationVariables = Exact<{
  input: SetupEscrowKeyInput;
}>;


export type SetupEscrowKeyMutation = { setupEscrowKey: { keyVersion: number, fingerprint: string } };

export type EscrowKeyForRecoveryQueryVariables = Exact<{
  keyVersion?: number | null | undefined;
}>;


export type EscrowKeyForRecoveryQuery = { escrowKey: { keyVersion: number, publicKey: string, fingerprint: string, retiredAt: string | null } | null };

export type ReplaceWrappedEscrowKeyMutationVariables = Exact<{
  keyVersion: number;
  wrappedPrivateKey: string;
}>;


export type ReplaceWrappedEscrowKeyMutation = { replaceWrappedEscrowKey: { keyVersion: number, fingerprint: string } };

export type SiteJoinCredentialQueryVariables = Exact<{
  siteId: string | number;
}>;


export type SiteJoinCredentialQuery = { siteJoinCredential: { domain: string, user: string, version: number | null } | null };

export type SetJoinCredentialMutationVariables = Exact<{
  input: SetJoinCredentialInput;
}>;


export type SetJoinCredentialMutation = { setJoinCredential: { domain: string, user: string, version: number | null } };

export type MachineDetailQueryVariables = Exact<{
  id: string | number;
}>;


export type MachineDetailQuery = { machine: { id: string, hostname: string, machineUid: string, status: MachineStatus, pendingKind: PendingKind | null, pendingReason: string | null, replacesMachineId: string | null, siteId: string, agentVersion: string | null, lastSeenAt: string | null, createdAt: string, inventoryJson: string | null, autopilotHashCsv: string | null, requestedBy: { at: string, hostname: string, sourceIp: string, siteCode: string, keyVersion: number } | null } | null, machineRuns: Array<{ id: string, status: string, phase: string | null, step: string | null, attempt: number, profileVersion: number | null, startedAt: string | null, finishedAt: string | null, lastError: { code: string, sentence: string } | null }>, sites: Array<{ id: string, code: string, name: string }> };

export type ApproveMachineMutationVariables = Exact<{
  id: string | number;
  asReplacement?: boolean | null | undefined;
}>;


export type ApproveMachineMutation = { approveMachine: { id: string, status: MachineStatus } };

export type RejectMachineMutationVariables = Exact<{
  id: string | number;
}>;


export type RejectMachineMutation = { rejectMachine: { id: string, status: MachineStatus } };

export type RevokeAgentKeyMutationVariables = Exact<{
  machineId: string | number;
}>;


export type RevokeAgentKeyMutation = { revokeAgentKey: number };

export type EscrowedSecretsQueryVariables = Exact<{
  machineId: string | number;
}>;


export type EscrowedSecretsQuery = { escrowedSecrets: Array<{ id: string, kind: EscrowKind, secretVersion: number, keyVersion: number, account: string | null, protectorId: string | null, createdAt: string, confirmedAt: string | null, reveals: Array<{ actor: string, at: string }> }> };

export type RevealSecretMutationVariables = Exact<{
  id: string | number;
}>;


export type RevealSecretMutation = { revealSecret: { id: string, tenantId: string, machineId: string, kind: EscrowKind, secretVersion: number, keyVersion: number, envelope: string } };

export type MachinesQueryVariables = Exact<{
  first?: number | null | undefined;
  offset?: number | null | undefined;
  search?: string | null | undefined;
  filter?: MachineFilter | null | undefined;
  siteId?: string | number | null | undefined;
  sort?: MachineSort | null | undefined;
  descending?: boolean | null | undefined;
}>;


export type MachinesQuery = { machinePage: { total: number, machines: Array<{ id: string, hostname: string, status: MachineStatus, pendingKind: PendingKind | null, siteId: string, lastSeenAt: string | null, agentVersion: string | null }> }, sites: Array<{ id: string, code: string, name: string }> };

export type MigrationsQueryVariables = Exact<{
  machineId?: string | number | null | undefined;
}>;


export type MigrationsQuery = { profileMigrations: Array<{ id: string, machineId: string, batchId: string | null, mode: string, source: string, targetJson: string, targetSid: string | null, retire: string, status: string, state: string, updatedAt: string, finishedAt: string | null, lastError: { code: string, sentence: string, message: string } | null }>, machines: Array<{ id: string, hostname: string, status: MachineStatus }> };

export type MigrationBatchQueryVariables = Exact<{
  id: string | number;
}>;


export type MigrationBatchQuery = { profileMigrationBatch: { id: string, mode: string, status: string, total: number, concurrency: number, running: number | null, createdBy: string, createdAt: string, finishedAt: string | null, counts: Array<{ status: string, count: number }>, migrations: Array<{ id: string, machineId: string, batchId: string | null, mode: string, source: string, targetJson: string, targetSid: string | null, retire: string, status: string, state: string, updatedAt: string, finishedAt: string | null, lastError: { code: string, sentence: string, message: string } | null }> } | null };

export type MigrationQueryVariables = Exact<{
  id: string | number;
}>;


export type MigrationQuery = { profileMigration: { id: string, machineId: string, batchId: string | null, workflowId: string, mode: string, source: string, targetJson: string, sourceSid: string | null, targetSid: string | null, retire: string, status: string, state: string, backupChecksum: string | null, restored: Array<string>, createdBy: string, updatedAt: string, finishedAt: string | null, notMovable: Array<{ item: string, reason: string }>, lastError: { type: string, code: string, sentence: string, message: string } | null } | null };

export type StartProfileMigrationMutationVariables = Exact<{
  input: StartProfileMigrationInput;
}>;


export type StartProfileMigrationMutation = { startProfileMigration: { id: string, status: string } };

export type DecideProfileMigrationMutationVariables = Exact<{
  id: string | number;
  decision: string;
}>;


export type DecideProfileMigrationMutation = { decideProfileMigration: { id: string } };

export type CancelProfileMigrationMutationVariables = Exact<{
  id: string | number;
}>;


export type CancelProfileMigrationMutation = { cancelProfileMigration: boolean };

export type PasswordRotationScheduleQueryVariables = Exact<{
  id: string | number;
}>;


export type PasswordRotationScheduleQuery = { passwordRotationSchedule: { scheduleId: string, intervalDays: number, nextRunAt: string | null } | null };

export type SetPasswordRotationScheduleMutationVariables = Exact<{
  id: string | number;
  intervalDays?: number | null | undefined;
}>;


export type SetPasswordRotationScheduleMutation = { setPasswordRotationSchedule: { scheduleId: string, intervalDays: number, nextRunAt: string | null } | null };

export type RotateSitePasswordsMutationVariables = Exact<{
  id: string | number;
}>;


export type RotateSitePasswordsMutation = { rotateLocalAdminPasswords: { workflowId: string } };

export type ProfilesQueryVariables = Exact<{ [key: string]: never; }>;


export type ProfilesQuery = { profiles: Array<{ id: string, name: string, version: number, createdAt: string, createdBy: string, documentJson: string, resolvedJson: string }>, clients: Array<{ id: string, name: string, sites: Array<{ id: string, code: string }> }> };

export type ValidateProfileQueryVariables = Exact<{
  documentJson: string;
}>;


export type ValidateProfileQuery = { validateProfile: Array<{ path: string, message: string, code: string | null }> };

export type SaveProfileMutationVariables = Exact<{
  name: string;
  documentJson: string;
}>;


export type SaveProfileMutation = { saveProfile: { id: string, version: number } };

export type SetProfileLayerMutationVariables = Exact<{
  scope: ProfileLayerScope;
  id?: string | number | null | undefined;
  documentJson: string;
}>;


export type SetProfileLayerMutation = { setProfileLayer: boolean };

export type FleetRunsQueryVariables = Exact<{ [key: string]: never; }>;


export type FleetRunsQuery = { fleetRuns: Array<{ id: string, status: string, createdAt: string, createdBy: string, finishedAt: string | null, total: number, passed: number, failed: number, cancelled: number, skipped: number, concurrency: number, profileId: string }>, profiles: Array<{ id: string, name: string, version: number }> };

export type RunWizardQueryVariables = Exact<{ [key: string]: never; }>;


export type RunWizardQuery = { clients: Array<{ id: string, name: string, sites: Array<{ id: string, code: string, name: string }> }>, machines: Array<{ id: string, hostname: string, siteId: string, status: MachineStatus }>, profiles: Array<{ id: string, name: string, version: number, createdAt: string }> };

export type StartFleetRunMutationVariables = Exact<{
  input: FleetRunStartInput;
}>;


export type StartFleetRunMutation = { startFleetRun: { id: string, total: number, skipped: number } };

export type FleetRunQueryVariables = Exact<{
  id: string | number;
}>;


export type FleetRunQuery = { fleetRun: { id: string, status: string, workflowId: string, createdAt: string, createdBy: string, finishedAt: string | null, concurrency: number, total: number, passed: number, failed: number, cancelled: number, skipped: number, progress: { state: string, total: number, queued: number, running: number, passed: number, failed: number, cancelled: number, paused: boolean } | null, machineRuns: Array<{ id: string, seq: number | null, machineId: string, status: string, phase: string | null, step: string | null, attempt: number, hostname: string | null, lastError: { code: string, sentence: string } | null }> } | null };

export type FleetRunProgressFeedSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type FleetRunProgressFeedSubscription = { fleetRunProgress: { state: string, total: number, queued: number, running: number, passed: number, failed: number, cancelled: number, paused: boolean, batches: number, closedInTemporal: number, lateSignals: number, recovered: number } };

export type ControlFleetRunMutationVariables = Exact<{
  id: string | number;
  action: RunControl;
}>;


export type ControlFleetRunMutation = { controlFleetRun: { id: string, status: string } };

export type MachineRunQueryVariables = Exact<{
  id: string | number;
}>;


export type MachineRunQuery = { machineRun: { id: string, machineId: string, fleetRunId: string | null, workflowId: string, status: string, phase: string | null, step: string | null, attempt: number, profileVersion: number | null, startedAt: string | null, finishedAt: string | null, progressJson: string | null, lastError: { code: string, type: string, sentence: string, message: string, step: string | null } | null, validation: Array<{ item: string, result: string, detail: string }> } | null };

export type RetryMachineRunMutationVariables = Exact<{
  id: string | number;
  fromStep?: string | null | undefined;
  refreshConfig?: boolean | null | undefined;
}>;


export type RetryMachineRunMutation = { retryMachineRun: string };

export type ControlMachineRunMutationVariables = Exact<{
  id: string | number;
  action: RunControl;
}>;


export type ControlMachineRunMutation = { controlMachineRun: { id: string, status: string } };

export type RotateBitLockerRecoveryPasswordMutationVariables = Exact<{
  machineId: string | number;
}>;


export type RotateBitLockerRecoveryPasswordMutation = { rotateBitLockerRecoveryPassword: { workflowId: string, joined: boolean } };

export type RotateLocalAdminPasswordMutationVariables = Exact<{
  machineId: string | number;
}>;


export type RotateLocalAdminPasswordMutation = { rotateLocalAdminPassword: { workflowId: string, joined: boolean } };

export type UpdateBrandingMutationVariables = Exact<{
  input: BrandingInput;
}>;


export type UpdateBrandingMutation = { updateBranding: { displayName: string, logoUrl: string | null, accentColor: string } };

export type SiteDiscoveryPageQueryVariables = Exact<{
  siteId: string | number;
}>;


export type SiteDiscoveryPageQuery = { site: { id: string, code: string, name: string } | null, siteDiscovery: { workflowId: string, running: boolean, state: string, tried: Array<string>, credentialVersion: number | null, reminders: number, lastRefusal: string | null, lastError: string | null, domain: { domain: string, site: string | null, certificateSha256: string | null, domainControllers: Array<{ host: string, addresses: Array<string> }> } | null, enumeration: { computers: number, added: number | null, updated: number | null, disappeared: number | null } | null } | null, discoveredHosts: Array<{ id: string, source: string, name: string, dnsName: string | null, os: string | null, role: string | null, enabled: boolean | null, lastLogonAt: string | null, machineId: string | null, disappearedAt: string | null, deployState: string | null, deployReason: string | null }> };

export type StartSiteDiscoveryMutationVariables = Exact<{
  siteId: string | number;
  resolvers?: Array<string> | string | null | undefined;
  searchSuffixes?: Array<string> | string | null | undefined;
}>;


export type StartSiteDiscoveryMutation = { startSiteDiscovery: { state: string } };

export type EnumerateDirectoryNowMutationVariables = Exact<{
  siteId: string | number;
}>;


export type EnumerateDirectoryNowMutation = { enumerateDirectoryNow: boolean };

export type AddManualHostMutationVariables = Exact<{
  input: AddManualHostInput;
}>;


export type AddManualHostMutation = { addManualHost: { id: string } };

export type DeployAgentsMutationVariables = Exact<{
  input: DeployAgentsInput;
}>;


export type DeployAgentsMutation = { deployAgents: { workflowId: string, total: number } };

export type SitesQueryVariables = Exact<{ [key: string]: never; }>;


export type SitesQuery = { clients: Array<{ id: string, name: string }>, sites: Array<{ id: string, clientId: string, code: string, name: string, enrollmentFingerprint: string | null }>, pending: Array<{ id: string, hostname: string, status: MachineStatus, siteId: string, pendingKind: PendingKind | null, pendingReason: string | null, replacesMachineId: string | null, requestedBy: { at: string, hostname: string, sourceIp: string, siteCode: string, keyVersion: number } | null }> };

export type RotateKeyMutationVariables = Exact<{
  siteId: string | number;
}>;


export type RotateKeyMutation = { rotateEnrollmentKey: { siteId: string, version: number, fingerprint: string, key: string | null } };

export type ApprovePendingMutationVariables = Exact<{
  id: string | number;
  asReplacement?: boolean | null | undefined;
}>;


export type ApprovePendingMutation = { approveMachine: { id: string, status: MachineStatus } };

export type RejectPendingMutationVariables = Exact<{
  id: string | number;
}>;


export type RejectPendingMutation = { rejectMachine: { id: string, status: MachineStatus } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const EscrowWrappedKeyDocument = new TypedDocumentString(`
    query EscrowWrappedKey($keyVersion: Int) {
  escrowKey(keyVersion: $keyVersion) {
    keyVersion
    wrappedPrivateKey
  }
}
    `) as unknown as TypedDocumentString<EscrowWrappedKeyQuery, EscrowWrappedKeyQueryVariables>;
export const AuditDocument = new TypedDocumentString(`
    query Audit {
  auditEvents(last: 500) {
    seq
    occurredAt
    actor
    action
    subjectType
    subjectId
    hash
  }
}
    `) as unknown as TypedDocumentString<AuditQuery, AuditQueryVariables>;
export const VerifyAuditChainDocument = new TypedDocumentString(`
    query VerifyAuditChain {
  auditChain {
    ok
    events
    headSeq
    brokenAtSeq
    problem
  }
}
    `) as unknown as TypedDocumentString<VerifyAuditChainQuery, VerifyAuditChainQueryVariables>;
export const DashboardDocument = new TypedDocumentString(`
    query Dashboard {
  clients {
    id
    name
    sites {
      id
      name
      code
    }
  }
  machineCounts {
    siteId
    online
    offline
    pending
    retired
  }
  fleetRuns(first: 100) {
    id
    status
    createdAt
    total
    passed
    failed
    cancelled
  }
  alerts(last: 10) {
    id
    kind
    message
    createdAt
  }
}
    `) as unknown as TypedDocumentString<DashboardQuery, DashboardQueryVariables>;
export const EscrowKeyStatusDocument = new TypedDocumentString(`
    query EscrowKeyStatus {
  escrowKey {
    keyVersion
    publicKey
    fingerprint
    kdfName
    kdfIterations
    createdBy
    createdAt
  }
}
    `) as unknown as TypedDocumentString<EscrowKeyStatusQuery, EscrowKeyStatusQueryVariables>;
export const EscrowKeyVersionsDocument = new TypedDocumentString(`
    query EscrowKeyVersions {
  escrowKeys {
    keyVersion
    fingerprint
    createdBy
    createdAt
    retiredAt
    destroyedAt
    sealedSecrets
  }
}
    `) as unknown as TypedDocumentString<EscrowKeyVersionsQuery, EscrowKeyVersionsQueryVariables>;
export const EscrowRewrapBatchDocument = new TypedDocumentString(`
    mutation EscrowRewrapBatch($limit: Int) {
  escrowRewrapBatch(limit: $limit) {
    toKeyVersion
    remaining
    secrets {
      id
      machineId
      kind
      secretVersion
      keyVersion
      envelope
    }
  }
}
    `) as unknown as TypedDocumentString<EscrowRewrapBatchMutation, EscrowRewrapBatchMutationVariables>;
export const SubmitRewrappedSecretsDocument = new TypedDocumentString(`
    mutation SubmitRewrappedSecrets($input: SubmitRewrappedSecretsInput!) {
  submitRewrappedSecrets(input: $input) {
    stored
    remaining
    toKeyVersion
  }
}
    `) as unknown as TypedDocumentString<SubmitRewrappedSecretsMutation, SubmitRewrappedSecretsMutationVariables>;
export const DestroyEscrowKeyDocument = new TypedDocumentString(`
    mutation DestroyEscrowKey($keyVersion: Int!) {
  destroyEscrowKey(keyVersion: $keyVersion) {
    keyVersion
    destroyedAt
  }
}
    `) as unknown as TypedDocumentString<DestroyEscrowKeyMutation, DestroyEscrowKeyMutationVariables>;
export const SetupEscrowKeyDocument = new TypedDocumentString(`
    mutation SetupEscrowKey($input: SetupEscrowKeyInput!) {
  setupEscrowKey(input: $input) {
    keyVersion
    fingerprint
  }
}
    `) as unknown as TypedDocumentString<SetupEscrowKeyMutation, SetupEscrowKeyMutationVariables>;
export const EscrowKeyForRecoveryDocument = new TypedDocumentString(`
    query EscrowKeyForRecovery($keyVersion: Int) {
  escrowKey(keyVersion: $keyVersion) {
    keyVersion
    publicKey
    fingerprint
    retiredAt
  }
}
    `) as unknown as TypedDocumentString<EscrowKeyForRecoveryQuery, EscrowKeyForRecoveryQueryVariables>;
export const ReplaceWrappedEscrowKeyDocument = new TypedDocumentString(`
    mutation ReplaceWrappedEscrowKey($keyVersion: Int!, $wrappedPrivateKey: String!) {
  replaceWrappedEscrowKey(
    keyVersion: $keyVersion
    wrappedPrivateKey: $wrappedPrivateKey
  ) {
    keyVersion
    fingerprint
  }
}
    `) as unknown as TypedDocumentString<ReplaceWrappedEscrowKeyMutation, ReplaceWrappedEscrowKeyMutationVariables>;
export const SiteJoinCredentialDocument = new TypedDocumentString(`
    query SiteJoinCredential($siteId: ID!) {
  siteJoinCredential(siteId: $siteId) {
    domain
    user
    version
  }
}
    `) as unknown as TypedDocumentString<SiteJoinCredentialQuery, SiteJoinCredentialQueryVariables>;
export const SetJoinCredentialDocument = new TypedDocumentString(`
    mutation SetJoinCredential($input: SetJoinCredentialInput!) {
  setJoinCredential(input: $input) {
    domain
    user
    version
  }
}
    `) as unknown as TypedDocumentString<SetJoinCredentialMutation, SetJoinCredentialMutationVariables>;
export const MachineDetailDocument = new TypedDocumentString(`
    query MachineDetail($id: ID!) {
  machine(id: $id) {
    id
    hostname
    machineUid
    status
    pendingKind
    pendingReason
    replacesMachineId
    siteId
    agentVersion
    lastSeenAt
    createdAt
    inventoryJson
    autopilotHashCsv
    requestedBy {
      at
      hostname
      sourceIp
      siteCode
      keyVersion
    }
  }
  machineRuns(machineId: $id) {
    id
    status
    phase
    step
    attempt
    profileVersion
    startedAt
    finishedAt
    lastError {
      code
      sentence
    }
  }
  sites {
    id
    code
    name
  }
}
    `) as unknown as TypedDocumentString<MachineDetailQuery, MachineDetailQueryVariables>;
export const ApproveMachineDocument = new TypedDocumentString(`
    mutation ApproveMachine($id: ID!, $asReplacement: Boolean) {
  approveMachine(id: $id, asReplacement: $asReplacement) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<ApproveMachineMutation, ApproveMachineMutationVariables>;
export const RejectMachineDocument = new TypedDocumentString(`
    mutation RejectMachine($id: ID!) {
  rejectMachine(id: $id) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<RejectMachineMutation, RejectMachineMutationVariables>;
export const RevokeAgentKeyDocument = new TypedDocumentString(`
    mutation RevokeAgentKey($machineId: ID!) {
  revokeAgentKey(machineId: $machineId)
}
    `) as unknown as TypedDocumentString<RevokeAgentKeyMutation, RevokeAgentKeyMutationVariables>;
export const EscrowedSecretsDocument = new TypedDocumentString(`
    query EscrowedSecrets($machineId: ID!) {
  escrowedSecrets(machineId: $machineId) {
    id
    kind
    secretVersion
    keyVersion
    account
    protectorId
    createdAt
    confirmedAt
    reveals {
      actor
      at
    }
  }
}
    `) as unknown as TypedDocumentString<EscrowedSecretsQuery, EscrowedSecretsQueryVariables>;
export const RevealSecretDocument = new TypedDocumentString(`
    mutation RevealSecret($id: ID!) {
  revealSecret(id: $id) {
    id
    tenantId
    machineId
    kind
    secretVersion
    keyVersion
    envelope
  }
}
    `) as unknown as TypedDocumentString<RevealSecretMutation, RevealSecretMutationVariables>;
export const MachinesDocument = new TypedDocumentString(`
    query Machines($first: Int, $offset: Int, $search: String, $filter: MachineFilter, $siteId: ID, $sort: MachineSort, $descending: Boolean) {
  machinePage(
    first: $first
    offset: $offset
    search: $search
    filter: $filter
    siteId: $siteId
    sort: $sort
    descending: $descending
  ) {
    total
    machines {
      id
      hostname
      status
      pendingKind
      siteId
      lastSeenAt
      agentVersion
    }
  }
  sites {
    id
    code
    name
  }
}
    `) as unknown as TypedDocumentString<MachinesQuery, MachinesQueryVariables>;
export const MigrationsDocument = new TypedDocumentString(`
    query Migrations($machineId: ID) {
  profileMigrations(machineId: $machineId, first: 100) {
    id
    machineId
    batchId
    mode
    source
    targetJson
    targetSid
    retire
    status
    state
    updatedAt
    finishedAt
    lastError {
      code
      sentence
      message
    }
  }
  machines {
    id
    hostname
    status
  }
}
    `) as unknown as TypedDocumentString<MigrationsQuery, MigrationsQueryVariables>;
export const MigrationBatchDocument = new TypedDocumentString(`
    query MigrationBatch($id: ID!) {
  profileMigrationBatch(id: $id) {
    id
    mode
    status
    total
    concurrency
    running
    createdBy
    createdAt
    finishedAt
    counts {
      status
      count
    }
    migrations {
      id
      machineId
      batchId
      mode
      source
      targetJson
      targetSid
      retire
      status
      state
      updatedAt
      finishedAt
      lastError {
        code
        sentence
        message
      }
    }
  }
}
    `) as unknown as TypedDocumentString<MigrationBatchQuery, MigrationBatchQueryVariables>;
export const MigrationDocument = new TypedDocumentString(`
    query Migration($id: ID!) {
  profileMigration(id: $id) {
    id
    machineId
    batchId
    workflowId
    mode
    source
    targetJson
    sourceSid
    targetSid
    retire
    status
    state
    backupChecksum
    notMovable {
      item
      reason
    }
    restored
    lastError {
      type
      code
      sentence
      message
    }
    createdBy
    updatedAt
    finishedAt
  }
}
    `) as unknown as TypedDocumentString<MigrationQuery, MigrationQueryVariables>;
export const StartProfileMigrationDocument = new TypedDocumentString(`
    mutation StartProfileMigration($input: StartProfileMigrationInput!) {
  startProfileMigration(input: $input) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<StartProfileMigrationMutation, StartProfileMigrationMutationVariables>;
export const DecideProfileMigrationDocument = new TypedDocumentString(`
    mutation DecideProfileMigration($id: ID!, $decision: String!) {
  decideProfileMigration(id: $id, decision: $decision) {
    id
  }
}
    `) as unknown as TypedDocumentString<DecideProfileMigrationMutation, DecideProfileMigrationMutationVariables>;
export const CancelProfileMigrationDocument = new TypedDocumentString(`
    mutation CancelProfileMigration($id: ID!) {
  cancelProfileMigration(id: $id)
}
    `) as unknown as TypedDocumentString<CancelProfileMigrationMutation, CancelProfileMigrationMutationVariables>;
export const PasswordRotationScheduleDocument = new TypedDocumentString(`
    query PasswordRotationSchedule($id: ID!) {
  passwordRotationSchedule(id: $id, scope: SITE) {
    scheduleId
    intervalDays
    nextRunAt
  }
}
    `) as unknown as TypedDocumentString<PasswordRotationScheduleQuery, PasswordRotationScheduleQueryVariables>;
export const SetPasswordRotationScheduleDocument = new TypedDocumentString(`
    mutation SetPasswordRotationSchedule($id: ID!, $intervalDays: Int) {
  setPasswordRotationSchedule(id: $id, scope: SITE, intervalDays: $intervalDays) {
    scheduleId
    intervalDays
    nextRunAt
  }
}
    `) as unknown as TypedDocumentString<SetPasswordRotationScheduleMutation, SetPasswordRotationScheduleMutationVariables>;
export const RotateSitePasswordsDocument = new TypedDocumentString(`
    mutation RotateSitePasswords($id: ID!) {
  rotateLocalAdminPasswords(id: $id, scope: SITE) {
    workflowId
  }
}
    `) as unknown as TypedDocumentString<RotateSitePasswordsMutation, RotateSitePasswordsMutationVariables>;
export const ProfilesDocument = new TypedDocumentString(`
    query Profiles {
  profiles {
    id
    name
    version
    createdAt
    createdBy
    documentJson
    resolvedJson
  }
  clients {
    id
    name
    sites {
      id
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ProfilesQuery, ProfilesQueryVariables>;
export const ValidateProfileDocument = new TypedDocumentString(`
    query ValidateProfile($documentJson: String!) {
  validateProfile(documentJson: $documentJson) {
    path
    message
    code
  }
}
    `) as unknown as TypedDocumentString<ValidateProfileQuery, ValidateProfileQueryVariables>;
export const SaveProfileDocument = new TypedDocumentString(`
    mutation SaveProfile($name: String!, $documentJson: String!) {
  saveProfile(name: $name, documentJson: $documentJson) {
    id
    version
  }
}
    `) as unknown as TypedDocumentString<SaveProfileMutation, SaveProfileMutationVariables>;
export const SetProfileLayerDocument = new TypedDocumentString(`
    mutation SetProfileLayer($scope: ProfileLayerScope!, $id: ID, $documentJson: String!) {
  setProfileLayer(scope: $scope, id: $id, documentJson: $documentJson)
}
    `) as unknown as TypedDocumentString<SetProfileLayerMutation, SetProfileLayerMutationVariables>;
export const FleetRunsDocument = new TypedDocumentString(`
    query FleetRuns {
  fleetRuns(first: 50) {
    id
    status
    createdAt
    createdBy
    finishedAt
    total
    passed
    failed
    cancelled
    skipped
    concurrency
    profileId
  }
  profiles {
    id
    name
    version
  }
}
    `) as unknown as TypedDocumentString<FleetRunsQuery, FleetRunsQueryVariables>;
export const RunWizardDocument = new TypedDocumentString(`
    query RunWizard {
  clients {
    id
    name
    sites {
      id
      code
      name
    }
  }
  machines {
    id
    hostname
    siteId
    status
  }
  profiles {
    id
    name
    version
    createdAt
  }
}
    `) as unknown as TypedDocumentString<RunWizardQuery, RunWizardQueryVariables>;
export const StartFleetRunDocument = new TypedDocumentString(`
    mutation StartFleetRun($input: FleetRunStartInput!) {
  startFleetRun(input: $input) {
    id
    total
    skipped
  }
}
    `) as unknown as TypedDocumentString<StartFleetRunMutation, StartFleetRunMutationVariables>;
export const FleetRunDocument = new TypedDocumentString(`
    query FleetRun($id: ID!) {
  fleetRun(id: $id) {
    id
    status
    workflowId
    createdAt
    createdBy
    finishedAt
    concurrency
    total
    passed
    failed
    cancelled
    skipped
    progress {
      state
      total
      queued
      running
      passed
      failed
      cancelled
      paused
    }
    machineRuns(first: 1000) {
      id
      seq
      machineId
      status
      phase
      step
      attempt
      hostname
      lastError {
        code
        sentence
      }
    }
  }
}
    `) as unknown as TypedDocumentString<FleetRunQuery, FleetRunQueryVariables>;
export const FleetRunProgressFeedDocument = new TypedDocumentString(`
    subscription FleetRunProgressFeed($id: ID!) {
  fleetRunProgress(id: $id) {
    state
    total
    queued
    running
    passed
    failed
    cancelled
    paused
    batches
    closedInTemporal
    lateSignals
    recovered
  }
}
    `) as unknown as TypedDocumentString<FleetRunProgressFeedSubscription, FleetRunProgressFeedSubscriptionVariables>;
export const ControlFleetRunDocument = new TypedDocumentString(`
    mutation ControlFleetRun($id: ID!, $action: RunControl!) {
  controlFleetRun(id: $id, action: $action) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<ControlFleetRunMutation, ControlFleetRunMutationVariables>;
export const MachineRunDocument = new TypedDocumentString(`
    query MachineRun($id: ID!) {
  machineRun(id: $id) {
    id
    machineId
    fleetRunId
    workflowId
    status
    phase
    step
    attempt
    profileVersion
    startedAt
    finishedAt
    progressJson
    lastError {
      code
      type
      sentence
      message
      step
    }
    validation {
      item
      result
      detail
    }
  }
}
    `) as unknown as TypedDocumentString<MachineRunQuery, MachineRunQueryVariables>;
export const RetryMachineRunDocument = new TypedDocumentString(`
    mutation RetryMachineRun($id: ID!, $fromStep: String, $refreshConfig: Boolean) {
  retryMachineRun(id: $id, fromStep: $fromStep, refreshConfig: $refreshConfig)
}
    `) as unknown as TypedDocumentString<RetryMachineRunMutation, RetryMachineRunMutationVariables>;
export const ControlMachineRunDocument = new TypedDocumentString(`
    mutation ControlMachineRun($id: ID!, $action: RunControl!) {
  controlMachineRun(id: $id, action: $action) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<ControlMachineRunMutation, ControlMachineRunMutationVariables>;
export const RotateBitLockerRecoveryPasswordDocument = new TypedDocumentString(`
    mutation RotateBitLockerRecoveryPassword($machineId: ID!) {
  rotateBitLockerRecoveryPassword(machineId: $machineId) {
    workflowId
    joined
  }
}
    `) as unknown as TypedDocumentString<RotateBitLockerRecoveryPasswordMutation, RotateBitLockerRecoveryPasswordMutationVariables>;
export const RotateLocalAdminPasswordDocument = new TypedDocumentString(`
    mutation RotateLocalAdminPassword($machineId: ID!) {
  rotateLocalAdminPassword(machineId: $machineId) {
    workflowId
    joined
  }
}
    `) as unknown as TypedDocumentString<RotateLocalAdminPasswordMutation, RotateLocalAdminPasswordMutationVariables>;
export const UpdateBrandingDocument = new TypedDocumentString(`
    mutation UpdateBranding($input: BrandingInput!) {
  updateBranding(input: $input) {
    displayName
    logoUrl
    accentColor
  }
}
    `) as unknown as TypedDocumentString<UpdateBrandingMutation, UpdateBrandingMutationVariables>;
export const SiteDiscoveryPageDocument = new TypedDocumentString(`
    query SiteDiscoveryPage($siteId: ID!) {
  site(id: $siteId) {
    id
    code
    name
  }
  siteDiscovery(siteId: $siteId) {
    workflowId
    running
    state
    domain {
      domain
      site
      certificateSha256
      domainControllers {
        host
        addresses
      }
    }
    tried
    credentialVersion
    reminders
    lastRefusal
    lastError
    enumeration {
      computers
      added
      updated
      disappeared
    }
  }
  discoveredHosts(siteId: $siteId) {
    id
    source
    name
    dnsName
    os
    role
    enabled
    lastLogonAt
    machineId
    disappearedAt
    deployState
    deployReason
  }
}
    `) as unknown as TypedDocumentString<SiteDiscoveryPageQuery, SiteDiscoveryPageQueryVariables>;
export const StartSiteDiscoveryDocument = new TypedDocumentString(`
    mutation StartSiteDiscovery($siteId: ID!, $resolvers: [String!], $searchSuffixes: [String!]) {
  startSiteDiscovery(
    siteId: $siteId
    resolvers: $resolvers
    searchSuffixes: $searchSuffixes
  ) {
    state
  }
}
    `) as unknown as TypedDocumentString<StartSiteDiscoveryMutation, StartSiteDiscoveryMutationVariables>;
export const EnumerateDirectoryNowDocument = new TypedDocumentString(`
    mutation EnumerateDirectoryNow($siteId: ID!) {
  enumerateDirectoryNow(siteId: $siteId)
}
    `) as unknown as TypedDocumentString<EnumerateDirectoryNowMutation, EnumerateDirectoryNowMutationVariables>;
export const AddManualHostDocument = new TypedDocumentString(`
    mutation AddManualHost($input: AddManualHostInput!) {
  addManualHost(input: $input) {
    id
  }
}
    `) as unknown as TypedDocumentString<AddManualHostMutation, AddManualHostMutationVariables>;
export const DeployAgentsDocument = new TypedDocumentString(`
    mutation DeployAgents($input: DeployAgentsInput!) {
  deployAgents(input: $input) {
    workflowId
    total
  }
}
    `) as unknown as TypedDocumentString<DeployAgentsMutation, DeployAgentsMutationVariables>;
export const SitesDocument = new TypedDocumentString(`
    query Sites {
  clients {
    id
    name
  }
  sites {
    id
    clientId
    code
    name
    enrollmentFingerprint
  }
  pending: machines(status: Pending) {
    id
    hostname
    status
    siteId
    pendingKind
    pendingReason
    replacesMachineId
    requestedBy {
      at
      hostname
      sourceIp
      siteCode
      keyVersion
    }
  }
}
    `) as unknown as TypedDocumentString<SitesQuery, SitesQueryVariables>;
export const RotateKeyDocument = new TypedDocumentString(`
    mutation RotateKey($siteId: ID!) {
  rotateEnrollmentKey(siteId: $siteId) {
    siteId
    version
    fingerprint
    key
  }
}
    `) as unknown as TypedDocumentString<RotateKeyMutation, RotateKeyMutationVariables>;
export const ApprovePendingDocument = new TypedDocumentString(`
    mutation ApprovePending($id: ID!, $asReplacement: Boolean) {
  approveMachine(id: $id, asReplacement: $asReplacement) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<ApprovePendingMutation, ApprovePendingMutationVariables>;
export const RejectPendingDocument = new TypedDocumentString(`
    mutation RejectPending($id: ID!) {
  rejectMachine(id: $id) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<RejectPendingMutation, RejectPendingMutationVariables>;