import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { repoRoot } from '../../infra/config/env';
import {
  cancelSignal,
  fleetProgressQuery,
  fleetRunWorkflowId,
  machineRunSettledSignal,
  pauseSignal,
  resumeSignal,
  type FleetRunInput,
  type MachineRunSettled,
} from '../../workflows/provisioning/contracts';
import type { fleetRun } from '../../workflows/provisioning/fleet-run';
import { RunStatusKey } from '../../workflows/search-attributes';
import { eventually, startFakeWorker, type Activities } from '../helpers/fake-worker';

/**
 * fleetRun against a real Temporal server with typed fake activities: the window, pause and resume,
 * cancel (from Drydock and from Temporal), continue-as-new, and a 1,000-machine cancel whose history
 * stays small. The fake keeps the machine runs' rows in memory, as the real activities keep them in
 * PostgreSQL; the tests play the machines' settles as their runs would send them.
 */
jest.setTimeout(60_000);

type Status = 'queued' | 'running' | 'passed' | 'failed' | 'cancelled';
interface Row {
  seq: number;
  workflowId: string;
  status: Status;
  finished: boolean;
}

class FakeFleet {
  readonly rows: Row[];
  startCalls = 0;
  cancelCalls = 0;
  checkCalls = 0;
  readonly records: { status: string; finished: boolean }[] = [];

  constructor(readonly total: number) {
    this.rows = Array.from({ length: total }, (_, i) => ({
      seq: i + 1,
      workflowId: `provision:fake:${randomUUID()}`,
      status: 'queued' as Status,
      finished: false,
    }));
  }

  counts() {
    const n = (s: Status) => this.rows.filter((r) => r.status === s).length;
    return { passed: n('passed'), failed: n('failed'), cancelled: n('cancelled') };
  }

  get running(): Row[] {
    return this.rows.filter((r) => r.status === 'running');
  }

  activities(): Partial<Activities> {
    return {
      snapshotFleetSelection: async () => ({ total: this.total }),
      startFleetMachines: async ({ fromSeq, limit }) => {
        this.startCalls++;
        return this.rows
          .filter((r) => r.seq >= fromSeq)
          .slice(0, limit)
          .map((r) => {
            if (r.finished)
              return {
                workflowId: r.workflowId,
                seq: r.seq,
                settled: r.status as MachineRunSettled['outcome'],
              };
            r.status = 'running';
            return { workflowId: r.workflowId, seq: r.seq };
          });
      },
      recordFleetRun: async ({ status, finished }) => {
        this.records.push({ status, finished: finished === true });
        if (finished)
          for (const r of this.rows.filter((x) => x.status === 'queued'))
            Object.assign(r, { status: 'cancelled', finished: true });
        return this.counts();
      },
      cancelFleetMachines: async () => {
        this.cancelCalls++;
        return { signalled: this.running.length };
      },
      // As the real check (ADR 0014): a run its row says settled, with no signal, is a suspect at
      // one check and late at the next.
      checkFleetMachines: async ({ workflowIds, suspects }) => {
        this.checkCalls++;
        const unsignalled = this.rows
          .filter((r) => workflowIds.includes(r.workflowId) && r.finished)
          .map((r) => ({
            runId: r.workflowId,
            workflowId: r.workflowId,
            outcome: r.status as MachineRunSettled['outcome'],
            seq: r.seq,
          }));
        const before = new Set(suspects);
        return {
          closed: [],
          late: unsignalled.filter((u) => before.has(u.workflowId)),
          suspects: unsignalled.filter((u) => !before.has(u.workflowId)).map((u) => u.workflowId),
        };
      },
    };
  }

  /** A machine run whose row settled but whose signal never reached the fleet (lost, or a reset). */
  settleSilently(row: Row, outcome: MachineRunSettled['outcome']): void {
    Object.assign(row, { status: outcome, finished: true });
  }

  /** A machine run settles as its record activity would: its row, then the fleet's signal. */
  async settle(handle: WorkflowHandle, row: Row, outcome: MachineRunSettled['outcome']): Promise<void> {
    Object.assign(row, { status: outcome, finished: outcome !== 'failed' });
    await handle.signal(machineRunSettledSignal, {
      runId: row.workflowId,
      workflowId: row.workflowId,
      outcome,
      seq: row.seq,
    });
  }
}

