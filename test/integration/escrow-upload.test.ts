import { createHash, randomUUID } from 'node:crypto';
import { CompleteAsyncError } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { FastifyBaseLogger } from 'fastify';
import { createAgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import { reportResult } from '../../api/services/agent-channel';
import { claimTask } from '../../infra/db/agent-tasks';
import { loadEnv } from '../../infra/config/env';
import { installEscrowKey } from '../../infra/db/escrow';
import { withTenant, type Orm } from '../../infra/db/orm';
import { keyringFromEnv } from '../../infra/secrets/server-secrets';
import { StepKind, type EscrowCompletion } from '../../infra/wire/agent-steps';
import {
  generateTenantKey,
  keyFingerprint,
  parseWrappedTenantKey,
  publicPart,
  sealEscrowSecret,
  wrapTenantKey,
  type TenantKey,
} from '../../infra/wire/escrow-envelope';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { rejection } from '../helpers/rejection';

/**
 * Acceptance 3 on the server (issue 16, ADR 0044): an escrow upload is checked against the task it
 * answers — the tenant key version the task named, this tenant, this machine, the kind, the secret
 * version — before anything is stored. An envelope moved from another machine, truncated, or
 * sealed to another key version fails the step (EscrowRefused) and stores nothing; a stored
 * version is never replaced by a later upload of the same version.
 */
let db: TestDatabase;
let orm: Orm;
let tenant: TenantFixture;
let connection: Connection;
let machineA: string;
let machineB: string;
let key: TenantKey;
let otherVersionKey: TenantKey;

const silent = {
  warn: () => undefined,
  info: () => undefined,
  error: () => undefined,
} as unknown as FastifyBaseLogger;

async function addMachine(): Promise<string> {
  const id = randomUUID();
  await withTenant(orm, tenant.tenantId, (em) =>
    em.execute(
      `insert into machines (id, tenant_id, site_id, machine_uid, hostname) values (?, ?, ?, ?, 'PC')`,
      [id, tenant.tenantId, tenant.siteId, randomUUID()],
    ),
  );
  return id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  tenant = await createTenant(orm);
  connection = await Connection.connect({ address: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS! });
  machineA = await addMachine();
  machineB = await addMachine();
  key = await generateTenantKey({ tenantId: tenant.tenantId, keyVersion: 1 });
  otherVersionKey = await generateTenantKey({ tenantId: tenant.tenantId, keyVersion: 2 });
  const wrapped = await wrapTenantKey(key, 'upload test passphrase');
  await withTenant(orm, tenant.tenantId, async (em) =>
    installEscrowKey(em, {
      tenantId: tenant.tenantId,
      keyVersion: 1,
      publicKey: key.publicKey,
      wrappedPrivateKey: wrapped,
      kdf: parseWrappedTenantKey(wrapped).kdf,
      fingerprint: await keyFingerprint(key.publicKey),
      createdBy: 'test',
    }),
  );
});
afterAll(async () => {
  await connection?.close();
  await db?.drop();
});

/** An escrow task for machine A, dispatched as the workflow would and taken by the machine. */
async function escrowTask(secretVersion: number) {
  machineA = await addMachine();
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId: `provision:${machineA}:${randomUUID()}`, runId: randomUUID() },
    activityId: '9',
    scheduledTimestampMs: Date.now(),
    scheduleToCloseTimeoutMs: 3600_000,
  });
  const { dispatchAgentTask } = createAgentChannelActivities({ orm });
  const attempt = () =>
    env.run(() =>
      dispatchAgentTask({
        tenantId: tenant.tenantId,
        machineId: machineA,
        kind: StepKind.LocalAdminEscrow,
        payload: {
          account: 'DrydockAdmin',
          recipient: publicPart(key),
          machineId: machineA,
          secretVersion,
        },
      }),
    );
  expect(await rejection(attempt())).toBeInstanceOf(CompleteAsyncError);
  const task = await claimTask(orm, tenant.tenantId, machineA);
  expect(task?.kind).toBe(StepKind.LocalAdminEscrow);
  const post = (envelope: string) =>
    reportResult(
      {
        orm,
        temporal: new Client({ connection }),
        log: silent,
        secrets: keyringFromEnv(loadEnv({ DRYDOCK_ENV: 'test' })),
      },
      { tenantId: tenant.tenantId, machineId: machineA, keyId: 'test' },
      task!.id,
      { ok: true, result: { envelope, secretVersion } },
      StepKind.LocalAdminEscrow,
    );
  return { taskId: task!.id, post, attempt: attempt as unknown as () => Promise<EscrowCompletion> };
}

