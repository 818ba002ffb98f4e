import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import {
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type WorkflowHandle,
} from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { repoRoot } from '../../infra/config/env';
import { StepFailure, StepKind, type TaskResult } from '../../infra/wire/agent-steps';
import { bootIdChangedSignal, stepFailure } from '../../workflows/machines/contracts';
import {
  cancelSignal,
  machineProgressQuery,
  pauseSignal,
  provisionMachineWorkflowId,
  resumeSignal,
  retryFromStepUpdate,
  type PlanStep,
  type ProvisionMachineInput,
} from '../../workflows/provisioning/contracts';
import type { provisionMachine } from '../../workflows/provisioning/provision-machine';
import type { RecordMachineRunInput } from '../../activities/provisioning/provisioning-activities';
import { eventually, startFakeWorker, type Activities } from '../helpers/fake-worker';

/**
 * provisionMachine against a real Temporal server with typed fake activities: pause, resume and
 * cancel between steps, retry from a step, a retry that arrives while the failure is being recorded,
 * an update waiting when the run is cancelled, a cancel from Temporal, and bookkeeping failures that
 * never become step failures.
 */
jest.setTimeout(60_000);

const PLAN: PlanStep[] = [
  {
    key: 'preflight',
    phase: 'preflight',
    kind: StepKind.Preflight,
    label: 'Preflight',
    payload: {
      requireAcPower: false,
      minFreeDiskGb: 0,
      requireTpm: false,
      requireSecureBoot: false,
      minOsBuild: 0,
    },
    policy: 'check',
  },
  {
    key: 'apps.winget:Contoso.App',
    phase: 'apps',
    kind: StepKind.Winget,
    label: 'Contoso App',
    payload: { id: 'Contoso.App' },
    policy: 'install',
  },
  {
    key: 'validation',
    phase: 'validation',
    kind: StepKind.Validate,
    label: 'Validate',
    payload: { apps: ['Contoso.App'], installers: [], registry: [], wifi: [] },
    policy: 'check',
  },
];

/** What each step of the plan answers when it passes, typed by its kind. */
const ANSWERS: { [K in StepKind]?: TaskResult<K> } = {
  [StepKind.Preflight]: { checks: [] },
  [StepKind.Winget]: { exitCode: 0, outcome: 'installed' },
  [StepKind.Validate]: { items: [{ item: 'app', pass: true, detail: 'installed' }] },
  // The boot the machine restarts from; the new one arrives as the bootIdChanged signal.
  [StepKind.Reboot]: { bootId: 'boot-1' },
};

/** A gate a fake waits at until the test opens it. */
class Gate {
  private open!: () => void;
  readonly opened = new Promise<void>((r) => (this.open = r));
  waiting = false;
  release(): void {
    this.open();
  }
}

class FakeRun {
  readonly records: RecordMachineRunInput[] = [];
  readonly dispatched: string[] = [];
  /** The app step fails (permanently) until the profile is "fixed". */
  broken = true;
  /** Per step key: the step waits here before it answers. */
  readonly stepGates = new Map<string, Gate>();
  /** Records of this status wait here. */
  readonly recordGates = new Map<string, Gate>();
  /** Records fail this many times (a database outage) before they succeed. */
  recordFailures = 0;

  /** The app step answers "restart before installing" (winget 0x8A15010A) until the machine restarted. */
  rebootFirst = false;
  /** The restarts the machine was asked for, by reason. */
  readonly reboots: string[] = [];

  /** Whether a cancel finds the current step still queued (an offline machine) and takes it back. */
  queued = false;
  withdrawals = 0;

