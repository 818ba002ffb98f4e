import { createHash, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Harness } from '../../agent/harness/harness';
import { repoRoot } from '../../infra/config/env';
import { ClientSchema, SiteSchema } from '../../infra/db/entities';
import { withTenant } from '../../infra/db/orm';
import {
  generateTenantKey,
  openEscrowSecret,
  unwrapTenantKey,
  wrapTenantKey,
  type TenantKey,
} from '../../infra/wire/escrow-envelope';
import {
  rotateBitLockerWorkflowId,
  rotateLocalAdminWorkflowId,
  rotationScheduleId,
  type RotateLocalAdminResult,
  type RotateLocalAdminsProgress,
  type RotateLocalAdminStatus,
} from '../../workflows/escrow/contracts';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { buildTestApp, gql } from '../helpers/api';
import { eventually } from '../helpers/fake-worker';
import {
  enrolledFleet,
  fleetMachineRuns,
  saveProfile,
  startFleetRun,
  waitForFleet,
} from '../helpers/provisioning';
import { historyText } from '../helpers/secret-scan';

/**
 * Issue 16 "Reveal and rotation" (ADR 0047) with the real stack and simulated machines: a reveal
 * of a local admin password rotates it after the grace (one rotation for two reveals), a site's
 * on-demand rotation rotates its machines and no other site's, a client's rotation fails only its
 * offline machine, the site's schedule is set, changed and removed, and every rotation is audited.
 */

jest.setTimeout(300_000);

const PASSPHRASE = 'Rotation passphrase 2026!';
const ACCOUNT = 'DrydockAdmin';
const GRACE_SECONDS = 7.2; // ESCROW_ROTATION_GRACE_HOURS below
const RETRY_SECONDS = 2; // ESCROW_ROTATION_RETRY_HOURS below
let stack: AgentStack;
let fleetA: Harness;
let fleetB: Harness;
let key: TenantKey;
let wrapped: string;
const siteB = {
  id: randomUUID(),
  code: `S-${randomUUID().slice(0, 8).toUpperCase()}`,
  clientId: randomUUID(),
};

beforeAll(async () => {
  stack = await startAgentStack({
    PROVISION_RETRY_BACKOFF_SECONDS: '1',
    PROVISION_OFFLINE_LIMIT_SECONDS: '30',
    PROVISION_FAILED_HOLD_SECONDS: '600',
    ESCROW_ROTATION_GRACE_HOURS: String(GRACE_SECONDS / 3600),
    ESCROW_ROTATION_RETRY_HOURS: String(RETRY_SECONDS / 3600),
  });
});
afterAll(async () => {
  await fleetA?.stop();
  await fleetB?.stop();
  await stack?.close();
});

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const record = async (name: string, workflowId: string, runId?: string) => {
  if (!process.env.DRYDOCK_RECORD_HISTORIES) return;
  const history = await stack.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  writeFileSync(path.join(repoRoot, 'test', 'histories', name), `${historyToJSON(history)}\n`);
};

interface Listed {
  id: string;
  kind: string;
  secretVersion: number;
  account: string | null;
  protectorId: string | null;
  confirmedAt: string | null;
  reveals: { actor: string }[];
}

