import { randomUUID } from 'node:crypto';
import { Client as TemporalClient, Connection, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { DeliverySweep } from '../../api/agent-channel/delivery-sweep';
import { withTenant } from '../../infra/db/orm';
import { AgentChannelFailure } from '../../workflows/machines/contracts';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { enrolledFleet } from '../helpers/provisioning';

/**
 * The API's delivery sweep (migration 0035): a step no machine picked up by its delivery deadline
 * fails `MachineUnreachable` soon after it, not after the dispatch's 2-minute heartbeat timeout.
 * The stack's own sweep is slowed to an hour here, so this test's sweeps are the only ones.
 */
jest.setTimeout(120_000);

let stack: AgentStack;
beforeAll(async () => {
  stack = await startAgentStack({ AGENT_DELIVERY_SWEEP_SECONDS: '3600' });
});
afterAll(() => stack.close());

const quiet = { info: () => {}, warn: () => {} } as never;

/** An overdue task written by hand, with a token no Temporal issued; returns its key (to delete it). */
async function handWrittenOverdue(machineId: string): Promise<string> {
  const key = `by-hand-${randomUUID()}`;
  await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute(
      `insert into agent_tasks (id, tenant_id, machine_id, kind, idempotency_key, workflow_id, activity_id,
                                task_token, deliver_by)
       values (?, ?, ?, 'inventory.collect', ?, ?, '1', '\\x00'::bytea, now() - interval '1 hour')`,
      [randomUUID(), stack.tenant.tenantId, machineId, key, key],
    ),
  );
  return key;
}
const dropTask = (key: string) =>
  withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute(`delete from agent_tasks where idempotency_key = ?`, [key]),
  );
const sweeper = (log = quiet) =>
  new DeliverySweep({ orm: stack.orm, temporal: stack.temporal, log, intervalMs: 3_600_000 });

it('hands an overdue step to its retry once, however many replicas sweep, and the retry fails it undelivered', async () => {
  const fleet = await enrolledFleet(stack, 'sweep', 1);
  await fleet.stop(); // enrolled, then gone
  const machineId = fleet.machines[0]!.agent.machineId!;
  // The oldest overdue task is one Temporal refuses: it must not hold up the real one.
  const poison = await handWrittenOverdue(machineId);
  const startedAt = Date.now();
  const handle = await stack.temporal.workflow.start('collectInventory', {
    taskQueue: stack.taskQueue,
    workflowId: `sweep-${randomUUID()}`,
    args: [{ tenantId: stack.tenant.tenantId, machineId, offlineLimitSeconds: 2 }],
  });
  const queued = async () =>
    withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      em.execute<{ status: string; overdue: boolean }[]>(
        `select status, deliver_by <= now() as overdue from agent_tasks where workflow_id = ?`,
        [handle.workflowId],
      ),
    );
  for (;;) {
    const [task] = await queued();
    if (task?.overdue) break;
    await new Promise((r) => setTimeout(r, 200));
  }

  // Two replicas at once: one ends the attempt; the other finds it ended and does nothing.
  const nudged = await Promise.all([sweeper().sweep(), sweeper().sweep()]);
  expect(nudged.reduce((a, b) => a + b, 0)).toBe(1);

  const failure = await handle.result().then(
    () => null,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const cause = ((failure as WorkflowFailedError).cause as ActivityFailure).cause as ApplicationFailure;
  expect([cause.type, cause.message]).toEqual([
    AgentChannelFailure.MachineUnreachable,
    'the machine did not pick up the step within 2 s (offline, or switched off)',
  ]);
  expect(Date.now() - startedAt).toBeLessThan(60_000); // the heartbeat timeout is 120 s
  expect(await queued()).toEqual([{ status: 'abandoned', overdue: true }]);
  // Nothing overdue is left to hand over but the refused one, which is said.
  const warned: unknown[] = [];
  expect(await sweeper({ info: () => {}, warn: (o: unknown) => warned.push(o) } as never).sweep()).toBe(0);
  expect(warned).toEqual([expect.objectContaining({ failed: 1 })]);
  await dropTask(poison);
});

it('refuses a batch out of range', async () => {
  const refused = await stack.orm.em
    .getConnection()
    .execute('select * from agent_overdue_tasks(0)')
    .then(
      () => null,
      (err: { code?: string }) => err.code,
    );
  expect(refused).toBe('22023');
});

it('stops at shutdown without waiting out a Temporal outage', async () => {
  const fleet = await enrolledFleet(stack, 'sweep-stop', 1);
  await fleet.stop();
  const machineId = fleet.machines[0]!.agent.machineId!;
  const key = await handWrittenOverdue(machineId);
  // Nothing listens there, and the client's default retries would go on for many seconds.
  const dead = new TemporalClient({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const sweep = new DeliverySweep({ orm: stack.orm, temporal: dead, log: quiet, intervalMs: 10 });
  try {
    sweep.start();
    await new Promise((r) => setTimeout(r, 1000)); // a sweep is in its Temporal call by now
    const stopping = Date.now();
    await sweep.stop();
    // Within the nudge's own deadline (5 s); the client's retries alone would go on for ~20 s, and
    // closing the connection under them threw from a retry timer.
    expect(Date.now() - stopping).toBeLessThan(8000);
  } finally {
    await dead.connection.close();
    await dropTask(key);
  }
});
