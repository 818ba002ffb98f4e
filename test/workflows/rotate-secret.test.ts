import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { StepKind, type TaskResult } from '../../infra/wire/agent-steps';
import {
  rotateLocalAdminWorkflowId,
  rotationRequestedSignal,
  secretRevealedSignal,
  type RotateLocalAdminInput,
  type RotateLocalAdminStatus,
} from '../../workflows/escrow/contracts';
import { RotationFailure } from '../../workflows/escrow/contracts';
import type { rotateLocalAdminPassword } from '../../workflows/escrow/rotate-local-admin-password';
import { AgentChannelFailure } from '../../workflows/machines/contracts';
import { eventually, startFakeWorker, type Activities } from '../helpers/fake-worker';

/**
 * A revealed secret's rotation that fails on the machine (ADR 0047, "A failed rotation of a
 * revealed secret"), against a real Temporal server with typed fake activities: tried again after
 * a doubling pause while the retry window lasts, each failure audited with the time of the next
 * try; an on-demand request ends the pause; a failure before the machine is asked anything, or of
 * a rotation nobody revealed, ends the run at once; the window's end fails it for good, in words.
 */
jest.setTimeout(90_000);

interface World {
  /** Tries whose first task the machine never picks up (MachineUnreachable) before one succeeds. */
  unreachableTries: number;
  /** prepareRotation refuses (a permanent failure before anything reaches the machine). */
  inactive?: boolean;
}
let world: World;
const audits: { action: string; data: Record<string, unknown>; at: number }[] = [];
const dispatched: string[] = [];

const fakes: Partial<Activities> = {
  async prepareRotation() {
    if (world.inactive)
      throw ApplicationFailure.create({
        type: RotationFailure.RotationMachineInactive,
        message: 'the machine is retired',
        nonRetryable: true,
      });
    return { account: 'DrydockAdmin', recipient: { keyVersion: 1, publicKey: 'unused' } } as Awaited<
      ReturnType<Activities['prepareRotation']>
    >;
  },
  async auditRotation(input) {
    audits.push({ action: input.action, data: input.data, at: Date.now() });
  },
  async nextEscrowVersion() {
    return 2;
  },
  async confirmEscrow() {},
  async dispatchAgentTask<K extends StepKind>(input: { kind: K }): Promise<TaskResult<K>> {
    dispatched.push(input.kind);
    if (input.kind === StepKind.LocalAdminEscrow && world.unreachableTries > 0) {
      world.unreachableTries -= 1;
      throw ApplicationFailure.create({
        type: AgentChannelFailure.MachineUnreachable,
        message: 'the machine did not pick up the step within 30 s (offline, or switched off)',
        nonRetryable: true,
      });
    }
    if (input.kind === StepKind.LocalAdminEscrow)
      return {
        escrowId: randomUUID(),
        secretVersion: 2,
        keyVersion: 1,
        envelopeDigest: 'd',
      } as unknown as TaskResult<K>;
    return { account: 'DrydockAdmin', secretVersion: 2, created: false } as unknown as TaskResult<K>;
  },
};

let worker: Awaited<ReturnType<typeof startFakeWorker>>;
beforeAll(async () => {
  worker = await startFakeWorker(fakes);
});
afterAll(async () => worker.stop());
beforeEach(() => {
  world = { unreachableTries: 0 };
  audits.length = 0;
  dispatched.length = 0;
});

async function start(
  input: Partial<RotateLocalAdminInput>,
): Promise<WorkflowHandle<typeof rotateLocalAdminPassword>> {
  const tenantId = randomUUID();
  const machineId = randomUUID();
  const full: RotateLocalAdminInput = {
    tenantId,
    machineId,
    trigger: 'reveal',
    requestedBy: 'user:someone',
    graceSeconds: 0,
    retryBackoffSeconds: 1,
    ...input,
  };
  return worker.client.workflow.signalWithStart<
    typeof rotateLocalAdminPassword,
    [{ secretId: string; secretVersion: number; actor: string }]
  >('rotateLocalAdminPassword', {
    taskQueue: worker.taskQueue,
    workflowId: rotateLocalAdminWorkflowId(tenantId, machineId),
    args: [full],
    signal: secretRevealedSignal,
    signalArgs: [{ secretId: randomUUID(), secretVersion: 1, actor: 'user:someone' }],
  });
}

const failures = () => audits.filter((a) => a.action === 'escrow.rotation-failed');

