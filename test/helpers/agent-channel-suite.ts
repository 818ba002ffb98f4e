import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { AgentProcess, type HarnessAgent } from '../../agent/harness/agent-process';
import { Harness, type HarnessOptions } from '../../agent/harness/harness';
import { AgentTaskSchema, MachineSchema, type AgentTask, type Machine } from '../../infra/db/entities';
import { withTenant } from '../../infra/db/orm';
import { MachineIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { collectInventoryWorkflowId, type CollectInventoryResult } from '../../workflows/machines/contracts';
import { gql } from './api';
import { startAgentStack, type AgentStack } from './agent-stack';
import { eventually } from './wine';

/**
 * The agent channel's test setup, shared by the suite that runs agents in-process
 * (test/integration/agent-channel.test.ts) and the one that runs the bundled agent as processes
 * (agent-channel-bundled.test.ts): one stack per file, a harness per test, and the scenarios both
 * run (`describeCoreScenarios`).
 */
export interface AgentChannelSuite {
  stack: AgentStack;
  /** The site's current enrollment key (a scenario rotates it). */
  key: { key: string; fingerprint: string; version: number };
  machines(): Promise<Machine[]>;
  /** Simulated machines under `stateDir/<name>`: the same name again is the same machines. */
  harness(name: string, n: number, extra?: Partial<HarnessOptions>): Harness;
  /** One simulated machine, enrolled and then stopped (offline until a test starts it again). */
  enrolledMachine(name: string): Promise<Harness['machines'][number]>;
  startInventory(machineId: string): ReturnType<AgentStack['temporal']['workflow']['start']>;
  taskRows(machineId: string): Promise<AgentTask[]>;
  rawPoll(agentKey: string, wait: number): Promise<Response>;
}

export function agentChannelSuite(
  opts: { env?: Record<string, string>; bundledAgents?: boolean } = {},
): AgentChannelSuite {
  const harnesses: Harness[] = [];
  const suite: AgentChannelSuite = {
    stack: undefined as unknown as AgentStack,
    key: undefined as unknown as AgentChannelSuite['key'],
    machines: () =>
      withTenant(suite.stack.orm, suite.stack.tenant.tenantId, (em) => em.find(MachineSchema, {})),
    harness(name, n, extra = {}) {
      const h = new Harness({
        apiUrl: suite.stack.apiUrl,
        siteCode: suite.stack.tenant.siteCode,
        enrollmentKey: suite.key.key,
        fingerprint: suite.key.fingerprint,
        machines: n,
        stateDir: path.join(suite.stack.stateDir, name),
        pollSeconds: 2,
        log: process.env.DEBUG_AGENTS ? (line) => console.log(line) : undefined,
        ...(suite.stack.agentScript ? { agentScript: suite.stack.agentScript } : {}),
        ...extra,
      });
      harnesses.push(h);
      return h;
    },
    async enrolledMachine(name) {
      const one = suite.harness(name, 1);
      one.start();
      await one.waitForEnrollment();
      await one.stop();
      return one.machines[0]!;
    },
    startInventory(machineId) {
      return suite.stack.temporal.workflow.start('collectInventory', {
        taskQueue: suite.stack.taskQueue,
        workflowId: collectInventoryWorkflowId(machineId, randomUUID()),
        args: [{ tenantId: suite.stack.tenant.tenantId, machineId }],
        typedSearchAttributes: [
          { key: TenantIdKey, value: suite.stack.tenant.tenantId },
          { key: MachineIdKey, value: machineId },
        ],
      });
    },
    taskRows: (machineId) =>
      withTenant(suite.stack.orm, suite.stack.tenant.tenantId, (em) =>
        em.find(AgentTaskSchema, { machineId }),
      ),
    rawPoll: (agentKey, wait) =>
      fetch(`${suite.stack.apiUrl}/v1/agent/tasks?wait=${wait}`, {
        headers: { authorization: `Bearer ${agentKey}` },
      }),
  };
  beforeAll(async () => {
    suite.stack = await startAgentStack(opts.env, { bundledAgents: opts.bundledAgents });
    suite.key = await suite.stack.issueEnrollmentKey();
  });
  afterAll(() => suite.stack?.close());
  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.stop()));
  });
  return suite;
}

/** An agent that stopped for good: state `expected`, and as a process exit code 3 (the service stops). */
function expectStoppedForGood(agent: HarnessAgent, expected: 'revoked' | 'rejected'): void {
  expect(agent.state).toBe(expected);
  if (agent instanceof AgentProcess) {
    expect(agent.exitCode).toBe(3);
    expect(agent.output.join('\n')).toContain(`agent stopped (${expected})`);
  }
}

/**
 * The agent channel's core, run by in-process agents and by the bundled agent as processes alike:
 * enrollment, a task claimed, run and reported, a restart that does not enroll again, a rotated
 * key refused, a revoked key that stops the agent for good.
 */
