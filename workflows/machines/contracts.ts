import { ApplicationFailure } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { StepKind, type StepPayloads } from '../../infra/wire/agent-steps';

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

/** A step of kind K for one machine: it carries that kind's payload, and its result is that kind's (TaskResult). */
export interface AgentTaskInput<K extends StepKind = StepKind> {
  tenantId: string;
  machineId: string;
  kind: K;
  payload: StepPayloads[K];
  /**
   * How long the task may wait for the machine to pick it up (its offline limit). Once it has, the
   * step has its own running time (the activity's start-to-close): two budgets, not one.
   */
  deliverWithinSeconds?: number;
  /** Mirror this step to the machine_runs row in the same transaction (no extra activity per step). */
  run?: { runId: string; phase: string; step: string; attempt: number; status?: 'running' | 'rebooting' };
}

/** Details of a step failure as the activity reports it: the workflow decides about retrying. */
export interface StepFailureDetails {
  retryable: boolean;
}

/** The agent channel's tasks are steps: collectInventory sends the inventory step. */
export const AgentTaskKind = { CollectInventory: StepKind.Inventory } as const;

export enum AgentChannelFailure {
  MachineNotFound = 'MachineNotFound',
  MachineNotActive = 'MachineNotActive',
  /** The machine did not pick the step up within its offline limit; the task was abandoned. */
  MachineUnreachable = 'MachineUnreachable',
  /** The task's run ended (cancelled, failed, terminated): it will never run. */
  TaskAbandoned = 'TaskAbandoned',
  /** A task of another kind holds this step's idempotency key: a bug, never papered over. */
  TaskKeyConflict = 'TaskKeyConflict',
  /** A stored result does not fit its kind's schema (stored before the schema, or altered): never handed on. */
  ResultInvalid = 'ResultInvalid',
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

/**
 * A step's own failure ends the activity (a new attempt would only read the same stored result);
 * whether to run the step again is the workflow's decision, from `details[0].retryable`.
 */
export function stepFailure(error: {
  type: string;
  message: string;
  retryable: boolean;
}): ApplicationFailure {
  return ApplicationFailure.create({
    type: error.type,
    message: error.message,
    nonRetryable: true,
    details: [{ retryable: error.retryable } satisfies StepFailureDetails],
  });
}
