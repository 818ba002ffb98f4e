import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { AgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import type { MachineActivities } from '../../activities/machines/machine-activities';
import { agentStepActivity, databaseActivity } from '../activity-presets';
import {
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

  // Queued while the machine is offline (up to its offline limit), then the step's own running time.
  const offline = input.offlineLimitSeconds ?? 3600;
  const { dispatchAgentTask } = proxyActivities<AgentChannelActivities>(
    agentStepActivity('check', offline, 'inventory.collect: read the inventory'),
  );
  const inventory = await dispatchAgentTask({
    tenantId: input.tenantId,
    machineId: input.machineId,
    kind: AgentTaskKind.CollectInventory,
    payload: {},
    deliverWithinSeconds: offline,
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
