import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { storeEscrowedSecret } from '../../infra/db/escrow';
import { MachineSchema, MachineStatus } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { serverSecret, loadEnv } from '../../infra/config/env';
import {
  generateTenantKey,
  openEscrowSecret,
  publicPart,
  rewrapEscrowSecret,
  sealEscrowSecret,
  unwrapTenantKey,
  wrapTenantKey,
  type EscrowKind,
  type TenantKey,
} from '../../infra/wire/escrow-envelope';
import { buildTestApp } from '../helpers/api';
import { mintApiToken } from '../helpers/auth';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';

/**
 * A key roll (issue 16, ADR 0044 "Key roll"): a new tenant key is installed, the browser re-wraps
 * every secret sealed to the old key through batches released by an audited bulk reveal, the server
 * checks each re-wrapped envelope against its secret, reveals then hand out the newest envelope, and
 * the old key's wrapped private key can be destroyed only once nothing depends on it.
 */

let db: TestDatabase;
let orm: Orm;
let a: TenantFixture;
let b: TenantFixture;
let app: FastifyInstance;
let connection: Connection;
const machines: string[] = [];
const OLD_PASSPHRASE = 'the old passphrase, soon forgotten';
const NEW_PASSPHRASE = 'the new passphrase after the roll';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- GraphQL answers are read field by field
type Answer = { data?: Record<string, any>; errors?: { message: string; extensions?: { code?: string } }[] };

async function token(
  t: TenantFixture,
  role: 'viewer' | 'operator' | 'engineer' | 'admin',
  canRevealSecrets: boolean,
): Promise<string> {
  const secret = serverSecret(loadEnv({ DRYDOCK_ENV: 'test' }));
  return mintApiToken(orm, t.tenantId, role, { canRevealSecrets, secret, name: `t-${randomUUID()}` });
}

async function ask(bearer: string, query: string, variables: Record<string, unknown> = {}): Promise<Answer> {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    payload: { query, variables },
  });
  return res.json();
}
const code = (answer: Answer) => answer.errors?.[0]?.extensions?.code;

async function machine(t: TenantFixture, hostname: string): Promise<string> {
  return withTenant(orm, t.tenantId, async (em) => {
    const m = em.create(MachineSchema, {
      id: randomUUID(),
      tenantId: t.tenantId,
      siteId: t.siteId,
      machineUid: randomUUID(),
      hostname,
      status: MachineStatus.Active,
      cloneKey: '',
      hardware: {},
      os: {},
      labels: {},
      createdAt: new Date(),
    });
    await em.flush();
    return m.id;
  });
}

/** What an agent does: seal to the tenant's current key, store. */
async function escrow(
  t: TenantFixture,
  key: TenantKey,
  machineId: string,
  kind: EscrowKind,
  secretVersion: number,
  plaintext: string,
): Promise<string> {
  const record = { machineId, kind, secretVersion };
  return withTenant(orm, t.tenantId, async (em) => {
    const { secret } = await storeEscrowedSecret(em, {
      tenantId: t.tenantId,
      ...record,
      keyVersion: key.keyVersion,
      envelope: await sealEscrowSecret(publicPart(key), record, plaintext),
      account: kind === 'local-admin-password' ? 'DrydockAdmin' : null,
    });
    return secret.id;
  });
}

