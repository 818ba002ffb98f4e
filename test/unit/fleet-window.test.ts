import { FleetWindow } from '../../workflows/provisioning/fleet-window';
import type { MachineRunSettled } from '../../workflows/provisioning/contracts';

const run = (seq: number) => ({ workflowId: `provision:m${seq}:r${seq}`, seq });
const settled = (seq: number, outcome: MachineRunSettled['outcome'] = 'passed'): MachineRunSettled => ({
  runId: `r${seq}`,
  workflowId: run(seq).workflowId,
  outcome,
  seq,
});
const fresh = (total: number, concurrency = 10, batchSize = 500) =>
  new FleetWindow({ concurrency, batchSize }, { total, nextSeq: 1, running: [], early: [] });

describe('FleetWindow', () => {
  it('has room for the window, and refills in groups of a tenth of it', () => {
    const w = fresh(100, 10);
    expect(w.room()).toBe(10);
    expect(w.refillDue()).toBe(true);
    w.started([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(run));
    expect(w.room()).toBe(0);
    expect(w.refillDue()).toBe(false);
    expect(w.settle(settled(1))).toBe('freed');
    // One slot is a tenth of a window of 10: worth a start.
    expect(w.refillDue()).toBe(true);
    const big = fresh(1000, 100);
    big.started(Array.from({ length: 100 }, (_, i) => run(i + 1)));
    for (let seq = 1; seq <= 9; seq++) big.settle(settled(seq));
    expect(big.refillDue()).toBe(false); // 9 free slots: wait for the tenth
    big.settle(settled(10));
    expect(big.refillDue()).toBe(true);
  });

  it('frees a slot once per run: repeats and later outcomes of a settled run change nothing', () => {
    const w = fresh(3, 3);
    w.started([1, 2, 3].map(run));
    expect(w.settle(settled(2, 'failed'))).toBe('freed');
    expect(w.settle(settled(2, 'failed'))).toBe('ignored');
    expect(w.settle(settled(2, 'passed'))).toBe('ignored'); // a retry's pass: the rows count it
    expect(w.runningCount).toBe(2);
  });

  it('keeps a settle that arrives before its start was taken, and applies it at the start', () => {
    const w = fresh(3, 1);
    w.started([run(1)]);
    expect(w.settle(settled(2))).toBe('early');
    expect(w.settle(settled(1))).toBe('freed');
    const waiting = w.started([run(2)]);
    expect(waiting).toEqual([settled(2)]);
    expect(w.settle(waiting[0]!)).toBe('freed');
    expect(w.runningCount).toBe(0);
  });

  it('takes no slot for a run whose row had settled already, and is done when all are', () => {
    const w = fresh(2, 2);
    w.started([{ ...run(1), settled: 'passed' }, run(2)]);
    expect(w.runningCount).toBe(1);
    expect(w.done(false)).toBe(false);
    w.settle(settled(2));
    expect(w.done(false)).toBe(true);
  });

  it('ends its batch after batchSize starts, and carries only the window', () => {
    const w = fresh(1000, 50, 60);
    w.started(Array.from({ length: 50 }, (_, i) => run(i + 1)));
    for (let seq = 1; seq <= 20; seq++) w.settle(settled(seq));
    expect(w.room()).toBe(10); // the batch has 10 starts left, though 20 slots are free
    w.started(Array.from({ length: 10 }, (_, i) => run(51 + i)));
    expect(w.batchFull()).toBe(true);
    const carried = w.carry();
    expect(carried).toMatchObject({ total: 1000, nextSeq: 61 });
    expect(carried.running).toHaveLength(40);
    const next = new FleetWindow({ concurrency: 50, batchSize: 60 }, carried);
    expect(next.batchFull()).toBe(false);
    expect(next.room()).toBe(10);
  });

  it('stops starting when cancelled, and is done when nothing runs', () => {
    const w = fresh(10, 2);
    w.started([1, 2].map(run));
    expect(w.exhausted(true)).toBe(true);
    expect(w.done(true)).toBe(false);
    w.settle(settled(1, 'cancelled'));
    w.settle(settled(2, 'cancelled'));
    expect(w.done(true)).toBe(true);
  });
});
