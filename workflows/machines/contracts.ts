import { defineQuery, defineSignal } from '@temporalio/workflow';

/** The machines domain: per-machine workflows, the agent channel's task kinds and failure types. */
export { CORE_TASK_QUEUE } from '../task-queues';

export const collectInventoryWorkflowId = (machineId: string, requestId: string): string =>
  `collect-inventory:${machineId}:${requestId}`;

/** Sent by the API to every running workflow of a machine when its agent checks in with a new boot id. */
export interface BootIdChanged {
  bootId: string;
  previousBootId: string | null;
}
export const bootIdChangedSignal = defineSignal<[BootIdChanged]>('bootIdChanged');

export interface AgentTaskInput {
  tenantId: string;
  machineId: string;
  kind: AgentTaskKind;
  payload: Record<string, unknown>;
}

export enum AgentTaskKind {
  CollectInventory = 'inventory.collect',
}

export enum AgentChannelFailure {
  MachineNotFound = 'MachineNotFound',
  MachineNotActive = 'MachineNotActive',
}

export interface CollectInventoryInput {
  tenantId: string;
  machineId: string;
  /** How long the task may wait for an offline machine. Default one hour. */
  offlineLimitSeconds?: number;
}

export interface CollectInventoryResult {
  hostname: string;
  bootIdsSeen: string[];
}

export interface CollectInventoryStatus {
  state: 'waiting-for-agent' | 'saving' | 'done';
  bootIdsSeen: string[];
}
export const collectInventoryStatusQuery = defineQuery<CollectInventoryStatus>('status');
