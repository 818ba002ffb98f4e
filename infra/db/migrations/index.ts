import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Foundation } from './0001-foundation';
import { Migration0002EnrollmentAndAgentChannel } from './0002-enrollment-and-agent-channel';
import { Migration0003Profiles } from './0003-profiles';
import { Migration0004ProvisioningRuns } from './0004-provisioning-runs';
import { Migration0005AgentChannelFunctions } from './0005-agent-channel-functions';
import { Migration0006AgentTaskReboots } from './0006-agent-task-reboots';
import { Migration0007FleetRunSkipped } from './0007-fleet-run-skipped';
import { Migration0008SecurityHardening } from './0008-security-hardening';
import { Migration0009TweakUndos } from './0009-tweak-undos';
import { Migration0010RunLifecycle } from './0010-run-lifecycle';
import { Migration0011SiteInstallers } from './0011-site-installers';
import { Migration0012SignInAndTokens } from './0012-sign-in-and-tokens';
import { Migration0014DomainCredentials } from './0014-domain-credentials';
import { Migration0016ProfileMigrations } from './0016-profile-migrations';
import { Migration0018Retention } from './0018-retention';
import { Migration0019RunCounts } from './0019-run-counts';
import { Migration0020ClientScopeForMigrations } from './0020-client-scope-for-migrations';
import { Migration0021DiscoveredHosts } from './0021-discovered-hosts';
import { Migration0022CredentialCandidates } from './0022-credential-candidates';
import { Migration0023InstallerGrants } from './0023-installer-grants';
import { Migration0024HostDeployments } from './0024-host-deployments';

/** Checked-in migrations, in order. Listed explicitly so bundlers and tsx need no file discovery. */
export const migrationsList: MigrationObject[] = [
  { name: '0001-foundation', class: Migration0001Foundation },
  { name: '0002-enrollment-and-agent-channel', class: Migration0002EnrollmentAndAgentChannel },
  { name: '0003-profiles', class: Migration0003Profiles },
  { name: '0004-provisioning-runs', class: Migration0004ProvisioningRuns },
  { name: '0005-agent-channel-functions', class: Migration0005AgentChannelFunctions },
  { name: '0006-agent-task-reboots', class: Migration0006AgentTaskReboots },
  { name: '0007-fleet-run-skipped', class: Migration0007FleetRunSkipped },
  { name: '0008-security-hardening', class: Migration0008SecurityHardening },
  { name: '0009-tweak-undos', class: Migration0009TweakUndos },
  { name: '0010-run-lifecycle', class: Migration0010RunLifecycle },
  { name: '0011-site-installers', class: Migration0011SiteInstallers },
  { name: '0012-sign-in-and-tokens', class: Migration0012SignInAndTokens },
  { name: '0014-domain-credentials', class: Migration0014DomainCredentials },
  { name: '0016-profile-migrations', class: Migration0016ProfileMigrations },
  { name: '0018-retention', class: Migration0018Retention },
  { name: '0019-run-counts', class: Migration0019RunCounts },
  { name: '0020-client-scope-for-migrations', class: Migration0020ClientScopeForMigrations },
  { name: '0021-discovered-hosts', class: Migration0021DiscoveredHosts },
  { name: '0022-credential-candidates', class: Migration0022CredentialCandidates },
  { name: '0023-installer-grants', class: Migration0023InstallerGrants },
  { name: '0024-host-deployments', class: Migration0024HostDeployments },
];