/** The machine's escrowed secrets of one kind, newest version first. */
async function escrowedSecrets(machineId: string, kind: string): Promise<Listed[]> {
  const res = await gql<{ escrowedSecrets: Listed[] }>(
    stack.app,
    stack.tenant.tenantId,
    `query($m: ID!) { escrowedSecrets(machineId: $m) { id kind secretVersion account protectorId confirmedAt reveals { actor } } }`,
    { m: machineId },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.escrowedSecrets.filter((s) => s.kind === kind);
}
const localAdminSecrets = (machineId: string) => escrowedSecrets(machineId, 'LOCAL_ADMIN_PASSWORD');
const recoveryPasswords = (machineId: string) => escrowedSecrets(machineId, 'BITLOCKER_RECOVERY_PASSWORD');

/** Runs a BitLocker-only security phase on one machine; its run passed. */
async function provisionBitLocker(machineId: string): Promise<void> {
  const profileId = await saveProfile(stack, 'BitLocker only', {
    phases: {
      security: { enabled: true, bitlocker: {} },
      apps: { enabled: false },
      tweaks: { enabled: false },
      locale: { enabled: false },
      inventory: { enabled: false },
    },
  });
  const run = await startFleetRun(stack, { profileId, concurrency: 1, machineIds: [machineId] });
  await waitForFleet(stack, run.id, (f) => f.status === 'completed');
  expect((await fleetMachineRuns(stack, run.id)).map((r) => [r.status, r.lastError])).toEqual([
    ['passed', null],
  ]);
}

async function reveal(secretId: string) {
  const res = await gql<{ revealSecret: { machineId: string; secretVersion: number; envelope: string } }>(
    stack.app,
    stack.tenant.tenantId,
    `mutation($id: ID!) { revealSecret(id: $id) { machineId secretVersion envelope } }`,
    { id: secretId },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.revealSecret;
}

/** The plaintext of a machine's local admin password version, as the browser would open it. */
async function opened(machineId: string, version: number): Promise<string> {
  const secret = (await localAdminSecrets(machineId)).find((s) => s.secretVersion === version)!;
  const r = await reveal(secret.id);
  const unlocked = await unwrapTenantKey(wrapped, PASSPHRASE, { tenantId: stack.tenant.tenantId });
  return openEscrowSecret(
    unlocked,
    { machineId, kind: 'local-admin-password', secretVersion: r.secretVersion },
    r.envelope,
  );
}

async function auditRows(): Promise<
  { action: string; actor: string; subjectId: string; data: Record<string, unknown> }[]
> {
  const client = await stack.db.adminClient();
  try {
    const { rows } = await client.query(
      `select action, actor, subject_id as "subjectId", data from audit_events where tenant_id = $1 order by seq`,
      [stack.tenant.tenantId],
    );
    return rows;
  } finally {
    await client.end();
  }
}

const machineOf = (fleet: Harness, i: number) => fleet.machines[i]!.agent.machineId!;
const hostHash = (fleet: Harness, i: number) => fleet.machines[i]!.platform.localPasswordHash(ACCOUNT);

describe('local admin password rotation', () => {
  beforeAll(async () => {
    key = await generateTenantKey({ tenantId: stack.tenant.tenantId, keyVersion: 1 });
    wrapped = await wrapTenantKey(key, PASSPHRASE);
    const setup = await gql(
      stack.app,
      stack.tenant.tenantId,
      `mutation($i: SetupEscrowKeyInput!) { setupEscrowKey(input: $i) { keyVersion } }`,
      { i: { publicKey: key.publicKey, wrappedPrivateKey: wrapped, keyVersion: 1 } },
    );
    expect(setup.errors).toBeUndefined();
    // A second client with a site of its own: rotations of site A or client A never touch it.
    await withTenant(stack.orm, stack.tenant.tenantId, async (em) => {
      em.create(ClientSchema, {
        id: siteB.clientId,
        tenantId: stack.tenant.tenantId,
        name: 'Other',
        createdAt: new Date(),
      });
      await em.flush();
      em.create(SiteSchema, {
        id: siteB.id,
        tenantId: stack.tenant.tenantId,
        clientId: siteB.clientId,
        code: siteB.code,
        name: 'Branch',
        createdAt: new Date(),
      });
      await em.flush();
    });
    fleetA = await enrolledFleet(stack, 'rotation-a', 2);
    const keyB = await stack.issueEnrollmentKey(siteB.id);
    fleetB = await enrolledFleet(stack, 'rotation-b', 1, {
      siteCode: siteB.code,
      enrollmentKey: keyB.key,
      fingerprint: keyB.fingerprint,
      namePrefix: 'branch',
    });
    const profileId = await saveProfile(stack, 'Admin only', {
      phases: {
        security: { enabled: true, localAdmin: { account: ACCOUNT, create: true } },
        apps: { enabled: false },
        tweaks: { enabled: false },
        locale: { enabled: false },
        inventory: { enabled: false },
      },
    });
    const started = await startFleetRun(stack, {
      profileId,
      concurrency: 3,
      siteIds: [stack.tenant.siteId, siteB.id],
    });
    await waitForFleet(stack, started.id, (f) => f.status === 'completed');
    const runs = await fleetMachineRuns(stack, started.id);
    expect(runs.map((r) => r.status)).toEqual(['passed', 'passed', 'passed']);
  });

  it('rotates a revealed password after the grace: one rotation for two reveals, the old version still listed', async () => {
    const machineId = machineOf(fleetA, 0);
    const [v1] = await localAdminSecrets(machineId);
    expect(v1).toMatchObject({ secretVersion: 1, account: ACCOUNT });
    expect(v1!.confirmedAt).not.toBeNull();
    const revealedAt = Date.now();
    const first = await reveal(v1!.id);
    expect(first.envelope).toMatch(/^dde1\./);
    const handle = stack.temporal.workflow.getHandle(
      rotateLocalAdminWorkflowId(stack.tenant.tenantId, machineId),
    );
    const firstRun = (await handle.describe()).runId;
    const second = await reveal(v1!.id);
    expect(second.envelope).toBe(first.envelope);
    // The second reveal joined the waiting rotation: the same run, no second workflow.
    expect((await handle.describe()).runId).toBe(firstRun);
    const unlocked = await unwrapTenantKey(wrapped, PASSPHRASE, { tenantId: stack.tenant.tenantId });
    const oldPassword = await openEscrowSecret(
      unlocked,
      { machineId, kind: 'local-admin-password', secretVersion: 1 },
      first.envelope,
    );
    // During the grace the revealed password still works.
    expect(hostHash(fleetA, 0)).toBe(sha256(oldPassword));

    const result = (await handle.result()) as RotateLocalAdminResult;
    expect(Date.now() - revealedAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 500);
    expect(result).toMatchObject({ outcome: 'rotated', secretVersion: 2, rotations: 1 });
    const listed = await localAdminSecrets(machineId);
    expect(listed.map((s) => [s.secretVersion, s.confirmedAt !== null, s.reveals.length])).toEqual([
      [2, true, 0],
      [1, true, 2],
    ]);
    const newPassword = await opened(machineId, 2);
    expect(newPassword).not.toBe(oldPassword);
    expect(hostHash(fleetA, 0)).toBe(sha256(newPassword));
    // The other machines were not touched.
    expect((await localAdminSecrets(machineOf(fleetA, 1))).map((s) => s.secretVersion)).toEqual([1]);
    // The history holds ids only: no password.
    const history = await historyText(stack, handle.workflowId, firstRun);
    for (const secret of [oldPassword, newPassword]) expect(history.includes(secret)).toBe(false);
    await record('rotate-local-admin-password-after-reveal.json', handle.workflowId, firstRun);
    // That reveal of version 2 (in `opened`) scheduled the next rotation: let it run out.
    await expect(handle.result()).resolves.toMatchObject({ outcome: 'rotated', secretVersion: 3 });
  });

  it('rotates every machine of a site on demand, and no machine of another site', async () => {
    const before = [
      (await localAdminSecrets(machineOf(fleetA, 0)))[0]!.secretVersion,
      (await localAdminSecrets(machineOf(fleetA, 1)))[0]!.secretVersion,
    ];
    const hashB = hostHash(fleetB, 0);
    const res = await gql<{ rotateLocalAdminPasswords: { workflowId: string } }>(
      stack.app,
      stack.tenant.tenantId,
      `mutation($id: ID!) { rotateLocalAdminPasswords(scope: SITE, id: $id) { workflowId } }`,
      { id: stack.tenant.siteId },
    );
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    const handle = stack.temporal.workflow.getHandle(res.data.rotateLocalAdminPasswords.workflowId);
    const progress = (await handle.result()) as RotateLocalAdminsProgress;
    expect(progress).toMatchObject({ rotated: 2, failed: 0, alreadyRunning: 0 });
    // Each machine's rotation carries the grace, for a reveal that comes while it runs.
    for (const i of [0, 1]) {
      const child = await stack.temporal.workflow
        .getHandle(rotateLocalAdminWorkflowId(stack.tenant.tenantId, machineOf(fleetA, i)))
        .fetchHistory();
      const started = child.events![0]!.workflowExecutionStartedEventAttributes!;
      expect(defaultPayloadConverter.fromPayload(started.input!.payloads![0]!)).toMatchObject({
        trigger: 'on-demand',
        graceSeconds: Math.round(GRACE_SECONDS),
      });
    }
    for (const i of [0, 1]) {
      const [latest] = await localAdminSecrets(machineOf(fleetA, i));
      expect(latest!.secretVersion).toBe(before[i]! + 1);
      expect(latest!.confirmedAt).not.toBeNull();
      expect(hostHash(fleetA, i)).toBe(sha256(await opened(machineOf(fleetA, i), latest!.secretVersion)));
    }
    expect((await localAdminSecrets(machineOf(fleetB, 0))).map((s) => s.secretVersion)).toEqual([1]);
    expect(hostHash(fleetB, 0)).toBe(hashB);
    await record('rotate-local-admin-passwords-site.json', handle.workflowId);
    // The reveals above scheduled rotations after their grace: let them run out before the next test.
    for (const i of [0, 1])
      await stack.temporal.workflow
        .getHandle(rotateLocalAdminWorkflowId(stack.tenant.tenantId, machineOf(fleetA, i)))
        .result();
  });

  it('fails only the offline machine of a client’s rotation, after its offline limit', async () => {
    const versionsB = (await localAdminSecrets(machineOf(fleetB, 0))).length;
    const [online] = await localAdminSecrets(machineOf(fleetA, 0));
    await fleetA.switchOff(1); // the second machine goes offline (until the retry test below)
    const res = await gql<{ rotateLocalAdminPasswords: { workflowId: string } }>(
      stack.app,
      stack.tenant.tenantId,
      `mutation($id: ID!) { rotateLocalAdminPasswords(scope: CLIENT, id: $id) { workflowId } }`,
      { id: stack.tenant.clientId },
    );
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    const progress = (await stack.temporal.workflow
      .getHandle(res.data.rotateLocalAdminPasswords.workflowId)
      .result()) as RotateLocalAdminsProgress;
    expect(progress).toMatchObject({ rotated: 1, failed: 1, alreadyRunning: 0 });
    const failed = progress.machines.find((m) => m.outcome === 'failed')!;
    expect(failed.machineId).toBe(machineOf(fleetA, 1));
    expect(failed.reason).toMatch(/MachineUnreachable/);
    expect((await localAdminSecrets(machineOf(fleetA, 0)))[0]!.secretVersion).toBe(online!.secretVersion + 1);
    expect(await localAdminSecrets(machineOf(fleetB, 0))).toHaveLength(versionsB);
  });

  it('sets, changes and removes a site’s rotation schedule', async () => {
    const scheduleId = rotationScheduleId(stack.tenant.tenantId, { kind: 'site', id: siteB.id });
    const set = (days: number | null) =>
      gql<{
        setPasswordRotationSchedule: { scheduleId: string; intervalDays: number; nextRunAt: string } | null;
      }>(
        stack.app,
        stack.tenant.tenantId,
        `mutation($id: ID!, $d: Int) { setPasswordRotationSchedule(scope: SITE, id: $id, intervalDays: $d) { scheduleId intervalDays nextRunAt } }`,
        { id: siteB.id, d: days },
      );
    const created = await set(30);
    expect(created.data!.setPasswordRotationSchedule).toMatchObject({ scheduleId, intervalDays: 30 });
    const next = new Date(created.data!.setPasswordRotationSchedule!.nextRunAt).getTime();
    expect(next).toBeGreaterThan(Date.now());
    expect(next).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    const described = await stack.temporal.schedule.getHandle(scheduleId).describe();
    expect(described.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'rotateLocalAdminPasswords',
    });
    expect((described.action as { args: unknown[] }).args[0]).toMatchObject({
      tenantId: stack.tenant.tenantId,
      scope: { kind: 'site', id: siteB.id },
      trigger: 'schedule',
    });
    const changed = await set(7);
    expect(changed.data!.setPasswordRotationSchedule).toMatchObject({ scheduleId, intervalDays: 7 });
    const read = await gql<{ passwordRotationSchedule: { intervalDays: number } | null }>(
      stack.app,
      stack.tenant.tenantId,
      `query($id: ID!) { passwordRotationSchedule(scope: SITE, id: $id) { intervalDays } }`,
      { id: siteB.id },
    );
    expect(read.data!.passwordRotationSchedule).toEqual({ intervalDays: 7 });
    // The schedule's run, triggered now, rotates site B's machine (trigger: schedule).
    const before = (await localAdminSecrets(machineOf(fleetB, 0)))[0]!.secretVersion;
    await stack.temporal.schedule.getHandle(scheduleId).trigger();
    const deadline = Date.now() + 120_000;
    const confirmedAfter = async () => {
      const [latest] = await localAdminSecrets(machineOf(fleetB, 0));
      return latest!.secretVersion > before && latest!.confirmedAt !== null;
    };
    while (!(await confirmedAfter())) {
      if (Date.now() > deadline) throw new Error('the scheduled rotation did not rotate site B');
      await new Promise((r) => setTimeout(r, 500));
    }
    const removed = await set(null);
    expect(removed.errors).toBeUndefined();
    expect(removed.data!.setPasswordRotationSchedule).toBeNull();
    await expect(stack.temporal.schedule.getHandle(scheduleId).describe()).rejects.toBeInstanceOf(
      ScheduleNotFoundError,
    );
    expect((await set(null)).errors).toBeUndefined(); // removing none is fine
    const bad = await set(0);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('audits every rotation: who or what started it, and its outcome', async () => {
    const rows = await auditRows();
    const started = rows.filter((r) => r.action === 'escrow.rotation-started');
    const triggers = started.map((r) => r.data.trigger);
    expect(triggers.filter((t) => t === 'reveal').length).toBeGreaterThanOrEqual(3);
    expect(triggers.filter((t) => t === 'on-demand')).toHaveLength(4);
    expect(triggers.filter((t) => t === 'schedule')).toHaveLength(1);
    // The reveal's rotation names who revealed; the schedule's names the schedule.
    expect(started.find((r) => r.data.trigger === 'reveal')!.actor).toMatch(/^(user|token):/);
    expect(started.find((r) => r.data.trigger === 'schedule')!.actor).toMatch(
      /^schedule:rotate-local-admins-schedule:/,
    );
    const rotated = rows.filter((r) => r.action === 'escrow.rotated' && r.data.trigger);
    const failed = rows.filter((r) => r.action === 'escrow.rotation-failed');
    expect(rotated.length + failed.length).toBe(started.length);
    expect(failed).toHaveLength(1);
    expect(failed[0]!).toMatchObject({
      subjectId: machineOf(fleetA, 1),
      data: { trigger: 'on-demand', type: 'MachineUnreachable' },
    });
    expect(rows.filter((r) => r.action === 'escrow.rotation-requested')).toHaveLength(2);
    expect(rows.filter((r) => r.action === 'escrow.rotation-schedule-set')).toHaveLength(2);
    expect(rows.filter((r) => r.action === 'escrow.rotation-schedule-removed')).toHaveLength(1);
  });

  it('releases nothing when the rotation cannot be scheduled: ROTATION_UNAVAILABLE, and the chain says so', async () => {
    // An API whose Temporal is unreachable: the reveal is audited, its rotation cannot start.
    const unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const app = await buildTestApp(stack.orm, unreachable, stack.db.appUrl, stack.taskQueue, stack.env);
    try {
      const [latest] = await localAdminSecrets(machineOf(fleetB, 0));
      const res = await gql<{ revealSecret: { envelope: string } | null }>(
        app,
        stack.tenant.tenantId,
        `mutation($id: ID!) { revealSecret(id: $id) { envelope } }`,
        { id: latest!.id },
      );
      expect(res.errors?.[0]?.extensions?.code).toBe('ROTATION_UNAVAILABLE');
      expect(res.data?.revealSecret ?? null).toBeNull();
      const rows = await auditRows();
      const [reveal, withheld] = rows.slice(-2);
      expect(reveal).toMatchObject({ action: 'escrow.reveal', subjectId: latest!.id });
      expect(withheld).toMatchObject({
        action: 'escrow.reveal-withheld',
        subjectId: latest!.id,
        data: { reason: 'rotation-unavailable' },
      });
    } finally {
      await app.close();
      await unreachable.connection.close();
    }
  });
  it('rotates one machine’s local admin password on demand, audited; a viewer may not', async () => {
    const machineId = machineOf(fleetA, 0);
    const [before] = await localAdminSecrets(machineId);
    const hashBefore = hostHash(fleetA, 0);
    const ask = (role: 'viewer' | 'operator') =>
      gql<{ rotateLocalAdminPassword: { workflowId: string; joined: boolean } }>(
        stack.app,
        stack.tenant.tenantId,
        `mutation($m: ID!) { rotateLocalAdminPassword(machineId: $m) { workflowId joined } }`,
        { m: machineId },
        role,
      );
    expect((await ask('viewer')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const res = await ask('operator');
    expect(res.data!.rotateLocalAdminPassword).toEqual({
      workflowId: rotateLocalAdminWorkflowId(stack.tenant.tenantId, machineId),
      joined: false,
    });
    const result = (await stack.temporal.workflow
      .getHandle(res.data!.rotateLocalAdminPassword.workflowId)
      .result()) as RotateLocalAdminResult;
    expect(result).toMatchObject({ outcome: 'rotated', secretVersion: before!.secretVersion + 1 });
    const [after] = await localAdminSecrets(machineId);
    expect(after).toMatchObject({ secretVersion: before!.secretVersion + 1 });
    expect(after!.confirmedAt).not.toBeNull();
    expect(hostHash(fleetA, 0)).not.toBe(hashBefore);
    const requested = (await auditRows()).filter(
      (r) => r.action === 'escrow.rotation-requested' && r.subjectId === machineId,
    );
    expect(requested.map((r) => r.data)).toEqual([
      { workflowId: res.data!.rotateLocalAdminPassword.workflowId, kind: 'local-admin-password' },
    ]);
  });

  it('tries a revealed password’s failed rotation again: the machine was off past its limit, it is rotated once it is back', async () => {
    const machineId = machineOf(fleetA, 1); // switched off since the client's rotation above
    const [current] = await localAdminSecrets(machineId);
    const before = hostHash(fleetA, 1);
    await reveal(current!.id);
    const handle = stack.temporal.workflow.getHandle(
      rotateLocalAdminWorkflowId(stack.tenant.tenantId, machineId),
    );
    const runId = (await handle.describe()).runId;
    // The try after the grace fails (nobody picked its task up within the offline limit): the run
    // does not end, it waits to try again, and says when.
    const waiting = await eventually(
      () => handle.query<RotateLocalAdminStatus>('rotationStatus'),
      (s) => s.state !== 'waiting-for-grace' && s.state !== 'rotating',
      150_000,
    );
    expect(waiting).toMatchObject({ state: 'waiting-to-retry', failures: 1, rotations: 0 });
    expect(hostHash(fleetA, 1)).toBe(before);
    const failed = (await auditRows()).filter(
      (r) => r.action === 'escrow.rotation-failed' && r.subjectId === machineId,
    );
    expect(failed.at(-1)!.data).toMatchObject({
      trigger: 'reveal',
      type: 'MachineUnreachable',
      retryAt: expect.any(String),
    });
    const retryAt = Date.parse(failed.at(-1)!.data.retryAt as string);
    expect(retryAt).toBeGreaterThan(Date.now() - RETRY_SECONDS * 1000 - 5000);

    // The laptop is opened again: the next try rotates it.
    fleetA.switchOn(1);
    const result = (await handle.result()) as RotateLocalAdminResult;
    expect(result).toMatchObject({ outcome: 'rotated', secretVersion: current!.secretVersion + 1 });
    expect(hostHash(fleetA, 1)).not.toBe(before);
    const listed = await localAdminSecrets(machineId);
    expect(listed[0]).toMatchObject({ secretVersion: current!.secretVersion + 1 });
    expect(listed[0]!.confirmedAt).not.toBeNull();
    const started = (await auditRows()).filter(
      (r) => r.action === 'escrow.rotation-started' && r.data.workflowId === handle.workflowId,
    );
    expect(started.slice(-2).map((r) => [r.data.trigger, r.data.attempt ?? 1])).toEqual([
      ['reveal', 1],
      ['reveal', 2],
    ]);
    expect((await auditRows()).filter((r) => r.action === 'escrow.rotated').at(-1)).toMatchObject({
      data: { trigger: 'reveal' },
    });
    await record('rotate-local-admin-password-retried.json', handle.workflowId, runId);
  });

  it('raises an alert when it gives up on a revealed password: the value someone saw is still valid', async () => {
    const machineId = machineOf(fleetA, 1);
    await fleetA.switchOff(1); // off again, for good this time
    const alerts = async () =>
      (
        await gql<{ alerts: { kind: string; machineId: string | null; message: string }[] }>(
          stack.app,
          stack.tenant.tenantId,
          '{ alerts(last: 50) { kind machineId message } }',
        )
      ).data!.alerts.filter((a) => a.kind === 'EscrowRotationFailed');
    expect(await alerts()).toEqual([]);
    // A revealed password's rotation with a window that closes after the first try.
    const handle = await stack.temporal.workflow.signalWithStart('rotateLocalAdminPassword', {
      taskQueue: stack.taskQueue,
      workflowId: rotateLocalAdminWorkflowId(stack.tenant.tenantId, machineId),
      args: [
        {
          tenantId: stack.tenant.tenantId,
          machineId,
          trigger: 'reveal',
          requestedBy: 'user:test',
          offlineLimitSeconds: 5,
          retryBackoffSeconds: 1,
          retryFailedAfterSeconds: 1,
          retryFailedForSeconds: 1,
        },
      ],
      signal: 'secretRevealed',
      signalArgs: [{ secretId: 'unused', secretVersion: 1, actor: 'user:test' }],
    });
    await expect(handle.result()).rejects.toThrow();
    const raised = await alerts();
    expect(raised).toHaveLength(1);
    expect(raised[0]!.machineId).toBe(machineId);
    expect(raised[0]!.message).toMatch(
      /^The revealed local admin password of \S+ could not be rotated and is still valid \(security\.local-admin: .+\)\. Rotate it on demand once the machine is online\.$/,
    );
    const failed = (await auditRows()).filter((r) => r.action === 'escrow.rotation-failed').at(-1)!;
    expect(failed.data).toMatchObject({ stillRevealed: true, type: 'MachineUnreachable' });
    expect(failed.data.retryAt).toBeUndefined();
  });

  it('rotates a revealed BitLocker recovery password after the grace: a new protector, the old one gone, the TPM and the encryption kept', async () => {
    const fleetC = await enrolledFleet(stack, 'rotation-c', 1, { namePrefix: 'vault' });
    try {
      const machineId = machineOf(fleetC, 0);
      await provisionBitLocker(machineId);
      // Drydock set no local admin password there: nothing to rotate, nothing started.
      const none = await gql(
        stack.app,
        stack.tenant.tenantId,
        `mutation($m: ID!) { rotateLocalAdminPassword(machineId: $m) { workflowId } }`,
        { m: machineId },
        'operator',
      );
      expect(none.errors?.[0]?.extensions?.code).toBe('NOTHING_TO_ROTATE');
      await expect(
        stack.temporal.workflow
          .getHandle(rotateLocalAdminWorkflowId(stack.tenant.tenantId, machineId))
          .describe(),
      ).rejects.toThrow(WorkflowNotFoundError);
      const host = fleetC.machines[0]!.platform;
      const recoverySecrets = () => recoveryPasswords(machineId);
      const [v1] = await recoverySecrets();
      expect(v1).toMatchObject({ secretVersion: 1 });
      const before = await host.bitlockerVolume('C:');
      const tpm = before.protectors.find((p) => p.type === 'Tpm')!;
      expect(tpm).toBeDefined();

      const revealedAt = Date.now();
      const revealed = await reveal(v1!.id);
      const unlocked = await unwrapTenantKey(wrapped, PASSPHRASE, { tenantId: stack.tenant.tenantId });
      const kind = 'bitlocker-recovery-password' as const;
      const oldPassword = await openEscrowSecret(
        unlocked,
        { machineId, kind, secretVersion: 1 },
        revealed.envelope,
      );
      // During the grace the revealed recovery password still unlocks the volume.
      expect(host.recoveryPasswordHashes()).toEqual([sha256(oldPassword)]);
      const handle = stack.temporal.workflow.getHandle(
        rotateBitLockerWorkflowId(stack.tenant.tenantId, machineId),
      );
      const firstRun = (await handle.describe()).runId;
      const result = (await handle.result()) as RotateLocalAdminResult;
      expect(Date.now() - revealedAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 500);
      expect(result).toMatchObject({ outcome: 'rotated', secretVersion: 2, rotations: 1 });

      const listed = await recoverySecrets();
      expect(listed.map((x) => [x.secretVersion, x.confirmedAt !== null, x.reveals.length])).toEqual([
        [2, true, 0],
        [1, true, 1],
      ]);
      const v2 = await reveal(listed[0]!.id);
      const newPassword = await openEscrowSecret(
        unlocked,
        { machineId, kind, secretVersion: 2 },
        v2.envelope,
      );
      expect(newPassword).toMatch(/^([0-9]{6}-){7}[0-9]{6}$/);
      expect(newPassword).not.toBe(oldPassword);
      // The volume holds the new recovery password only, under the protector the escrow names;
      // its TPM protector and its encryption are as they were.
      expect(host.recoveryPasswordHashes()).toEqual([sha256(newPassword)]);
      const after = await host.bitlockerVolume('C:');
      expect(after).toMatchObject({ volumeStatus: 'FullyEncrypted', protectionStatus: 'On' });
      expect(after.protectors.find((p) => p.type === 'RecoveryPassword')!.id).toBe(listed[0]!.protectorId);
      expect(after.protectors.find((p) => p.type === 'Tpm')!.id).toBe(tpm.id);
      // The rotation's record says what it rotated; its history holds neither password.
      const rows = (await auditRows()).filter(
        (r) => r.subjectId === machineId || r.data.machineId === machineId,
      );
      expect(rows.find((r) => r.action === 'escrow.rotation-started')).toMatchObject({
        data: { kind, trigger: 'reveal' },
      });
      expect(rows.find((r) => r.action === 'escrow.rotated' && r.data.trigger === 'reveal')).toMatchObject({
        data: { kind, secretVersion: 2, protectorId: listed[0]!.protectorId },
      });
      const history = await historyText(stack, handle.workflowId, firstRun);
      for (const secret of [oldPassword, newPassword]) expect(history.includes(secret)).toBe(false);
      await record('rotate-bitlocker-recovery-password-after-reveal.json', handle.workflowId, firstRun);
      // The reveal of version 2 scheduled the next rotation: let it run out.
      await expect(handle.result()).resolves.toMatchObject({ outcome: 'rotated', secretVersion: 3 });
    } finally {
      await fleetC.stop();
    }
  });

  it('re-escrows a BitLocker recovery password on demand; a reveal during it gets the whole grace before the next', async () => {
    // Slow steps: the reveal below lands while the rotation runs.
    const fleetD = await enrolledFleet(stack, 'rotation-d', 1, {
      namePrefix: 'slow',
      faults: { crash: 0, network: 0, slowMs: 2500, reboot: 0, midstep: 0, winget: 0 },
    });
    try {
      const machineId = machineOf(fleetD, 0);
      await provisionBitLocker(machineId);
      const recovery = () => recoveryPasswords(machineId);
      expect((await recovery()).map((x) => x.secretVersion)).toEqual([1]);

      const rotateNow = async () => {
        const res = await gql<{ rotateBitLockerRecoveryPassword: { workflowId: string; joined: boolean } }>(
          stack.app,
          stack.tenant.tenantId,
          `mutation($m: ID!) { rotateBitLockerRecoveryPassword(machineId: $m) { workflowId joined } }`,
          { m: machineId },
          'operator',
        );
        if (!res.data) throw new Error(JSON.stringify(res.errors));
        return res.data.rotateBitLockerRecoveryPassword;
      };
      // A machine Drydock never turned BitLocker on: refused with its reason, nothing started.
      const refused = await gql(
        stack.app,
        stack.tenant.tenantId,
        `mutation($m: ID!) { rotateBitLockerRecoveryPassword(machineId: $m) { workflowId } }`,
        { m: machineOf(fleetA, 0) },
        'operator',
      );
      expect(refused.errors?.[0]?.extensions?.code).toBe('NOTHING_TO_ROTATE');
      await expect(
        stack.temporal.workflow
          .getHandle(rotateBitLockerWorkflowId(stack.tenant.tenantId, machineOf(fleetA, 0)))
          .describe(),
      ).rejects.toThrow(WorkflowNotFoundError);
      const first = await rotateNow();
      expect(first).toEqual({
        workflowId: rotateBitLockerWorkflowId(stack.tenant.tenantId, machineId),
        joined: false,
      });
      const handle = stack.temporal.workflow.getHandle(first.workflowId);
      const firstRun = (await handle.describe()).runId;
      // A second request while it runs joins it.
      expect(await rotateNow()).toEqual({ ...first, joined: true });
      expect((await handle.describe()).runId).toBe(firstRun);

      // A reveal of the current version while the rotation runs: one more rotation, after the grace.
      const revealedAt = Date.now();
      await reveal((await recovery())[0]!.id);
      let waited: { state: string; rotateAt: string | null } | undefined;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const status = await handle.query<{ state: string; rotateAt: string | null; rotations: number }>(
          'rotationStatus',
        );
        if (status.state === 'waiting-for-grace') {
          waited = status;
          break;
        }
        if (status.state !== 'rotating') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(waited?.state).toBe('waiting-for-grace');
      expect(Date.parse(waited!.rotateAt!)).toBeGreaterThanOrEqual(
        revealedAt + Math.round(GRACE_SECONDS) * 1000 - 1000,
      );
      const result = (await handle.result()) as RotateLocalAdminResult;
      expect(result).toMatchObject({ outcome: 'rotated', secretVersion: 3, rotations: 2 });

      // Re-escrowed: the volume holds the newest version's protector only, the escrow lists it confirmed.
      const listed = await recovery();
      expect(listed.map((x) => [x.secretVersion, x.confirmedAt !== null])).toEqual([
        [3, true],
        [2, true],
        [1, true],
      ]);
      const volume = await fleetD.machines[0]!.platform.bitlockerVolume('C:');
      expect(volume.protectors.filter((p) => p.type === 'RecoveryPassword').map((p) => p.id)).toEqual([
        listed[0]!.protectorId,
      ]);
      expect(fleetD.machines[0]!.platform.recoveryPasswordHashes()).toHaveLength(1);
      const requested = (await auditRows()).filter(
        (r) => r.action === 'escrow.rotation-requested' && r.subjectId === machineId,
      );
      expect(requested.map((r) => r.data)).toEqual([
        { workflowId: first.workflowId, kind: 'bitlocker-recovery-password' },
        { workflowId: first.workflowId, kind: 'bitlocker-recovery-password', joined: true },
      ]);
    } finally {
      await fleetD.stop();
    }
  });
});