let worker: Awaited<ReturnType<typeof startFakeWorker>>;
let fleet: FakeFleet;
beforeEach(() => {
  fleet = new FakeFleet(0);
});
afterEach(async () => {
  await worker?.stop();
});

async function start(total: number, input: Partial<FleetRunInput> = {}) {
  fleet = new FakeFleet(total);
  worker = await startFakeWorker(fleet.activities());
  const fleetRunId = randomUUID();
  return worker.client.workflow.start<typeof fleetRun>('fleetRun', {
    taskQueue: worker.taskQueue,
    workflowId: fleetRunWorkflowId(fleetRunId),
    args: [
      {
        tenantId: randomUUID(),
        fleetRunId,
        profileId: randomUUID(),
        concurrency: 3,
        reconcileSeconds: 3600,
        ...input,
      },
    ],
  });
}

const progress = (handle: WorkflowHandle) => handle.query(fleetProgressQuery);

/** Writes a finished run's history to test/histories (DRYDOCK_RECORD_HISTORIES=1), for the replay test. */
async function record(handle: WorkflowHandle, name: string) {
  if (process.env.DRYDOCK_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  writeFileSync(path.join(repoRoot, 'test', 'histories', name), `${historyToJSON(history)}\n`);
}

it('keeps at most `concurrency` machines running, starts the next as each settles, and counts from the rows', async () => {
  const handle = await start(10, { concurrency: 3 });
  let most = 0;
  let settled = 0;
  while (settled < 10) {
    // The window has taken every settle so far and refilled: as many running as there is room for.
    const p = await eventually(
      () => progress(handle),
      (v) => v.running === Math.min(3, 10 - settled),
    );
    most = Math.max(most, p.running, fleet.running.length);
    const next = fleet.running[0]!;
    await fleet.settle(handle, next, next.seq === 4 ? 'failed' : 'passed');
    settled++;
  }
  expect(most).toBe(3);
  expect(await handle.result()).toEqual({ total: 10, passed: 9, failed: 1, cancelled: 0, outcome: 'FAIL' });
  expect(fleet.records.at(-1)).toEqual({ status: 'completed', finished: true });
});

it('starts nothing while paused, and goes on when resumed; continue-as-new carries the window', async () => {
  const handle = await start(8, { concurrency: 2, batchSize: 3 });
  await eventually(
    () => progress(handle),
    (p) => p.running === 2,
  );
  await handle.signal(pauseSignal);
  for (const row of fleet.running) await fleet.settle(handle, row, 'passed');
  const paused = await eventually(
    () => progress(handle),
    (p) => p.running === 0,
  );
  expect(paused).toMatchObject({ state: 'paused', queued: 6 });
  const startsWhilePaused = fleet.startCalls;
  await handle.signal(resumeSignal);
  while ((await progress(handle)).state !== 'done') {
    await eventually(
      () => progress(handle),
      (p) => p.running > 0 || p.state === 'done',
    );
    for (const row of fleet.running) await fleet.settle(handle, row, 'passed');
  }
  expect(fleet.startCalls).toBeGreaterThan(startsWhilePaused);
  const result = await handle.result();
  expect(result).toMatchObject({ total: 8, passed: 8, outcome: 'PASS' });
  // Three batches of three starts: two continue-as-new, each history holding only its batch.
  expect((await progress(handle)).batches).toBeGreaterThanOrEqual(3);
});

it('writes its RunStatus search attribute only when the status changes, not again after each continue-as-new', async () => {
  const handle = await start(6, { concurrency: 2, batchSize: 2 });
  await eventually(
    () => progress(handle),
    (p) => p.running === 2,
  );
  await handle.signal(pauseSignal);
  await eventually(
    () => progress(handle),
    (p) => p.state === 'paused',
  );
  await handle.signal(resumeSignal);
  while ((await progress(handle)).state !== 'done') {
    await eventually(
      () => progress(handle),
      (p) => p.running > 0 || p.state === 'done',
    );
    for (const row of fleet.running) await fleet.settle(handle, row, 'passed');
  }
  expect(await handle.result()).toMatchObject({ total: 6, passed: 6, outcome: 'PASS' });

  // Every run of the chain, first to last, and the status each search-attribute upsert wrote.
  const written: string[] = [];
  let runId: string | undefined = handle.firstExecutionRunId;
  let runs = 0;
  while (runId) {
    const history = await worker.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    runs++;
    runId = undefined;
    for (const e of history.events ?? []) {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
      const status = fields?.[RunStatusKey.name];
      if (status) written.push(JSON.parse(Buffer.from(status.data!).toString('utf8')) as string);
      runId = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? runId;
    }
  }
  await record(
    worker.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId),
    'fleet-run-v3-status-once-first.json',
  );
  await record(handle, 'fleet-run-v3-status-once-last.json');
  expect(runs).toBeGreaterThanOrEqual(3);
  // Once at the start (the starter set none here), then each change: never "running" again unchanged.
  expect(written).toEqual(['running', 'paused', 'running', 'completed']);
});