  activities(): Partial<Activities> {
    return {
      withdrawQueuedSteps: async () => {
        this.withdrawals++;
        return { withdrawn: this.queued ? 1 : 0 };
      },
      prepareMachineRun: async () => ({
        plan: PLAN,
        profileId: randomUUID(),
        profileName: 'Standard',
        profileVersion: 1,
      }),
      recordMachineRun: async (update) => {
        if (this.recordFailures > 0) {
          this.recordFailures--;
          throw new Error('connection refused (a database outage)');
        }
        const gate = this.recordGates.get(update.status);
        if (gate) {
          gate.waiting = true;
          await gate.opened;
        }
        this.records.push(update);
      },
      dispatchAgentTask: async (task) => {
        if (task.kind === StepKind.Reboot) {
          this.reboots.push((task.payload as { reason?: string }).reason ?? '');
          this.dispatched.push('reboot');
          this.rebootFirst = false;
          const restarting = ANSWERS[task.kind];
          if (!restarting) throw new Error('the fake has no answer for a restart');
          return restarting;
        }
        const key = PLAN.find((s) => s.kind === task.kind)!.key;
        this.dispatched.push(key);
        const gate = this.stepGates.get(key);
        if (gate) {
          gate.waiting = true;
          // A step the machine is on heartbeats; a cancelled activity ends.
          const beat = setInterval(() => Context.current().heartbeat(), 200);
          try {
            await Promise.race([gate.opened, Context.current().cancelled]);
          } finally {
            clearInterval(beat);
          }
        }
        if (task.kind === StepKind.Winget && this.rebootFirst)
          throw stepFailure({
            type: StepFailure.RebootRequiredFirst,
            message:
              'winget install Contoso.App exited 0x8A15010A (RebootRequiredToInstall): the package needs a restart before it installs; restarting, then trying again',
            retryable: true,
          });
        if (task.kind === StepKind.Winget && this.broken)
          throw stepFailure({
            type: 'WingetPackageNotFound',
            message: 'no package Contoso.App',
            retryable: false,
          });
        const answer = ANSWERS[task.kind];
        if (!answer) throw new Error(`the fake plan has no ${task.kind} step`);
        return answer;
      },
    };
  }

  statuses(): string[] {
    return this.records.map((r) => `${r.status}${r.finished ? '!' : ''}`);
  }
}

let worker: Awaited<ReturnType<typeof startFakeWorker>>;
let fake: FakeRun;
afterEach(async () => {
  for (const gate of [...fake.stepGates.values(), ...fake.recordGates.values()]) gate.release();
  await worker?.stop();
});

async function start(setup: (f: FakeRun) => void = () => {}) {
  fake = new FakeRun();
  setup(fake);
  worker = await startFakeWorker(fake.activities());
  const machineId = randomUUID();
  const runId = randomUUID();
  const input: ProvisionMachineInput = {
    tenantId: randomUUID(),
    machineId,
    siteId: randomUUID(),
    runId,
    profileId: randomUUID(),
    retryBackoffSeconds: 0,
    failedHoldSeconds: 3600,
  };
  return worker.client.workflow.start<typeof provisionMachine>('provisionMachine', {
    taskQueue: worker.taskQueue,
    workflowId: provisionMachineWorkflowId(machineId, runId),
    args: [input],
    // A local activity held at a gate keeps its workflow task open until the task's heartbeat (80% of
    // this): short, so an update or a signal meanwhile is delivered in a second or two, not ten.
    workflowTaskTimeout: '2 seconds',
  });
}

const progress = (h: WorkflowHandle) => h.query(machineProgressQuery);