const SETUP = `mutation($i: SetupEscrowKeyInput!) { setupEscrowKey(input: $i) { keyVersion } }`;
const KEY = `query($v: Int) { escrowKey(keyVersion: $v) { keyVersion wrappedPrivateKey retiredAt destroyedAt } }`;
const REVEAL = `mutation($id: ID!) { revealSecret(id: $id) { id machineId kind secretVersion keyVersion envelope } }`;
const BATCH = `mutation($limit: Int) { escrowRewrapBatch(limit: $limit) { toKeyVersion remaining secrets { id tenantId machineId kind secretVersion keyVersion envelope } } }`;
const SUBMIT = `mutation($i: SubmitRewrappedSecretsInput!) { submitRewrappedSecrets(input: $i) { stored remaining toKeyVersion } }`;
const DESTROY = `mutation($v: Int!) { destroyEscrowKey(keyVersion: $v) { keyVersion wrappedPrivateKey destroyedAt } }`;
const KEYS = `{ escrowKeys { keyVersion sealedSecrets wrappedPrivateKey retiredAt destroyedAt } }`;
/** The key versions as the portal's escrow page lists them: version, secrets sealed to it, state. */
const versions = async (bearer: string) =>
  (
    (await ask(bearer, KEYS)).data!.escrowKeys as {
      keyVersion: number;
      sealedSecrets: number;
      wrappedPrivateKey: string | null;
      retiredAt: string | null;
      destroyedAt: string | null;
    }[]
  ).map((k) => ({
    v: k.keyVersion,
    sealed: k.sealedSecrets,
    state: k.destroyedAt ? 'destroyed' : k.retiredAt ? 'retired' : 'current',
    blob: k.wrappedPrivateKey !== null,
  }));

interface Released {
  id: string;
  tenantId: string;
  machineId: string;
  kind: string;
  secretVersion: number;
  keyVersion: number;
  envelope: string;
}
const kindOf = (gql: string) => gql.toLowerCase().replaceAll('_', '-') as EscrowKind;
const recordOf = (s: Released) => ({
  machineId: s.machineId,
  kind: kindOf(s.kind),
  secretVersion: s.secretVersion,
});

let v1: TenantKey;
let v2: TenantKey;
const plaintexts = new Map<string, string>();
let foreignSecret: string;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  connection = await Connection.connect({ address: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS! });
  app = await buildTestApp(orm, new Client({ connection }), db.appUrl);
  a = await createTenant(orm);
  b = await createTenant(orm);
  machines.push(await machine(a, 'PC-ROLL-1'), await machine(a, 'PC-ROLL-2'));

  // Tenant A: key version 1 and three secrets sealed to it (two versions of one password).
  v1 = await generateTenantKey({ tenantId: a.tenantId, keyVersion: 1 });
  const admin = await token(a, 'admin', true);
  const setup1 = await ask(admin, SETUP, {
    i: { publicKey: v1.publicKey, wrappedPrivateKey: await wrapTenantKey(v1, OLD_PASSPHRASE), keyVersion: 1 },
  });
  expect(setup1.errors).toBeUndefined();
  for (const [m, kind, version, value] of [
    [machines[0]!, 'local-admin-password', 1, 'Old-Passw0rd-1!'],
    [machines[0]!, 'local-admin-password', 2, 'Old-Passw0rd-2!'],
    [
      machines[1]!,
      'bitlocker-recovery-password',
      1,
      '111111-222222-333333-444444-555555-666666-777777-888888',
    ],
  ] as const)
    plaintexts.set(await escrow(a, v1, m, kind, version, value), value);

  // Tenant B: its own key and secret, which A's roll never touches.
  const bKey = await generateTenantKey({ tenantId: b.tenantId, keyVersion: 1 });
  const bSetup = await ask(await token(b, 'admin', true), SETUP, {
    i: {
      publicKey: bKey.publicKey,
      wrappedPrivateKey: await wrapTenantKey(bKey, OLD_PASSPHRASE),
      keyVersion: 1,
    },
  });
  expect(bSetup.errors).toBeUndefined();
  foreignSecret = await escrow(b, bKey, await machine(b, 'PC-B'), 'local-admin-password', 1, 'B-Passw0rd!');
});
afterAll(async () => {
  await app?.close();
  await connection?.close();
  await db?.drop();
});