it('applies a machine run settled by its row but never signalled as late at the second check, and counts it', async () => {
  const handle = await start(3, { concurrency: 3, reconcileSeconds: 1 });
  await eventually(
    () => progress(handle),
    (p) => p.running === 3,
  );
  const [a, b, lost] = fleet.running;
  await fleet.settle(handle, a!, 'passed');
  await fleet.settle(handle, b!, 'failed');
  fleet.settleSilently(lost!, 'passed');
  expect(await handle.result()).toEqual({ total: 3, passed: 2, failed: 1, cancelled: 0, outcome: 'FAIL' });
  // A suspect at one check, late at the next: never applied on the first sighting.
  expect(fleet.checkCalls).toBeGreaterThanOrEqual(2);
  expect(await progress(handle)).toMatchObject({ lateSignals: 1, closedInTemporal: 0, recovered: 1 });
});

it('cancels after continue-as-new: the machines once through an activity, never-started ones from the rows, and ends CANCELLED', async () => {
  // Two starts fill the batch: the first run continues as new with the window; the next is paused,
  // resumed and cancelled.
  const handle = await start(5, { concurrency: 2, batchSize: 2 });
  await eventually(
    () => progress(handle),
    (p) => p.running === 2 && p.batches === 2,
  );
  await handle.signal(pauseSignal);
  await handle.signal(resumeSignal);
  await handle.signal(cancelSignal);
  await eventually(
    async () => fleet.cancelCalls,
    (n) => n === 1,
  );
  for (const row of fleet.running) await fleet.settle(handle, row, 'cancelled');
  expect(await handle.result()).toEqual({
    total: 5,
    passed: 0,
    failed: 0,
    cancelled: 5,
    outcome: 'CANCELLED',
  });
  expect(fleet.cancelCalls).toBe(1);
  await record(
    worker.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId),
    'fleet-run-v2-continued-as-new.json',
  );
  await record(handle, 'fleet-run-v2-paused-cancelled.json');
});

it('cancelled in Temporal (the UI, the CLI): cancels its machines and ends its row cancelled before it closes', async () => {
  const handle = await start(4, { concurrency: 2 });
  await eventually(
    () => progress(handle),
    (p) => p.running === 2,
  );
  await handle.cancel();
  const failure = await handle.result().catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(fleet.cancelCalls).toBe(1);
  expect(fleet.records.at(-1)).toEqual({ status: 'cancelled', finished: true });
});

it('cancels 1,000 running machines with a handful of history events, not a few per machine', async () => {
  const handle = await start(1000, { concurrency: 1000, batchSize: 1000 });
  await eventually(
    () => progress(handle),
    (p) => p.running === 1000,
    60_000,
  );
  const before = (await handle.fetchHistory()).events!.length;
  await handle.signal(cancelSignal);
  await eventually(
    () => progress(handle),
    (p) => p.state === 'cancelling',
  );
  await eventually(
    async () => fleet.cancelCalls,
    (n) => n === 1,
  );
  await eventually(async () => fleet.records.some((r) => r.status === 'cancelling'), Boolean);
  const fanOut = (await handle.fetchHistory()).events!.length - before;
  // The signal, a workflow task, the fan-out's marker and the row's: O(1), whatever the fleet's size.
  expect(fanOut).toBeLessThan(20);
  await handle.terminate('test done');
});
