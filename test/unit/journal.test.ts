import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Journal, type JournalEntry } from '../../agent/journal';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-journal-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entry = (state: JournalEntry['state'], reported = false): JournalEntry => ({
  task: { id: randomUUID(), kind: 'inventory.collect', payload: {}, idempotencyKey: `wf:${randomUUID()}` },
  state,
  ...(state === 'finished' ? { outcome: { ok: true as const, result: { n: 1 } } } : {}),
  reported,
});

/** The ids of the entries a journal still has to report, sorted. */
const pendingIds = (journal: Journal) =>
  journal
    .pending()
    .map((e) => e.task.id)
    .sort();

describe('the agent journal', () => {
  it('keeps unacknowledged entries across a restart, and forgets acknowledged ones as pending', () => {
    const started = entry('started');
    const finished = entry('finished');
    const acknowledged = entry('finished');
    const journal = new Journal(dir);
    for (const e of [started, finished, acknowledged]) journal.put(e);
    journal.put({ ...acknowledged, reported: true });
    expect(pendingIds(journal)).toEqual([started.task.id, finished.task.id].sort());

    const reopened = new Journal(dir);
    expect(pendingIds(reopened)).toEqual([started.task.id, finished.task.id].sort());
    // A redelivered task finds its outcome, acknowledged or not: it never runs twice.
    expect(reopened.get(finished.task.id)).toMatchObject({ state: 'finished', reported: false });
    expect(reopened.get(acknowledged.task.id)).toMatchObject({ state: 'finished', reported: true });
    expect(reopened.get(randomUUID())).toBeNull();
  });

  it('finds a step by its idempotency key under another task id, across a restart', () => {
    const ran = { ...entry('finished'), reported: true };
    const open = entry('started');
    const journal = new Journal(dir);
    journal.put(ran);
    journal.put(open);
    const reissued = randomUUID();
    expect(journal.getByKey(ran.task.idempotencyKey, reissued)).toMatchObject({
      task: { id: ran.task.id },
      state: 'finished',
      outcome: { ok: true, result: { n: 1 } },
    });
    // The entry's own id is not "another task"; an unknown key finds nothing.
    expect(journal.getByKey(ran.task.idempotencyKey, ran.task.id)).toBeNull();
    expect(journal.getByKey(`wf:${randomUUID()}`, reissued)).toBeNull();

    const reopened = new Journal(dir);
    expect(reopened.getByKey(ran.task.idempotencyKey, reissued)).toMatchObject({ task: { id: ran.task.id } });
    expect(reopened.getByKey(open.task.idempotencyKey, reissued)).toMatchObject({ state: 'started' });
  });

  it('deletes acknowledged entries past their keep time when it opens, never unacknowledged ones', () => {
    const old = { ...entry('finished'), reported: true };
    const oldUnreported = entry('finished');
    const recent = { ...entry('finished'), reported: true };
    const journal = new Journal(dir);
    for (const e of [old, oldUnreported, recent]) journal.put(e);
    const weekAgo = new Date(Date.now() - 8 * 24 * 3600_000);
    for (const e of [old, oldUnreported]) {
      utimesSync(path.join(dir, 'journal', `${e.task.id}.json`), weekAgo, weekAgo);
    }

    const reopened = new Journal(dir);
    expect(existsSync(path.join(dir, 'journal', `${old.task.id}.json`))).toBe(false);
    expect(reopened.get(old.task.id)).toBeNull();
    expect(reopened.get(recent.task.id)).toMatchObject({ reported: true });
    expect(reopened.pending().map((e) => e.task.id)).toEqual([oldUnreported.task.id]);
  });

  it('writes entries whole whether or not it fsyncs', () => {
    const e = entry('finished');
    new Journal(dir, { fsync: false }).put(e);
    expect(new Journal(dir).get(e.task.id)).toEqual(e);
  });

  it("never writes a gateway's domain credential to disk", () => {
    const journal = new Journal(dir);
    const withCredential = entry('started');
    withCredential.task.credential = { domain: 'drydock.test', user: 'svc', password: 'Journal-Passw0rd!' };
    journal.put(withCredential);
    const files = readdirSync(path.join(dir, 'journal'));
    expect(files).toHaveLength(1);
    expect(readFileSync(path.join(dir, 'journal', files[0]!), 'utf8')).not.toContain('Journal-Passw0rd!');
    expect(JSON.stringify(new Journal(dir).pending())).not.toContain('Journal-Passw0rd!');
  });

  it("never writes a push step's one-time installer link to disk", () => {
    const journal = new Journal(dir);
    const withLink = entry('started');
    withLink.task.installerUrl = 'https://drydock.example.com/installers/once/t/g/a.msi?token=Journal-Token';
    journal.put(withLink);
    const files = readdirSync(path.join(dir, 'journal'));
    expect(readFileSync(path.join(dir, 'journal', files[0]!), 'utf8')).not.toContain('Journal-Token');
    expect(JSON.stringify(new Journal(dir).pending())).not.toContain('Journal-Token');
  });
});
