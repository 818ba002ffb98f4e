import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { AgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import type { MachineActivities } from '../../activities/machines/machine-activities';
import { databaseActivity } from '../activity-presets';
import {
  AgentChannelFailure,
  AgentTaskKind,
  bootIdChangedSignal,
  collectInventoryStatusQuery,
  type CollectInventoryInput,
  type CollectInventoryResult,
  type CollectInventoryStatus,
} from './contracts';

const { saveInventory } = proxyActivities<MachineActivities>(databaseActivity);

/**
 * Asks a machine's agent for its inventory through the agent channel and stores it. The proof
 * that a workflow reaches a machine: queued while the machine is offline, delivered when it polls.
 */
export async function collectInventory(input: CollectInventoryInput): Promise<CollectInventoryResult> {
  const status: CollectInventoryStatus = { state: 'waiting-for-agent', bootIdsSeen: [] };
  setHandler(collectInventoryStatusQuery, () => status);
  setHandler(bootIdChangedSignal, ({ bootId }) => void status.bootIdsSeen.push(bootId));

  const { dispatchAgentTask } = proxyActivities<AgentChannelActivities>({
    // The whole wait, offline time included; each attempt lives as long as the agent heartbeats.
    scheduleToCloseTimeout: `${input.offlineLimitSeconds ?? 3600} seconds`,
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '2 minutes',
    retry: {
      initialInterval: '1 second',
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: Object.values(AgentChannelFailure),
    },
  });
  const inventory = await dispatchAgentTask({
    tenantId: input.tenantId,
    machineId: input.machineId,
    kind: AgentTaskKind.CollectInventory,
    payload: {},
  });
  status.state = 'saving';
  const { hostname } = await saveInventory({
    tenantId: input.tenantId,
    machineId: input.machineId,
    inventory,
  });
  status.state = 'done';
  return { hostname, bootIdsSeen: status.bootIdsSeen };
}