async function record(handle: WorkflowHandle, name: string) {
  if (process.env.DRYDOCK_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  writeFileSync(path.join(repoRoot, 'test', 'histories', name), `${historyToJSON(history)}\n`);
}

it('pauses between steps, resumes, and a cancel stops it after the current step', async () => {
  const handle = await start((f) => {
    f.broken = false;
    f.stepGates.set('preflight', new Gate());
  });
  await eventually(async () => fake.stepGates.get('preflight')!.waiting, Boolean);
  await handle.signal(pauseSignal);
  fake.stepGates.get('preflight')!.release();
  await eventually(
    () => progress(handle),
    (p) => p.state === 'paused',
  );
  expect(fake.dispatched).toEqual(['preflight']); // nothing more while paused
  const app = new Gate();
  fake.stepGates.set('apps.winget:Contoso.App', app);
  await handle.signal(resumeSignal);
  await eventually(async () => app.waiting, Boolean);
  await handle.signal(cancelSignal);
  app.release();
  expect(await handle.result()).toMatchObject({ outcome: 'cancelled', reason: 'cancelled by an operator' });
  // The app step finished; validation never started.
  expect(fake.dispatched).toEqual(['preflight', 'apps.winget:Contoso.App']);
  expect(fake.statuses()).toEqual(['paused', 'cancelled!']);
});

it('a cancel takes back a step no machine has picked up, and the run ends cancelled at once', async () => {
  const handle = await start((f) => {
    f.queued = true; // the laptop is away: its step waits in the queue
    f.stepGates.set('preflight', new Gate());
  });
  await eventually(async () => fake.stepGates.get('preflight')!.waiting, Boolean);
  await handle.signal(cancelSignal);
  expect(await handle.result()).toMatchObject({ outcome: 'cancelled', reason: 'cancelled by an operator' });
  expect(fake.withdrawals).toBe(1);
  expect(fake.statuses()).toEqual(['cancelled!']);
});

it('waits after a failure and runs again from the failed step when asked', async () => {
  const handle = await start();
  await eventually(
    () => progress(handle),
    (p) => p.state === 'failed',
  );
  expect(fake.records.at(-1)).toMatchObject({
    status: 'failed',
    lastError: { type: 'WingetPackageNotFound', step: 'apps.winget:Contoso.App' },
  });
  fake.broken = false;
  const step = await handle.executeUpdate(retryFromStepUpdate, { args: [{}] });
  expect(step).toBe('apps.winget:Contoso.App');
  expect(await handle.result()).toMatchObject({ outcome: 'passed' });
  // The preflight ran once; the app twice (failed, then passed).
  expect(fake.dispatched).toEqual([
    'preflight',
    'apps.winget:Contoso.App',
    'apps.winget:Contoso.App',
    'validation',
  ]);
});

it('takes a retry that arrives while the failure is being recorded (it is not lost)', async () => {
  const failed = new Gate();
  const handle = await start((f) => f.recordGates.set('failed', failed));
  await eventually(async () => failed.waiting, Boolean);
  // The run is failed, its record not written yet: the retry is accepted now...
  fake.broken = false;
  const update = await handle.startUpdate(retryFromStepUpdate, {
    args: [{}],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  failed.release();
  // ...and taken up once the record is done.
  expect(await update.result()).toBe('apps.winget:Contoso.App');
  expect(await handle.result()).toMatchObject({ outcome: 'passed' });
});

it('answers a waiting retry when the run is cancelled instead, and ends cancelled', async () => {
  const failed = new Gate();
  const handle = await start((f) => f.recordGates.set('failed', failed));
  await eventually(async () => failed.waiting, Boolean);
  await handle.signal(cancelSignal);
  const update = await handle.startUpdate(retryFromStepUpdate, {
    args: [{}],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  failed.release();
  const answer = await update.result().catch((err: unknown) => err);
  expect(answer).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(await handle.result()).toMatchObject({ outcome: 'cancelled' });
  expect(fake.statuses()).toEqual(['failed', 'cancelled!']);
  await record(handle, 'provision-machine-v2-retry-then-cancel.json');
});

it('cancelled in Temporal mid-step: settles its row cancelled before it closes', async () => {
  const handle = await start((f) => f.stepGates.set('preflight', new Gate()));
  await eventually(async () => fake.stepGates.get('preflight')!.waiting, Boolean);
  await handle.cancel();
  const failure = await handle.result().catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(fake.records.at(-1)).toMatchObject({ status: 'cancelled', finished: true });
});

it('a database that fails its bookkeeping for a while delays the run, never fails it', async () => {
  const handle = await start((f) => {
    f.broken = false;
    f.recordFailures = 3;
  });
  expect(await handle.result()).toMatchObject({ outcome: 'passed' });
  expect(fake.statuses()).toEqual(['passed!']);
});

it('restarts the machine when a step must restart first (RebootRequiredFirst), then runs that step again', async () => {
  const handle = await start((f) => {
    f.broken = false;
    f.rebootFirst = true;
  });
  // The restart is asked for; the machine comes back with a new boot id.
  await eventually(async () => fake.dispatched.includes('reboot'), Boolean);
  expect((await progress(handle)).state).toBe('rebooting');
  await handle.signal(bootIdChangedSignal, { bootId: 'boot-2', previousBootId: 'boot-1' });
  expect(await handle.result()).toMatchObject({ outcome: 'passed' });
  // The app step: refused before the restart, installed after it; no back-off attempt without one.
  expect(fake.dispatched).toEqual([
    'preflight',
    'apps.winget:Contoso.App',
    'reboot',
    'apps.winget:Contoso.App',
    'validation',
  ]);
  expect(fake.reboots).toEqual(['apps.winget:Contoso.App asks for a restart before it installs']);
  const final = await progress(handle);
  expect(final.reboots).toEqual([
    { reason: 'apps.winget:Contoso.App asks for a restart before it installs', seconds: expect.any(Number) },
  ]);
  expect(final.steps.find((step) => step.key === 'apps.winget:Contoso.App')).toMatchObject({
    status: 'done',
    attempts: 2,
  });
  expect(fake.statuses()).toEqual(['passed!']);
});
