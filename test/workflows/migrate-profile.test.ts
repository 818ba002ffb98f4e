import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { StepError } from '../../agent/platform/platform';
import type { SimulatedPlatform } from '../../agent/platform/simulated/simulated-host';
import { runStep } from '../../agent/steps';
import { repoRoot } from '../../infra/config/env';
import type { StepKind, TaskResult } from '../../infra/wire/agent-steps';
import { stepFailure } from '../../workflows/machines/contracts';
import {
  decideRetireUpdate,
  migrateProfilesProgressQuery,
  migrateProfilesWorkflowId,
  migrateProfileWorkflowId,
  migrationProgressQuery,
  type MigrateProfileInput,
} from '../../workflows/migration/contracts';
import type { migrateProfile } from '../../workflows/migration/migrate-profile';
import type { migrateProfiles } from '../../workflows/migration/migrate-profiles';
import { eventually, startFakeWorker, type Activities } from '../helpers/fake-worker';
import { changeableState, ctx, entraTarget, migrationHost, migrationInput } from '../helpers/migration-host';

/**
 * migrateProfile against a real Temporal server, its agent channel a typed fake that runs each step
 * on a simulated host (the real step handlers): the saga passes with an operator's decision,
 * compensates from the backup after a failure, waits for a signed-in user (asking them once), and
 * rolls back when cancelled; the update's validator refuses a decision at the wrong time.
 */
jest.setTimeout(60_000);

let dir: string;
let host: SimulatedPlatform;
/** Other machines' hosts by machine id (the batch test); `host` is machine `m`. */
const hosts = new Map<string, SimulatedPlatform>();
let worker: Awaited<ReturnType<typeof startFakeWorker>>;
const kinds: string[] = [];

const recorded: string[] = [];
/** Each step dispatched: which machine, which kind, for which source (check) or backup. */
const dispatched: { machineId: string; kind: string; of: string }[] = [];
const agentChannel: Pick<
  Activities,
  'dispatchAgentTask' | 'recordProfileMigration' | 'finishProfileMigrationBatch'
> = {
  async finishProfileMigrationBatch() {},
  async recordProfileMigration(update) {
    recorded.push(`${update.progress.state}${update.finished ? '!' : ''}`);
    return { ended: false };
  },
  async dispatchAgentTask<K extends StepKind>(input: {
    machineId: string;
    kind: K;
    payload: unknown;
  }): Promise<TaskResult<K>> {
    kinds.push(input.kind);
    const p = input.payload as { source?: string; backupId?: string };
    dispatched.push({ machineId: input.machineId, kind: input.kind, of: p.backupId ?? p.source ?? '' });
    try {
      return (await runStep(
        hosts.get(input.machineId) ?? host,
        input.kind,
        input.payload,
        ctx(`${input.kind}:${kinds.length}`),
      )) as TaskResult<K>;
    } catch (err) {
      if (err instanceof StepError)
        throw stepFailure({ type: err.type, message: err.message, retryable: err.retryable });
      throw err;
    }
  },
};

beforeAll(async () => {
  worker = await startFakeWorker(agentChannel);
});
afterAll(async () => worker.stop());
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-migrate-wf-'));
  host = migrationHost(dir, 'pc');
  kinds.length = 0;
  recorded.length = 0;
  hosts.clear();
  dispatched.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function start(over: Partial<MigrateProfileInput>): Promise<WorkflowHandle<typeof migrateProfile>> {
  const input = migrationInput({
    source: 'alice',
    target: entraTarget(),
    migrationId: `mig-${++n}-${Date.now()}`,
    ...over,
  });
  return worker.client.workflow.start<typeof migrateProfile>('migrateProfile', {
    taskQueue: worker.taskQueue,
    workflowId: migrateProfileWorkflowId(input.machineId, input.migrationId),
    args: [input],
  });
}

async function record(handle: WorkflowHandle, name: string) {
  if (process.env.DRYDOCK_RECORD_HISTORIES !== '1') return;
  writeFileSync(
    path.join(repoRoot, 'test', 'histories', name),
    `${historyToJSON(await handle.fetchHistory())}\n`,
  );
}

const state = (h: WorkflowHandle) => h.query(migrationProgressQuery).then((p) => p.state);

