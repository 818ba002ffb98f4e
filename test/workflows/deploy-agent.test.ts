import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { StepFailure, StepKind, type TaskResult } from '../../infra/wire/agent-steps';
import type { deployAgent } from '../../workflows/deployment/deploy-agent';
import type { deployAgents } from '../../workflows/deployment/deploy-agents';
import {
  deployAgentWorkflowId,
  DeploymentFailure,
  type DeployAgentInput,
  type DeploymentState,
} from '../../workflows/deployment/contracts';
import { AgentChannelFailure, stepFailure } from '../../workflows/machines/contracts';
import { startFakeWorker, type Activities } from '../helpers/fake-worker';

/**
 * deployAgent against a real Temporal server with typed fake activities: what it does when the
 * enrollment signal is lost (the periodic check finds the machine), when the install fails
 * retryably and then succeeds (a new task each attempt), when the agent never enrolls (failed, in
 * words), and that a stale host is skipped before anything is dispatched.
 */
jest.setTimeout(90_000);

interface World {
  skip: string | null;
  /** Calls of enrolledMachineFor before it finds the machine (Infinity: never). */
  enrolledAfterChecks: number;
  /** Install failures before it succeeds. */
  installFailures: { type: StepFailure; retryable: boolean }[];
  /** The gateway never picks up the probe (the channel's own failure, not a step's). */
  gatewayOffline?: boolean;
}
let world: World;
const dispatched: string[] = [];
const states: DeploymentState[] = [];
let checks = 0;
let linked: string | null = null;

const fakes: Partial<Activities> = {
  async deploymentTarget() {
    return { name: 'WS-1', address: 'ws-1.corp.example', machineId: null, skip: world.skip };
  },
  async siteGateway() {
    return 'gateway-1';
  },
  async siteCredential() {
    return { id: randomUUID(), version: 1, domain: 'corp.example' };
  },
  async siteAgentInstaller() {
    return { installerId: randomUUID(), fileName: 'Drydock-S-v1-ABCD.msi', sha256: 'a'.repeat(64) };
  },
  async recordHostDeployment(input) {
    states.push(input.state);
  },
  async enrolledMachineFor() {
    checks += 1;
    return checks > world.enrolledAfterChecks ? 'machine-1' : null;
  },
  async linkDiscoveredHost(input) {
    linked = input.machineId;
    return true;
  },
  async dispatchAgentTask<K extends StepKind>(input: { kind: K }): Promise<TaskResult<K>> {
    dispatched.push(input.kind);
    if (world.gatewayOffline)
      throw ApplicationFailure.create({
        type: AgentChannelFailure.MachineUnreachable,
        message: 'the machine did not pick up the step within 3600 s (offline, or switched off)',
        nonRetryable: true,
      });
    if (input.kind === StepKind.WinRmProbe)
      return { http: true, https: false, detail: 'HTTP 5985: open' } as unknown as TaskResult<K>;
    const failure = world.installFailures.shift();
    if (failure) throw stepFailure({ ...failure, message: `the install failed: ${failure.type}` });
    return {
      exitCode: 0,
      service: 'Running',
      restartRequired: false,
      outcome: 'msiexec exited with 0: installed',
    } as unknown as TaskResult<K>;
  },
};

let worker: Awaited<ReturnType<typeof startFakeWorker>>;
beforeAll(async () => {
  worker = await startFakeWorker(fakes);
});
afterAll(async () => worker.stop());
beforeEach(() => {
  world = { skip: null, enrolledAfterChecks: 0, installFailures: [] };
  dispatched.length = 0;
  states.length = 0;
  checks = 0;
  linked = null;
});

function run(settings: DeployAgentInput['settings'] = {}) {
  const input: DeployAgentInput = {
    tenantId: randomUUID(),
    siteId: randomUUID(),
    hostId: randomUUID(),
    settings: { enrollmentCheckSeconds: 1, enrollmentWaitSeconds: 30, ...settings },
  };
  return worker.client.workflow.execute<typeof deployAgent>('deployAgent', {
    taskQueue: worker.taskQueue,
    workflowId: deployAgentWorkflowId(input.tenantId, input.hostId),
    args: [input],
  });
}

