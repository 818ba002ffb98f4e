import type { Orm } from '../infra/db/orm';
import { createAgentChannelActivities } from './agent-channel/agent-channel-activities';
import { createMachineActivities } from './machines/machine-activities';
import { createProvisioningActivities } from './provisioning/provisioning-activities';
import { createSiteActivities } from './sites/site-activities';
import { createTweakUndoActivities } from './tweaks/tweak-undo-activities';

export interface ActivityDeps {
  orm: Orm;
}

/** Every activity the core worker registers, built from its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createSiteActivities(deps),
    ...createAgentChannelActivities(deps),
    ...createMachineActivities(deps),
    ...createProvisioningActivities(deps),
    ...createTweakUndoActivities(deps),
  };
}
