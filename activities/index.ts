import { loadEnv, type Env } from '../infra/config/env';
import type { Orm } from '../infra/db/orm';
import { createAgentChannelActivities } from './agent-channel/agent-channel-activities';
import { createInstallerActivities } from './installers/installer-activities';
import { createMachineActivities } from './machines/machine-activities';
import { createMaintenanceActivities } from './maintenance/maintenance-activities';
import { createDeploymentActivities } from './deployment/deployment-activities';
import { createDirectoryActivities } from './directory/directory-activities';
import { createRotationActivities } from './escrow/rotation-activities';
import { createMigrationActivities } from './migration/migration-activities';
import { createProvisioningActivities } from './provisioning/provisioning-activities';
import { createSiteActivities } from './sites/site-activities';
import { createTweakUndoActivities } from './tweaks/tweak-undo-activities';

export interface ActivityDeps {
  orm: Orm;
  /** The worker's environment (installer builds read DRYDOCK_DATA_DIR and the signing settings). */
  env?: Env;
}

/** Every activity the core worker registers, built from its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createSiteActivities(deps),
    ...createAgentChannelActivities(deps),
    ...createMachineActivities(deps),
    ...createProvisioningActivities(deps),
    ...createTweakUndoActivities(deps),
    ...createMaintenanceActivities(deps),
    ...createMigrationActivities(deps),
    ...createDirectoryActivities(deps),
    ...createDeploymentActivities(deps),
    ...createRotationActivities(deps),
    ...createInstallerActivities({ orm: deps.orm, env: deps.env ?? loadEnv() }),
  };
}