it('tries a revealed secret’s failed rotation again after a doubling pause, and says when', async () => {
  world.unreachableTries = 2;
  const handle = await start({ retryFailedAfterSeconds: 1, retryFailedForSeconds: 600 });
  await expect(handle.result()).resolves.toMatchObject({
    outcome: 'rotated',
    secretVersion: 2,
    rotations: 1,
  });
  expect(audits.map((a) => a.action)).toEqual([
    'escrow.rotation-started',
    'escrow.rotation-failed',
    'escrow.rotation-started',
    'escrow.rotation-failed',
    'escrow.rotation-started',
  ]);
  const [first, second] = failures();
  expect(first!.data).toMatchObject({
    trigger: 'reveal',
    type: 'MachineUnreachable',
    retryAt: expect.any(String),
  });
  // The pauses: 1 s, then 2 s (each try starts at its announced time, never before).
  const pause1 = Date.parse(first!.data.retryAt as string) - first!.at;
  const pause2 = Date.parse(second!.data.retryAt as string) - second!.at;
  expect(pause1).toBeGreaterThan(500);
  expect(pause1).toBeLessThan(1500);
  expect(pause2).toBeGreaterThan(1500);
  expect(pause2).toBeLessThan(2500);
  const starts = audits.filter((a) => a.action === 'escrow.rotation-started');
  expect(starts[1]!.at).toBeGreaterThanOrEqual(Date.parse(first!.data.retryAt as string) - 50);
  expect(starts.map((a) => a.data.attempt ?? 1)).toEqual([1, 2, 3]);
  expect(dispatched).toEqual([
    StepKind.LocalAdminEscrow,
    StepKind.LocalAdminEscrow,
    StepKind.LocalAdminEscrow,
    StepKind.LocalAdminApply,
  ]);
});

it('tries at once when someone asks for the rotation during the pause, and shows the wait meanwhile', async () => {
  world.unreachableTries = 1;
  const handle = await start({ retryFailedAfterSeconds: 3600 });
  const waiting = await eventually(
    () => handle.query<RotateLocalAdminStatus>('rotationStatus'),
    (s) => s.state === 'waiting-to-retry',
  );
  expect(waiting).toMatchObject({
    failures: 1,
    rotations: 0,
    lastError: expect.stringMatching(/did not pick up/),
  });
  expect(Date.parse(waiting.rotateAt!)).toBeGreaterThan(Date.now() + 3_500_000);
  await handle.signal(rotationRequestedSignal, { actor: 'user:operator' });
  await expect(handle.result()).resolves.toMatchObject({ outcome: 'rotated', rotations: 1 });
});

it('fails for good when the retry window is over, in words, with the tries it made', async () => {
  world.unreachableTries = 10;
  const handle = await start({ retryFailedAfterSeconds: 1, retryFailedForSeconds: 2 });
  const failed = await handle.result().catch((err: unknown) => err);
  expect(failed).toBeInstanceOf(WorkflowFailedError);
  const cause = (failed as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe(AgentChannelFailure.MachineUnreachable);
  // Tried at 0 and +1 s; the next (+2 s more) would end after the 2 s window.
  expect(cause.message).toMatch(/\(2 tries since \d{4}-/);
  expect(failures().map((f) => [f.data.retryAt === undefined, f.data.stillRevealed ?? false])).toEqual([
    [false, false],
    [true, true],
  ]);
  expect((await handle.query<RotateLocalAdminStatus>('rotationStatus')).state).toBe('failed');
});

it('ends at once when nothing reached the machine, or when nobody revealed the secret', async () => {
  world.inactive = true;
  const refused = await (await start({ retryFailedAfterSeconds: 1 })).result().catch((err: unknown) => err);
  expect(((refused as WorkflowFailedError).cause as ApplicationFailure).type).toBe(
    RotationFailure.RotationMachineInactive,
  );
  expect(failures()).toHaveLength(1);
  // Nothing reached the machine, but the password someone saw is still valid: said for an alert.
  expect(failures()[0]!.data).toMatchObject({ stillRevealed: true });
  expect(failures()[0]!.data.retryAt).toBeUndefined();

  // An on-demand rotation of a password nobody has seen: the next scheduled one will do.
  world = { unreachableTries: 1 };
  audits.length = 0;
  const tenantId = randomUUID();
  const machineId = randomUUID();
  const onDemand = worker.client.workflow.execute<typeof rotateLocalAdminPassword>(
    'rotateLocalAdminPassword',
    {
      taskQueue: worker.taskQueue,
      workflowId: rotateLocalAdminWorkflowId(tenantId, machineId),
      args: [
        {
          tenantId,
          machineId,
          trigger: 'on-demand',
          requestedBy: 'user:operator',
          retryBackoffSeconds: 1,
          retryFailedAfterSeconds: 1,
        },
      ],
    },
  );
  await expect(onDemand).rejects.toBeInstanceOf(WorkflowFailedError);
  expect(failures()).toHaveLength(1);
  expect([failures()[0]!.data.retryAt, failures()[0]!.data.stillRevealed]).toEqual([undefined, undefined]);
});