it('passes: check, backup, re-assign, repair, verify, the operator decides, the old account is disabled', async () => {
  const h = await start({ retire: 'disable' });
  await eventually(
    () => state(h),
    (s) => s === 'awaiting-approval',
  );
  const p = await h.query(migrationProgressQuery);
  expect(p.backupChecksum).toMatch(/^[0-9a-f]{64}$/);
  expect(p.notMovable.map((x) => x.item)).toEqual(expect.arrayContaining([expect.stringContaining('DPAPI')]));
  await expect(
    h.executeUpdate(decideRetireUpdate, { args: [{ decision: 'retire', actor: 'op@msp' }] }),
  ).resolves.toBe('awaiting-approval');
  await expect(h.result()).resolves.toEqual({ outcome: 'passed' });
  expect(kinds).toEqual([
    'profile.check',
    'profile.backup',
    'profile.reassign',
    'profile.repair',
    'profile.verify',
    'profile.retire',
  ]);
  expect(recorded).toEqual([
    'checking',
    'backing-up',
    'migrating',
    'repairing',
    'verifying',
    'awaiting-approval',
    'retiring',
    'passed!',
  ]);
  const alice = host.snapshot.profiles.accounts.find((a) => a.name === 'alice')!;
  expect(alice.enabled).toBe(false);
  expect(host.snapshot.profiles.profileList[p.targetSid!]).toBeDefined();
  await record(h, 'migrate-profile-passed.json');
});

