// Every workflow the core worker registers. Deterministic code only (see README.md here).
export { createSite } from './sites/create-site';
export { collectInventory } from './machines/collect-inventory';
export { provisionMachine } from './provisioning/provision-machine';
export { fleetRun } from './provisioning/fleet-run';
export { undoTweaks } from './tweaks/undo-tweaks';
export { fleetUndoTweaks } from './tweaks/fleet-undo-tweaks';
export { buildSiteInstallers } from './installers/build-site-installers';
export { pruneExpiredData } from './maintenance/prune-expired-data';
export { migrateProfile } from './migration/migrate-profile';
export { migrateProfiles } from './migration/migrate-profiles';
export { discoverSite } from './directory/discover-site';
export { enumerateDirectory } from './directory/enumerate-directory';
export { deployAgent } from './deployment/deploy-agent';
export { deployAgents } from './deployment/deploy-agents';
export { rotateBitLockerRecoveryPassword } from './escrow/rotate-bitlocker-recovery-password';
export { rotateLocalAdminPassword } from './escrow/rotate-local-admin-password';
export { rotateLocalAdminPasswords } from './escrow/rotate-local-admin-passwords';