export function describeCoreScenarios(suite: AgentChannelSuite, opts: { fleetSize: number }): void {
  describe('core scenarios', () => {
    it(`enrolls ${opts.fleetSize} agents at once into one row each, and each forgets the enrollment key`, async () => {
      const fleet = suite.harness('fleet', opts.fleetSize);
      fleet.start();
      expect(await fleet.waitForEnrollment()).toMatchObject({
        enrolled: opts.fleetSize,
        pending: 0,
        failed: 0,
      });
      await fleet.stop();
      const ids = new Set(fleet.machines.map((m) => m.agent.machineId));
      const rows = (await suite.machines()).filter((m) => ids.has(m.id));
      expect(rows).toHaveLength(opts.fleetSize);
      expect(new Set(rows.map((m) => m.machineUid)).size).toBe(opts.fleetSize);
      for (const m of fleet.machines) {
        const config = JSON.parse(readFileSync(path.join(m.dir, 'agent-config.json'), 'utf8')) as object;
        expect(config).not.toHaveProperty('enrollmentKey');
        expect(await m.platform.loadProtected('agent-key')).toMatch(/^dak_/);
      }
    });

    it('delivers a task queued while the agent was offline once it is back from a reboot, without enrolling again', async () => {
      const m = await suite.enrolledMachine('offline');
      const machineId = m.agent.machineId!;
      const agentKey = await m.platform.loadProtected('agent-key');
      const rowsBefore = (await suite.machines()).length;
      const handle = await suite.startInventory(machineId);
      await eventually(async () => (await suite.taskRows(machineId)).length > 0, 30_000, 'the task row');
      expect((await suite.taskRows(machineId)).map((t) => t.status)).toEqual(['queued']);

      m.platform.reboot();
      // The same folder: the same machine, its agent started again after the reboot.
      const back = suite.harness('offline', 1);
      back.start();
      const result = (await handle.result()) as CollectInventoryResult;
      await back.stop();
      const again = back.machines[0]!;
      expect(again.agent.machineId).toBe(machineId);
      // No new enrollment: the same agent key, no new row.
      expect(await again.platform.loadProtected('agent-key')).toBe(agentKey);
      expect(await suite.machines()).toHaveLength(rowsBefore);

      const host = again.platform.snapshot;
      expect(result.hostname).toBe(host.hostname);
      expect(result.bootIdsSeen).toContain(host.bootId);
      const [task] = await suite.taskRows(machineId);
      expect(task).toMatchObject({ status: 'completed', deliveries: 1 });
      expect(host.executions[`${task!.kind} ${task!.idempotencyKey}`]).toBe(1);
      const row = (await suite.machines()).find((r) => r.id === machineId)!;
      expect(row.inventory).toMatchObject({ hostname: host.hostname });
    });

    it('stops enrolling with a rotated key while enrolled agents keep working', async () => {
      const before = suite.harness('before-rotation', 1);
      before.start();
      await before.waitForEnrollment();
      const oldKey = suite.key;
      suite.key = await suite.stack.issueEnrollmentKey();
      expect(suite.key.version).toBe(oldKey.version + 1);
      expect(suite.key.fingerprint).toMatch(/^v\d+ \([0-9A-F]{4}\)$/);

      const late = suite.harness('after-rotation', 1, { enrollmentKey: oldKey.key });
      late.start();
      const report = await late.waitForEnrollment();
      await late.stop();
      expect(report.enrolled).toBe(0);
      expectStoppedForGood(late.machines[0]!.agent, 'rejected');

      // The agent enrolled before the rotation still gets work.
      const machineId = before.machines[0]!.agent.machineId!;
      const handle = await suite.startInventory(machineId);
      expect(((await handle.result()) as CollectInventoryResult).hostname).toBe(
        before.machines[0]!.platform.snapshot.hostname,
      );
      await before.stop();

      const fresh = suite.harness('new-key', 1);
      fresh.start();
      expect((await fresh.waitForEnrollment()).enrolled).toBe(1);
      await fresh.stop();
    });

    it('stops a running agent for good once its key is revoked', async () => {
      const h = suite.harness('revoked-running', 1);
      h.start();
      await h.waitForEnrollment();
      const m = h.machines[0]!;
      expect(m.agent.state).toBe('enrolled');
      const res = await gql(
        suite.stack.app,
        suite.stack.tenant.tenantId,
        'mutation($m: ID!) { revokeAgentKey(machineId: $m) }',
        { m: m.agent.machineId },
      );
      expect(res.data).toEqual({ revokeAgentKey: 1 });
      await eventually(() => m.error !== undefined, 30_000, 'the agent to stop');
      expect(m.error).toBe('agent key revoked');
      expectStoppedForGood(m.agent, 'revoked');
    });
  });
}