async function state(taskId: string) {
  return withTenant(orm, tenant.tenantId, async (em) => ({
    task: (
      await em.execute<{ status: string; error: { type: string; message: string } | null }[]>(
        `select status, error from agent_tasks where id = ?`,
        [taskId],
      )
    )[0]!,
    stored: await em.execute<{ secret_version: number; envelope: string; machine_id: string }[]>(
      `select secret_version, envelope, machine_id::text from escrowed_secrets order by secret_version`,
    ),
  }));
}

/** What the agent generates by default: 24 characters. */
const PASSWORD = 'Abcdefghijkmnopqrstuv23!';
const record = (machineId: string, secretVersion: number) => ({
  machineId,
  kind: 'local-admin-password' as const,
  secretVersion,
});

describe('an escrow upload', () => {
  it.each([
    [
      'moved from another machine',
      async (v: number) => sealEscrowSecret(publicPart(key), record(machineB, v), PASSWORD),
      'ESCROW_CONTEXT_MISMATCH',
    ],
    [
      'made for another secret version',
      async (v: number) => sealEscrowSecret(publicPart(key), record(machineA, v + 1), PASSWORD),
      'ESCROW_CONTEXT_MISMATCH',
    ],
    [
      'truncated inside its fields',
      async (v: number) =>
        (await sealEscrowSecret(publicPart(key), record(machineA, v), PASSWORD)).slice(0, 100),
      'ESCROW_MALFORMED',
    ],
    // A ciphertext cut at the end is still well-formed: only its size (what the task asked for) or the AEAD tells.
    [
      'shortened at the end',
      async (v: number) =>
        (await sealEscrowSecret(publicPart(key), record(machineA, v), PASSWORD)).slice(0, -6),
      'size',
    ],
    [
      'sealed to another key version',
      async (v: number) => sealEscrowSecret(publicPart(otherVersionKey), record(machineA, v), PASSWORD),
      'ESCROW_WRONG_KEY_VERSION',
    ],
  ])('%s fails the step and stores nothing', async (_case, make, code) => {
    const { taskId, post } = await escrowTask(1);
    await post(await make(1));
    const { task, stored } = await state(taskId);
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ type: 'EscrowRefused' });
    expect(task.error!.message).toContain(code);
    expect(stored).toEqual([]);
  });

  it('that matches its task is stored; the workflow gets its id and digest, never the envelope; a later one of the same version replaces nothing', async () => {
    const { taskId, post, attempt } = await escrowTask(1);
    const envelope = await sealEscrowSecret(publicPart(key), record(machineA, 1), 'Right-Password-1-ABCDEFG');
    await post(envelope);
    const first = await state(taskId);
    expect(first.task.status).toBe('completed');
    expect(first.stored).toEqual([{ secret_version: 1, envelope, machine_id: machineA }]);
    // A redelivered step sealed another password for the same version: the stored one stays.
    await post(await sealEscrowSecret(publicPart(key), record(machineA, 1), 'Another-Password-2-ABCDE'));
    expect((await state(taskId)).stored).toEqual([{ secret_version: 1, envelope, machine_id: machineA }]);
    // Read back by a later activity attempt: the completion, not the agent's result.
    const completion = await attempt();
    expect(completion).toEqual({
      escrowId: expect.any(String),
      secretVersion: 1,
      keyVersion: 1,
      envelopeDigest: createHash('sha256').update(envelope).digest('hex'),
    });
    expect(JSON.stringify(completion)).not.toContain('dde1');
  });
});
