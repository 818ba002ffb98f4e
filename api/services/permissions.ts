import { Role } from '../../infra/db/entities';

/**
 * Who may call each GraphQL root field (ADR 0031): the least role, whether it also needs the
 * reveal-secrets permission, and whether it acts on the whole tenant (then a caller scoped to some
 * clients is refused). The services check the same roles themselves; the GraphQL layer checks this
 * table before any resolver runs and refuses a field that has no entry, and the schema walk
 * (test/integration/schema-walk.test.ts) proves every field answers exactly as declared here.
 */
export interface FieldAccess {
  role: Role;
  /** The field hands out a secret: only for callers with reveal-secrets (else the secret is left out). */
  revealSecrets?: 'required' | 'redacted';
  /** Acts on the tenant as a whole (users, tokens, branding, tenant-wide profiles, new clients). */
  tenantWide?: boolean;
}

const { Viewer: V, Operator: O, Engineer: E, Admin: A } = Role;

export const fieldAccess: Readonly<Record<string, FieldAccess>> = {
  // Reading the fleet: every role, within its client scope.
  'Query.viewer': { role: V },
  'Query.tenant': { role: V },
  'Query.clients': { role: V },
  'Query.sites': { role: V },
  'Query.site': { role: V },
  'Query.machines': { role: V },
  'Query.machinePage': { role: V },
  'Query.machineCounts': { role: V },
  'Query.machine': { role: V },
  'Query.alerts': { role: V },
  'Query.fleetRuns': { role: V },
  'Query.fleetRun': { role: V },
  'Query.machineRun': { role: V },
  'Query.machineRuns': { role: V },
  'Query.tweakUndo': { role: V },
  'Query.machineTweakUndo': { role: V },
  'Query.machineTweakUndos': { role: V },
  'Query.profiles': { role: V },
  'Query.validateProfile': { role: V },
  'Subscription.fleetRunProgress': { role: V },
  'Query.profileMigrations': { role: V },
  'Query.profileMigration': { role: V },
  'Query.profileMigrationBatch': { role: V },
  'Query.discoveredHosts': { role: V },
  'Query.siteDiscovery': { role: V },
  'Query.siteJoinCredential': { role: V },
  'Query.escrowedSecrets': { role: V },
  'Query.passwordRotationSchedule': { role: V },
  // The public key for all; the wrapped private key only with reveal-secrets (ADR 0044).
  'Query.escrowKey': { role: V, revealSecrets: 'redacted' },
  'Query.escrowKeys': { role: V, revealSecrets: 'redacted' },
  'Query.agentDeployment': { role: V },
  // Operators: runs and approvals.
  'Query.installerBuild': { role: O },
  'Query.siteInstallers': { role: O },
  'Mutation.approveMachine': { role: O },
  'Mutation.rejectMachine': { role: O },
  'Mutation.collectInventory': { role: O },
  'Mutation.provisionMachine': { role: O },
  // Local admin password rotation of a site or client (ADR 0047): now, or on a schedule.
  'Mutation.rotateBitLockerRecoveryPassword': { role: O },
  'Mutation.rotateLocalAdminPassword': { role: O },
  'Mutation.rotateLocalAdminPasswords': { role: O },
  'Mutation.setPasswordRotationSchedule': { role: O },
  'Mutation.startFleetRun': { role: O },
  'Mutation.controlFleetRun': { role: O },
  'Mutation.controlMachineRun': { role: O },
  'Mutation.retryMachineRun': { role: O },
  'Mutation.undoTweaks': { role: O },
  'Mutation.undoTweaksFleet': { role: O },
  'Mutation.cancelTweakUndo': { role: O },
  'Mutation.buildSiteInstallers': { role: O },
  'Mutation.addManualHost': { role: O },
  'Mutation.enumerateDirectoryNow': { role: O },
  'Mutation.deployAgents': { role: O },
  'Mutation.startSiteDiscovery': { role: E },
  'Mutation.setDomainCredential': { role: E },
  'Mutation.setJoinCredential': { role: E },
  'Mutation.setMachineRole': { role: E },
  'Mutation.startProfileMigration': { role: O },
  'Mutation.startProfileMigrationBatch': { role: O },
  'Mutation.decideProfileMigration': { role: O },
  'Mutation.cancelProfileMigration': { role: O },
  // Releases one escrowed ciphertext after its audit event commits; refusals are audited too.
  'Mutation.revealSecret': { role: O, revealSecrets: 'required' },
  // Engineers: profiles, keys, layers; the audit log.
  'Query.auditEvents': { role: E },
  // Walks the whole chain: a caller scoped to some clients would see a chain with holes.
  'Query.auditChain': { role: E, tenantWide: true },
  'Mutation.saveProfile': { role: E, tenantWide: true },
  'Mutation.setProfileLayer': { role: E },
  'Mutation.rotateEnrollmentKey': { role: E, revealSecrets: 'redacted' },
  'Mutation.revokeAgentKey': { role: E },
  // Admins: tenant settings, users, tokens, branding.
  'Mutation.createClient': { role: A, tenantWide: true },
  'Mutation.createSite': { role: A },
  'Mutation.updateBranding': { role: A, tenantWide: true },
  'Mutation.setupEscrowKey': { role: A, tenantWide: true },
  // A key roll: bulk release of old ciphertexts to re-wrap, audited first (ADR 0044).
  'Mutation.escrowRewrapBatch': { role: A, tenantWide: true, revealSecrets: 'required' },
  'Mutation.submitRewrappedSecrets': { role: A, tenantWide: true, revealSecrets: 'required' },
  'Mutation.destroyEscrowKey': { role: A, tenantWide: true },
  // Break-glass: a recovered key re-wrapped under a new passphrase (same public key).
  'Mutation.replaceWrappedEscrowKey': { role: A, tenantWide: true },
  'Query.users': { role: A, tenantWide: true },
  'Mutation.addUser': { role: A, tenantWide: true },
  'Mutation.updateUserAccess': { role: A, tenantWide: true },
  'Mutation.removeUser': { role: A, tenantWide: true },
  'Query.apiTokens': { role: A, tenantWide: true },
  'Mutation.createApiToken': { role: A, tenantWide: true },
  'Mutation.revokeApiToken': { role: A, tenantWide: true },
};
