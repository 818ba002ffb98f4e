import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

export enum AgentTaskStatus {
  Queued = 'queued',
  Delivered = 'delivered',
  Completed = 'completed',
  Failed = 'failed',
}

/** One step sent to a machine's agent, with the Temporal task token of the activity waiting for it. */
export interface AgentTask {
  id: string;
  tenantId: string;
  machineId: string;
  kind: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
  workflowId: string;
  activityId: string;
  taskToken?: Buffer | null;
  attempt: number;
  status: AgentTaskStatus;
  deliveries: number;
  progress?: Record<string, unknown> | null;
  result?: Record<string, unknown> | null;
  error?: { type: string; message: string; retryable: boolean } | null;
  createdAt: Date;
  deliveredAt?: Date | null;
  finishedAt?: Date | null;
}

export const AgentTaskSchema = new EntitySchema<AgentTask>({
  name: 'AgentTask',
  tableName: 'agent_tasks',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    machineId: { type: 'uuid' },
    kind: { type: 'string' },
    payload: { type: 'json' },
    idempotencyKey: { type: 'string' },
    workflowId: { type: 'string' },
    activityId: { type: 'string' },
    taskToken: { type: 'blob', nullable: true, hidden: true },
    attempt: { type: 'number' },
    status: { enum: true, items: () => AgentTaskStatus },
    deliveries: { type: 'number' },
    progress: { type: 'json', nullable: true },
    result: { type: 'json', nullable: true },
    error: { type: 'json', nullable: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    deliveredAt: { type: 'Date', nullable: true },
    finishedAt: { type: 'Date', nullable: true },
  },
});