it('finds the enrolled machine by its periodic check when no signal comes, and links it', async () => {
  world.enrolledAfterChecks = 2;
  const result = await run();
  expect(result).toEqual({
    outcome: 'deployed',
    machineId: 'machine-1',
    reason: 'msiexec exited with 0: installed',
    alreadyInstalled: false,
  });
  expect(checks).toBe(3);
  expect(linked).toBe('machine-1');
  expect(dispatched).toEqual([StepKind.WinRmProbe, StepKind.WinRmInstall]);
  expect(states).toEqual(['queued', 'probing', 'installing', 'awaiting-enrollment', 'deployed']);
});

it('tries a retryable install failure again with a new task, and fails a permanent one at once, in words', async () => {
  world.installFailures = [{ type: StepFailure.WinRmUnreachable, retryable: true }];
  await expect(run()).resolves.toMatchObject({ outcome: 'deployed' });
  expect(dispatched).toEqual([StepKind.WinRmProbe, StepKind.WinRmInstall, StepKind.WinRmInstall]);

  dispatched.length = 0;
  states.length = 0;
  world.installFailures = [{ type: StepFailure.AgentInstallFailed, retryable: false }];
  const failed = await run().catch((err: unknown) => err);
  expect(failed).toBeInstanceOf(WorkflowFailedError);
  const cause = (failed as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe(StepFailure.AgentInstallFailed);
  expect(cause.message).toContain('the install failed: AgentInstallFailed');
  expect(dispatched).toEqual([StepKind.WinRmProbe, StepKind.WinRmInstall]);
  expect(states.at(-1)).toBe('failed');
});

it('fails when the installed agent never enrolls, and skips a stale host before dispatching anything', async () => {
  world.enrolledAfterChecks = Infinity;
  const failed = await run({ enrollmentWaitSeconds: 3 }).catch((err: unknown) => err);
  const cause = (failed as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe(DeploymentFailure.DeployEnrollmentTimeout);
  expect(cause.message).toMatch(/did not enroll within 3 s/);
  expect(linked).toBeNull();

  dispatched.length = 0;
  world.skip = 'stale: its last logon was 120 days ago (more than 90)';
  await expect(run()).resolves.toEqual({
    outcome: 'skipped',
    machineId: null,
    reason: 'stale: its last logon was 120 days ago (more than 90)',
    alreadyInstalled: false,
  });
  expect(dispatched).toEqual([]);
});

it('leaves the host failed, in words, when the gateway never picks up its step', async () => {
  world.gatewayOffline = true;
  const failed = await run().catch((err: unknown) => err);
  expect(failed).toBeInstanceOf(WorkflowFailedError);
  expect(states).toEqual(['queued', 'probing', 'failed']);
});

it('a window does not start a second deployment of a host that another window is deploying', async () => {
  world.enrolledAfterChecks = Infinity;
  const tenantId = randomUUID();
  const siteId = randomUUID();
  const hostId = randomUUID();
  const running = await worker.client.workflow.start<typeof deployAgent>('deployAgent', {
    taskQueue: worker.taskQueue,
    workflowId: deployAgentWorkflowId(tenantId, hostId),
    args: [{ tenantId, siteId, hostId, settings: { enrollmentCheckSeconds: 1, enrollmentWaitSeconds: 60 } }],
  });
  const window = await worker.client.workflow.execute<typeof deployAgents>('deployAgents', {
    taskQueue: worker.taskQueue,
    workflowId: `deploy-agents:${tenantId}:${siteId}:${randomUUID()}`,
    args: [{ tenantId, siteId, hostIds: [hostId, hostId], concurrency: 2 }],
  });
  expect(window).toMatchObject({ total: 1, failed: 1, deployed: 0 });
  expect(window.hosts[0]!.reason).toBe(
    'another deployment of this host is running (another window): not started twice',
  );
  await running.terminate('test over');
});