it('refuses a decision before the migration waits for one, and "retire" when the account is kept', async () => {
  host.mutate((s) => void (s.profiles.faults['repair'] = 'transient'));
  const h = await start({ retire: 'keep' });
  await eventually(
    () => state(h),
    (s) => s === 'awaiting-approval',
  );
  await expect(
    h.executeUpdate(decideRetireUpdate, { args: [{ decision: 'retire', actor: 'op' }] }),
  ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  await h.executeUpdate(decideRetireUpdate, { args: [{ decision: 'keep', actor: 'op' }] });
  await expect(h.result()).resolves.toEqual({ outcome: 'passed' });
  await expect(
    h.executeUpdate(decideRetireUpdate, { args: [{ decision: 'keep', actor: 'op' }] }),
  ).rejects.toThrow();
});

it('a failure after the backup compensates: the machine is exactly as before', async () => {
  const before = changeableState(host);
  host.mutate((s) => void (s.profiles.faults['reassign:hive-acls'] = 'fail'));
  const h = await start({});
  const result = await h.result();
  expect(result).toMatchObject({
    outcome: 'rolled-back',
    reason: expect.stringContaining('simulated fault at reassign:hive-acls'),
  });
  expect(kinds).toEqual(['profile.check', 'profile.backup', 'profile.reassign', 'profile.restore']);
  expect(recorded.slice(-2)).toEqual(['rolling-back', 'rolled-back!']);
  expect(changeableState(host)).toEqual(before);
  await record(h, 'migrate-profile-rolled-back.json');
});

it('the operator may roll a verified migration back instead of retiring', async () => {
  const before = changeableState(host);
  const h = await start({ retire: 'delete' });
  await eventually(
    () => state(h),
    (s) => s === 'awaiting-approval',
  );
  await h.executeUpdate(decideRetireUpdate, { args: [{ decision: 'roll-back', actor: 'op' }] });
  await expect(h.result()).resolves.toMatchObject({ outcome: 'rolled-back' });
  expect(changeableState(host)).toEqual(before);
});

it('waits for a signed-in user (asked once to sign out) and proceeds when they do; a cancel then rolls back', async () => {
  const alice = host.snapshot.profiles.accounts.find((a) => a.name === 'alice')!.sid;
  host.mutate((s) => void s.signedIn.push(alice));
  const before = changeableState(host);
  const h = await start({ signOutPollSeconds: 1, signOutDeadlineSeconds: 600 });
  await eventually(
    () => state(h),
    (s) => s === 'waiting-for-sign-out',
  );
  await eventually(
    async () => host.snapshot.profiles.notifications.length,
    (c) => c === 1,
  );
  host.mutate((s) => void (s.signedIn = []));
  await eventually(
    () => state(h),
    (s) => s === 'awaiting-approval',
  );
  expect(host.snapshot.profiles.notifications).toHaveLength(1);
  await h.cancel();
  await expect(h.result()).rejects.toThrow();
  expect(await state(h)).toBe('cancelled');
  expect(changeableState(host)).toEqual(before);
});

it('gives up at the sign-out deadline without changing anything', async () => {
  const alice = host.snapshot.profiles.accounts.find((a) => a.name === 'alice')!.sid;
  host.mutate((s) => void s.signedIn.push(alice));
  const before = changeableState(host);
  const h = await start({ signOutPollSeconds: 1, signOutDeadlineSeconds: 2 });
  await expect(h.result()).resolves.toMatchObject({
    outcome: 'failed',
    reason: expect.stringContaining('still signed in'),
  });
  expect(kinds).not.toContain('profile.backup');
  expect(changeableState(host)).toEqual(before);
});

it('a worker killed while the run waits (sign-out, decision) is replaced and the run goes on from its history', async () => {
  const alice = host.snapshot.profiles.accounts.find((a) => a.name === 'alice')!.sid;
  host.mutate((s) => void s.signedIn.push(alice));
  let h: WorkflowHandle<typeof migrateProfile> = await start({ signOutPollSeconds: 1, retire: 'delete' });
  await eventually(
    () => state(h),
    (s) => s === 'waiting-for-sign-out',
  );
  await worker.stop(); // the worker dies; the run lives on in Temporal
  host.mutate((s) => void (s.signedIn = []));
  worker = await startFakeWorker(agentChannel, { taskQueue: worker.taskQueue });
  h = worker.client.workflow.getHandle(h.workflowId);
  await eventually(
    () => state(h),
    (s) => s === 'awaiting-approval',
  );
  await worker.stop();
  worker = await startFakeWorker(agentChannel, { taskQueue: worker.taskQueue });
  h = worker.client.workflow.getHandle(h.workflowId);
  await h.executeUpdate(decideRetireUpdate, { args: [{ decision: 'retire', actor: 'op' }] });
  await expect(h.result()).resolves.toEqual({ outcome: 'passed' });
  // Each step ran once: the new worker did not start the saga over.
  expect(kinds.filter((k) => k === 'profile.backup')).toHaveLength(1);
  expect(host.snapshot.profiles.accounts.find((a) => a.sid === alice)).toBeUndefined();
});

it('a batch runs its pairs through the window, one migration per machine at a time, and frees a slot at each decision', async () => {
  for (const id of ['m1', 'm2', 'm3']) hosts.set(id, migrationHost(dir, id, 2));
  const batchId = `batch-${Date.now()}`;
  const pairs = ['m1', 'm2', 'm3'].flatMap((machineId) =>
    ['alice', 'alice1'].map((source, i) => ({
      machineId,
      migrationId: `${batchId}-${machineId}-${i}`,
      source,
      target: { kind: 'local' as const, name: i ? 'carol1' : 'carol' },
    })),
  );
  const b = await worker.client.workflow.start<typeof migrateProfiles>('migrateProfiles', {
    taskQueue: worker.taskQueue,
    workflowId: migrateProfilesWorkflowId(batchId),
    args: [
      {
        tenantId: 't',
        batchId,
        common: { mode: 'in-place', copyGroups: true, retire: 'keep', retryBackoffSeconds: 1 },
        pairs,
        concurrency: 2,
      },
    ],
  });
  const progress = () => b.query(migrateProfilesProgressQuery);
  let most = 0;
  await eventually(
    async () => {
      const p = await progress();
      most = Math.max(most, p.running);
      return p;
    },
    (p) => p.awaitingDecision === 6 || p.running + p.awaitingDecision === 0,
    20_000,
  ).catch(async (e) => {
    for (const pair of pairs) {
      const d = await worker.client.workflow
        .getHandle(migrateProfileWorkflowId(pair.machineId, pair.migrationId))
        .describe()
        .catch(() => null);
      const q = await worker.client.workflow
        .getHandle(migrateProfileWorkflowId(pair.machineId, pair.migrationId))
        .query(migrationProgressQuery)
        .catch((x) => String(x));
      console.log(pair.migrationId, d?.status.name, JSON.stringify(q));
    }
    console.log(JSON.stringify(dispatched));
    throw e;
  });
  for (const pair of pairs) {
    const q = await worker.client.workflow
      .getHandle(migrateProfileWorkflowId(pair.machineId, pair.migrationId))
      .query(migrationProgressQuery);
    expect({ pair: pair.migrationId, state: q.state, error: q.lastError }).toEqual({
      pair: pair.migrationId,
      state: 'awaiting-approval',
      error: null,
    });
  }
  expect(most).toBeLessThanOrEqual(2);
  // One machine at a time: a machine's second user is backed up only after its first was verified.
  for (const id of ['m1', 'm2', 'm3']) {
    const steps = dispatched.filter((d) => d.machineId === id);
    const firstVerified = steps.findIndex((d) => d.kind === 'profile.verify');
    const backups = steps.flatMap((d, i) => (d.kind === 'profile.backup' ? [i] : []));
    expect(backups).toHaveLength(2);
    expect(backups[1]!).toBeGreaterThan(firstVerified);
  }
  for (const pair of pairs)
    await worker.client.workflow
      .getHandle(migrateProfileWorkflowId(pair.machineId, pair.migrationId))
      .executeUpdate(decideRetireUpdate, { args: [{ decision: 'keep', actor: 'op' }] });
  await expect(b.result()).resolves.toMatchObject({
    total: 6,
    running: 0,
    awaitingDecision: 0,
    done: { passed: 6 },
  });
  for (const id of ['m1', 'm2', 'm3']) {
    const p = hosts.get(id)!.snapshot.profiles;
    const carol = p.accounts.find((a) => a.name === 'carol')!.sid;
    const carol1 = p.accounts.find((a) => a.name === 'carol1')!.sid;
    expect(p.profileList[carol]!.ProfileImagePath).toBe('C:\\Users\\alice');
    expect(p.profileList[carol1]!.ProfileImagePath).toBe('C:\\Users\\alice1');
  }
  await record(b, 'migrate-profiles-batch.json');
});
