import { IdleMachines } from '../../api/agent-channel/idle-machines';

/** The API's record of machines with nothing to claim (api/agent-channel/idle-machines.ts). */
describe('IdleMachines', () => {
  const listening = (ttlMs?: number, max?: number) => {
    const idle = new IdleMachines(ttlMs, max);
    idle.setListening(true);
    return idle;
  };

  it('marks a machine after a claim found nothing, until its next notice', () => {
    const idle = listening();
    const mark = idle.mark('m1');
    expect(idle.has('m1')).toBe(false);
    idle.claimedNothing('m1', mark);
    expect(idle.has('m1')).toBe(true);
    expect(idle.has('m2')).toBe(false);
    idle.touched('m1');
    expect(idle.has('m1')).toBe(false);
  });

  it('marks nothing when a notice or a delivery of the machine overlapped the claim', () => {
    const idle = listening();
    const mark = idle.mark('m1');
    idle.touched('m1');
    idle.claimedNothing('m1', mark);
    expect(idle.has('m1')).toBe(false);
    expect(idle.changedSince('m1', mark)).toBe(true);
    // Another machine's notice changes nothing for this one.
    const again = idle.mark('m1');
    idle.touched('m2');
    expect(idle.changedSince('m1', again)).toBe(false);
    idle.claimedNothing('m1', again);
    expect(idle.has('m1')).toBe(true);
  });

  it('marks nothing while notices may be missed, and forgets every mark when they may have been', () => {
    const idle = new IdleMachines();
    idle.claimedNothing('m1', idle.mark('m1'));
    expect(idle.has('m1')).toBe(false);
    idle.setListening(true);
    idle.claimedNothing('m1', idle.mark('m1'));
    const open = idle.mark('m2');
    idle.setListening(false);
    expect(idle.has('m1')).toBe(false);
    idle.setListening(true);
    // A claim begun before the connection dropped marks nothing after it is back.
    idle.claimedNothing('m2', open);
    expect(idle.has('m2')).toBe(false);
  });

  it('forgets all marks on a revocation or re-key, and trusts a mark for its time only', async () => {
    const idle = listening(50);
    idle.claimedNothing('m1', idle.mark('m1'));
    idle.forgetAll();
    expect(idle.has('m1')).toBe(false);
    idle.claimedNothing('m1', idle.mark('m1'));
    expect(idle.has('m1')).toBe(true);
    await new Promise((r) => setTimeout(r, 60));
    expect(idle.has('m1')).toBe(false);
  });

  it('stays bounded: past its size it marks no new machine, and dropping its counters voids open marks', () => {
    const idle = listening(60_000, 2);
    idle.claimedNothing('a', idle.mark('a'));
    idle.claimedNothing('b', idle.mark('b'));
    idle.claimedNothing('c', idle.mark('c'));
    expect([idle.has('a'), idle.has('b'), idle.has('c'), idle.size]).toEqual([true, true, false, 2]);
    idle.touched('a');
    idle.touched('b');
    const open = idle.mark('a');
    idle.touched('c'); // a third machine's counter: all counters and marks go
    expect(idle.has('b')).toBe(false);
    idle.claimedNothing('a', open);
    expect(idle.has('a')).toBe(false);
  });
});