describe('a key roll', () => {
  it('re-wraps every secret to the new key in the browser, checked by the server, then destroys the old key', async () => {
    const admin = await token(a, 'admin', true);

    // The roll: version 2, made and wrapped in the browser under a new passphrase.
    v2 = await generateTenantKey({ tenantId: a.tenantId, keyVersion: 2 });
    const setup2 = await ask(admin, SETUP, {
      i: {
        publicKey: v2.publicKey,
        wrappedPrivateKey: await wrapTenantKey(v2, NEW_PASSPHRASE),
        keyVersion: 2,
      },
    });
    expect(setup2.errors).toBeUndefined();
    // A secret escrowed after the roll is sealed to version 2 already and is never released to re-wrap.
    const fresh = await escrow(a, v2, machines[1]!, 'local-admin-password', 1, 'New-Passw0rd-after-roll');
    plaintexts.set(fresh, 'New-Passw0rd-after-roll');

    // Listed newest first, with what is left to re-wrap; the blobs only with reveal-secrets.
    expect(await versions(admin)).toEqual([
      { v: 2, sealed: 1, state: 'current', blob: true },
      { v: 1, sealed: 3, state: 'retired', blob: true },
    ]);
    expect((await versions(await token(a, 'viewer', false))).map((k) => k.blob)).toEqual([false, false]);

    // Neither the current key nor the old one while secrets depend on it can be destroyed.
    expect(code(await ask(admin, DESTROY, { v: 2 }))).toBe('ESCROW_KEY_IN_USE');
    const inUse = await ask(admin, DESTROY, { v: 1 });
    expect(code(inUse)).toBe('ESCROW_KEY_IN_USE');
    expect(inUse.errors?.[0]?.message).toMatch(/3 secrets are sealed only to key version 1/);

    // The bulk release is the admin's, with reveal-secrets, alone.
    expect(code(await ask(await token(a, 'admin', false), BATCH))).toBe('FORBIDDEN');
    expect(code(await ask(await token(a, 'operator', true), BATCH))).toBe('FORBIDDEN');

    // The browser: unlock the OLD key with the old passphrase (wrapped blob of version 1).
    const oldBlob = (await ask(admin, KEY, { v: 1 })).data!.escrowKey.wrappedPrivateKey as string;
    const unlockedOld = await unwrapTenantKey(oldBlob, OLD_PASSPHRASE, { tenantId: a.tenantId });

    // First batch of 2: audited before release, each secret named.
    const first = await ask(admin, BATCH, { limit: 2 });
    expect(first.errors).toBeUndefined();
    expect(first.data!.escrowRewrapBatch).toMatchObject({ toKeyVersion: 2, remaining: 3 });
    const batch1 = first.data!.escrowRewrapBatch.secrets as Released[];
    expect(batch1).toHaveLength(2);
    const released = await withTenant(orm, a.tenantId, (em) =>
      em.execute<{ data: { secretIds: string[]; toKeyVersion: number } }[]>(
        `select data from audit_events where action = 'escrow.rewrap-released' order by seq`,
      ),
    );
    expect(released.at(-1)!.data).toMatchObject({ toKeyVersion: 2, secretIds: batch1.map((s) => s.id) });

    const rewrapped = await Promise.all(
      batch1.map(async (s) => ({
        id: s.id,
        envelope: await rewrapEscrowSecret(unlockedOld, publicPart(v2), recordOf(s), s.envelope),
      })),
    );

    // Tampering: one envelope moved onto the other secret, or still sealed to the old key, refuses
    // the whole submission and stores nothing.
    const swapped = [
      { id: rewrapped[0]!.id, envelope: rewrapped[1]!.envelope },
      { id: rewrapped[1]!.id, envelope: rewrapped[1]!.envelope },
    ];
    const refused = await ask(admin, SUBMIT, { i: { secrets: swapped } });
    expect(code(refused)).toBe('ESCROW_ENVELOPE_REFUSED');
    const stale = await ask(admin, SUBMIT, {
      i: { secrets: [{ id: batch1[0]!.id, envelope: batch1[0]!.envelope }] },
    });
    expect(code(stale)).toBe('ESCROW_ENVELOPE_REFUSED');
    // Another tenant's secret is not found, not re-wrapped.
    expect(
      code(
        await ask(admin, SUBMIT, {
          i: { secrets: [{ id: foreignSecret, envelope: rewrapped[0]!.envelope }] },
        }),
      ),
    ).toBe('NOT_FOUND');

    const stored1 = await ask(admin, SUBMIT, { i: { secrets: rewrapped } });
    expect(stored1.errors).toBeUndefined();
    expect(stored1.data!.submitRewrappedSecrets).toEqual({ stored: 2, remaining: 1, toKeyVersion: 2 });
    // Submitting again is harmless.
    expect((await ask(admin, SUBMIT, { i: { secrets: rewrapped } })).data!.submitRewrappedSecrets).toEqual({
      stored: 0,
      remaining: 1,
      toKeyVersion: 2,
    });

    // The rest, then nothing left.
    const second = (await ask(admin, BATCH, { limit: 100 })).data!.escrowRewrapBatch;
    expect(second.remaining).toBe(1);
    expect(second.secrets.map((s: Released) => s.id)).not.toContain(fresh);
    expect(second.secrets.map((s: Released) => s.tenantId)).toEqual([a.tenantId]);
    const rest = await Promise.all(
      (second.secrets as Released[]).map(async (s) => ({
        id: s.id,
        envelope: await rewrapEscrowSecret(unlockedOld, publicPart(v2), recordOf(s), s.envelope),
      })),
    );
    expect((await ask(admin, SUBMIT, { i: { secrets: rest } })).data!.submitRewrappedSecrets.remaining).toBe(
      0,
    );
    expect((await ask(admin, BATCH)).data!.escrowRewrapBatch).toEqual({
      toKeyVersion: 2,
      remaining: 0,
      secrets: [],
    });

    // A reveal now hands out the envelope under version 2: the NEW passphrase opens every secret.
    const newBlob = (await ask(admin, KEY, {})).data!.escrowKey.wrappedPrivateKey as string;
    const unlockedNew = await unwrapTenantKey(newBlob, NEW_PASSPHRASE, { tenantId: a.tenantId });
    for (const [id, value] of plaintexts) {
      const revealed = (await ask(admin, REVEAL, { id })).data!.revealSecret as Released;
      expect(revealed.keyVersion).toBe(2);
      expect(await openEscrowSecret(unlockedNew, recordOf(revealed), revealed.envelope)).toBe(value);
    }

    expect(await versions(admin)).toEqual([
      { v: 2, sealed: 4, state: 'current', blob: true },
      { v: 1, sealed: 0, state: 'retired', blob: true },
    ]);

    // The old key can go now: its blob is gone, its public half stays on record.
    const destroyed = await ask(admin, DESTROY, { v: 1 });
    expect(destroyed.errors).toBeUndefined();
    expect(destroyed.data!.destroyEscrowKey).toMatchObject({ keyVersion: 1, wrappedPrivateKey: null });
    expect(destroyed.data!.destroyEscrowKey.destroyedAt).not.toBeNull();
    const after = (await ask(admin, KEY, { v: 1 })).data!.escrowKey;
    expect(after).toMatchObject({ keyVersion: 1, wrappedPrivateKey: null });
    const actions = await withTenant(orm, a.tenantId, (em) =>
      em.execute<{ action: string }[]>(
        `select action from audit_events where action like 'escrow.%' order by seq`,
      ),
    );
    expect(actions.map((r) => r.action)).toEqual(
      expect.arrayContaining([
        'escrow.key-rolled',
        'escrow.rewrap-released',
        'escrow.rewrapped',
        'escrow.key-destroyed',
      ]),
    );

    // Tenant B saw none of it.
    const bAdmin = await token(b, 'admin', true);
    expect((await ask(bAdmin, BATCH)).data!.escrowRewrapBatch).toEqual({
      toKeyVersion: 1,
      remaining: 0,
      secrets: [],
    });
    expect((await ask(bAdmin, KEY, { v: 1 })).data!.escrowKey.wrappedPrivateKey).not.toBeNull();
    expect(await versions(bAdmin)).toEqual([{ v: 1, sealed: 1, state: 'current', blob: true }]);
    expect(await versions(admin)).toEqual([
      { v: 2, sealed: 4, state: 'current', blob: true },
      { v: 1, sealed: 0, state: 'destroyed', blob: false },
    ]);
  });

  it('the database keeps re-wraps append-only: the app role cannot rewrite or delete one', async () => {
    await expect(
      withTenant(orm, a.tenantId, (em) =>
        em.execute(`update escrowed_secret_rewraps set envelope = 'dde1.x'`),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(
      withTenant(orm, a.tenantId, (em) => em.execute(`delete from escrowed_secret_rewraps`)),
    ).rejects.toThrow(/permission denied/);
  });
});
