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
  migrateProfileWorkflowId,
  migrationProgressQuery,
  type MigrateProfileInput,
} from '../../workflows/migration/contracts';
import type { migrateProfile } from '../../workflows/migration/migrate-profile';
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
let worker: Awaited<ReturnType<typeof startFakeWorker>>;
const kinds: string[] = [];

const recorded: string[] = [];
const agentChannel: Pick<Activities, 'dispatchAgentTask' | 'recordProfileMigration'> = {
  async recordProfileMigration(update) {
    recorded.push(`${update.progress.state}${update.finished ? '!' : ''}`);
    return { ended: false };
  },
  async dispatchAgentTask<K extends StepKind>(input: { kind: K; payload: unknown }): Promise<TaskResult<K>> {
    kinds.push(input.kind);
    try {
      return (await runStep(
        host,
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
