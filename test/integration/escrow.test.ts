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
  sealEscrowSecret,
  unwrapTenantKey,
  wrapTenantKey,
  type TenantKey,
} from '../../infra/wire/escrow-envelope';
import { buildTestApp } from '../helpers/api';
import { mintApiToken } from '../helpers/auth';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';

/**
 * Escrow storage and reveal (issue 16, ADR 0044) through GraphQL: the key the browser made, the
 * list without values, and reveals that are audited before anything is released, refused and
 * audited without the permission, and rate-limited.
 */

let db: TestDatabase;
let orm: Orm;
let a: TenantFixture;
let b: TenantFixture;
let app: FastifyInstance;
let connection: Connection;
let machineId: string;
let key: TenantKey;
const PASSPHRASE = 'correct horse battery staple';

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

async function auditOf(
  t: TenantFixture,
  action: string,
): Promise<{ actor: string; subject_id: string; data: Record<string, unknown> }[]> {
  return withTenant(orm, t.tenantId, (em) =>
    em.execute(`select actor, subject_id, data from audit_events where action = ? order by seq`, [action]),
  );
}

async function escrow(secretVersion: number, plaintext: string): Promise<string> {
  const record = { machineId, kind: 'local-admin-password' as const, secretVersion };
  return withTenant(orm, a.tenantId, async (em) => {
    const { secret } = await storeEscrowedSecret(em, {
      tenantId: a.tenantId,
      ...record,
      keyVersion: key.keyVersion,
      envelope: await sealEscrowSecret(publicPart(key), record, plaintext),
      account: 'DrydockAdmin',
    });
    return secret.id;
  });
}

const SETUP = `mutation($i: SetupEscrowKeyInput!) { setupEscrowKey(input: $i) { keyVersion fingerprint kdfIterations wrappedPrivateKey } }`;
const REVEAL = `mutation($id: ID!) { revealSecret(id: $id) { id tenantId machineId kind secretVersion keyVersion envelope } }`;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  connection = await Connection.connect({ address: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS! });
  app = await buildTestApp(orm, new Client({ connection }), db.appUrl);
  a = await createTenant(orm);
  b = await createTenant(orm);
  machineId = await withTenant(orm, a.tenantId, async (em) => {
    const m = em.create(MachineSchema, {
      id: randomUUID(),
      tenantId: a.tenantId,
      siteId: a.siteId,
      machineUid: randomUUID(),
      hostname: 'PC-ESCROW',
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
  key = await generateTenantKey({ tenantId: a.tenantId, keyVersion: 1 });
});
afterAll(async () => {
  await app?.close();
  await connection?.close();
  await db?.drop();
});

describe('the tenant escrow key', () => {
  it('is installed from what the browser made, never overwritten, only rolled to its next version', async () => {
    const admin = await token(a, 'admin', true);
    const wrapped = await wrapTenantKey(key, PASSPHRASE);
    const input = { publicKey: key.publicKey, wrappedPrivateKey: wrapped, keyVersion: 1 };

    // An engineer may not; a blob of another tenant or another public key is refused.
    expect(code(await ask(await token(a, 'engineer', true), SETUP, { i: input }))).toBe('FORBIDDEN');
    const other = await generateTenantKey({ tenantId: b.tenantId, keyVersion: 1 });
    const foreign = await wrapTenantKey(other, PASSPHRASE);
    expect(
      code(
        await ask(admin, SETUP, {
          i: { publicKey: other.publicKey, wrappedPrivateKey: foreign, keyVersion: 1 },
        }),
      ),
    ).toBe('ESCROW_KEY_INVALID');
    expect(code(await ask(admin, SETUP, { i: { ...input, publicKey: other.publicKey } }))).toBe(
      'ESCROW_KEY_INVALID',
    );
    expect(code(await ask(admin, SETUP, { i: { ...input, wrappedPrivateKey: wrapped.slice(0, -4) } }))).toBe(
      'ESCROW_KEY_INVALID',
    );

    const set = await ask(admin, SETUP, { i: input });
    expect(set.errors).toBeUndefined();
    expect(set.data!.setupEscrowKey).toMatchObject({
      keyVersion: 1,
      kdfIterations: 600_000,
      wrappedPrivateKey: wrapped,
    });
    // The same version again (a second browser, a replay) is refused: the current key stays.
    expect(code(await ask(admin, SETUP, { i: input }))).toBe('ESCROW_KEY_EXISTS');
    expect(await auditOf(a, 'escrow.key-setup')).toHaveLength(1);

    // A viewer sees the public key; only reveal-secrets holders get the wrapped private key.
    const asViewer = await ask(
      await token(a, 'viewer', false),
      `{ escrowKey { keyVersion publicKey wrappedPrivateKey } }`,
    );
    expect(asViewer.data!.escrowKey).toEqual({
      keyVersion: 1,
      publicKey: key.publicKey,
      wrappedPrivateKey: null,
    });
    const asRevealerToken = await token(a, 'operator', true);
    const asRevealer = await ask(asRevealerToken, `{ escrowKey { wrappedPrivateKey } }`);
    expect(asRevealer.data!.escrowKey.wrappedPrivateKey).toBe(wrapped);
    // A roll: only the next version replaces the current key, which is kept (retired) for old secrets.
    const next = await generateTenantKey({ tenantId: a.tenantId, keyVersion: 2 });
    const nextWrapped = await wrapTenantKey(next, PASSPHRASE);
    const skip = await generateTenantKey({ tenantId: a.tenantId, keyVersion: 3 });
    expect(
      code(
        await ask(admin, SETUP, {
          i: {
            publicKey: skip.publicKey,
            wrappedPrivateKey: await wrapTenantKey(skip, PASSPHRASE),
            keyVersion: 3,
          },
        }),
      ),
    ).toBe('ESCROW_KEY_EXISTS');
    const rolled = await ask(admin, SETUP, {
      i: { publicKey: next.publicKey, wrappedPrivateKey: nextWrapped, keyVersion: 2 },
    });
    expect(rolled.data!.setupEscrowKey).toMatchObject({ keyVersion: 2 });
    expect(await auditOf(a, 'escrow.key-rolled')).toHaveLength(1);
    const versions = await ask(
      asRevealerToken,
      `{ now: escrowKey { keyVersion retiredAt } old: escrowKey(keyVersion: 1) { keyVersion retiredAt wrappedPrivateKey } }`,
    );
    expect(versions.data!.now).toEqual({ keyVersion: 2, retiredAt: null });
    expect(versions.data!.old).toMatchObject({ keyVersion: 1, wrappedPrivateKey: wrapped });
    expect(versions.data!.old.retiredAt).not.toBeNull();
    // Another tenant has none.
    expect(
      (await ask(await token(b, 'admin', true), `{ escrowKey { keyVersion } }`)).data!.escrowKey,
    ).toBeNull();
  });
});

describe('break-glass re-wrap', () => {
  const REWRAP = `mutation($v: Int!, $w: String!) { replaceWrappedEscrowKey(keyVersion: $v, wrappedPrivateKey: $w) { keyVersion publicKey fingerprint wrappedPrivateKey } }`;

  it('replaces only the wrapped blob of the key version whose public key it names, audited; the old passphrase stops working', async () => {
    const admin = await token(b, 'admin', true);
    const own = await generateTenantKey({ tenantId: b.tenantId, keyVersion: 1 });
    const first = await wrapTenantKey(own, PASSPHRASE);
    expect(
      (await ask(admin, SETUP, { i: { publicKey: own.publicKey, wrappedPrivateKey: first, keyVersion: 1 } }))
        .errors,
    ).toBeUndefined();
    const before = (await ask(admin, `{ escrowKey { fingerprint publicKey } }`)).data!.escrowKey;
    const NEW = 'a brand new passphrase after recovery';
    const rewrapped = await wrapTenantKey(own, NEW);

    // Not an admin; a blob of another key (same tenant and version); another version; another tenant.
    expect(code(await ask(await token(b, 'engineer', true), REWRAP, { v: 1, w: rewrapped }))).toBe(
      'FORBIDDEN',
    );
    const impostor = await generateTenantKey({ tenantId: b.tenantId, keyVersion: 1 });
    expect(code(await ask(admin, REWRAP, { v: 1, w: await wrapTenantKey(impostor, NEW) }))).toBe(
      'ESCROW_KEY_INVALID',
    );
    expect(code(await ask(admin, REWRAP, { v: 2, w: rewrapped }))).toBe('ESCROW_KEY_INVALID');
    const v2 = await generateTenantKey({ tenantId: b.tenantId, keyVersion: 2 });
    expect(code(await ask(admin, REWRAP, { v: 2, w: await wrapTenantKey(v2, NEW) }))).toBe('NOT_FOUND');
    expect(code(await ask(await token(a, 'admin', true), REWRAP, { v: 1, w: rewrapped }))).toBe(
      'ESCROW_KEY_INVALID',
    );
    // (A cut ciphertext with a well-formed shape cannot be told by the server: the portal unlocks its
    // new blob with the new passphrase before it sends it.)
    expect(code(await ask(admin, REWRAP, { v: 1, w: rewrapped.split('.').slice(0, 8).join('.') }))).toBe(
      'ESCROW_KEY_INVALID',
    );
    expect((await ask(admin, `{ escrowKey { wrappedPrivateKey } }`)).data!.escrowKey.wrappedPrivateKey).toBe(
      first,
    );

    const done = await ask(admin, REWRAP, { v: 1, w: rewrapped });
    expect(done.errors).toBeUndefined();
    expect(done.data!.replaceWrappedEscrowKey).toEqual({
      ...before,
      keyVersion: 1,
      wrappedPrivateKey: rewrapped,
    });
    const stored = (await ask(admin, `{ escrowKey { wrappedPrivateKey } }`)).data!.escrowKey
      .wrappedPrivateKey;
    await expect(unwrapTenantKey(stored, PASSPHRASE)).rejects.toMatchObject({
      code: 'ESCROW_BAD_PASSPHRASE',
    });
    await expect(unwrapTenantKey(stored, NEW)).resolves.toMatchObject({ publicKey: own.publicKey });
    const events = await auditOf(b, 'escrow.key-rewrapped');
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ keyVersion: 1, fingerprint: before.fingerprint });
    expect(JSON.stringify(events)).not.toContain(rewrapped);
  });
});

describe('escrowed secrets and their reveal', () => {
  it('lists versions without values, audits each reveal before releasing one ciphertext, and the browser opens it', async () => {
    const v1 = await escrow(1, 'First-Password-1!');
    const v2 = await escrow(2, 'Second-Password-2!');
    const viewer = await token(a, 'viewer', false);
    const listed = await ask(
      viewer,
      `query($m: ID!) { escrowedSecrets(machineId: $m) { id kind secretVersion keyVersion account confirmedAt reveals { actor } } }`,
      { m: machineId },
    );
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.escrowedSecrets).toEqual([
      {
        id: v2,
        kind: 'LOCAL_ADMIN_PASSWORD',
        secretVersion: 2,
        keyVersion: 1,
        account: 'DrydockAdmin',
        confirmedAt: null,
        reveals: [],
      },
      {
        id: v1,
        kind: 'LOCAL_ADMIN_PASSWORD',
        secretVersion: 1,
        keyVersion: 1,
        account: 'DrydockAdmin',
        confirmedAt: null,
        reveals: [],
      },
    ]);
    expect(JSON.stringify(listed)).not.toContain('dde1.');

    const revealer = await token(a, 'operator', true);
    const revealed = await ask(revealer, REVEAL, { id: v2 });
    expect(revealed.errors).toBeUndefined();
    const r = revealed.data!.revealSecret;
    expect(r).toMatchObject({
      id: v2,
      tenantId: a.tenantId,
      machineId,
      kind: 'LOCAL_ADMIN_PASSWORD',
      secretVersion: 2,
    });
    // The audit event is on the chain, with what was released (never the ciphertext).
    const events = await auditOf(a, 'escrow.reveal');
    expect(events.at(-1)).toMatchObject({
      subject_id: v2,
      data: { machineId, secretVersion: 2, keyVersion: 1 },
    });
    expect(JSON.stringify(events)).not.toContain('dde1.');
    // What the portal does: unlock with the passphrase, open with the envelope's own record.
    const wrapped = (
      await ask(revealer, `query($v: Int) { escrowKey(keyVersion: $v) { wrappedPrivateKey } }`, {
        v: r.keyVersion,
      })
    ).data!.escrowKey.wrappedPrivateKey;
    const unlocked = await unwrapTenantKey(wrapped, PASSPHRASE, { tenantId: a.tenantId });
    await expect(
      openEscrowSecret(
        unlocked,
        { machineId: r.machineId, kind: 'local-admin-password', secretVersion: r.secretVersion },
        r.envelope,
      ),
    ).resolves.toBe('Second-Password-2!');
    // And the list says who revealed it.
    const after = await ask(
      viewer,
      `query($m: ID!) { escrowedSecrets(machineId: $m) { id reveals { actor at } } }`,
      {
        m: machineId,
      },
    );
    expect(after.data!.escrowedSecrets[0].reveals).toHaveLength(1);
    // Another tenant's admin gets what a missing id gets.
    const foreign = await ask(await token(b, 'admin', true), REVEAL, { id: v2 });
    expect(code(foreign)).toBe('NOT_FOUND');
    expect(foreign.data?.revealSecret ?? null).toBeNull();
  });

  it('refuses a reveal without the permission, and audits the refusal', async () => {
    const id = await escrow(3, 'Third-Password-3!');
    const before = (await auditOf(a, 'escrow.reveal-refused')).length;
    for (const bearer of [
      await token(a, 'operator', false),
      await token(a, 'admin', false),
      await token(a, 'viewer', true),
    ]) {
      const answer = await ask(bearer, REVEAL, { id });
      expect(code(answer)).toBe('FORBIDDEN');
      expect(answer.data?.revealSecret ?? null).toBeNull();
    }
    const refused = (await auditOf(a, 'escrow.reveal-refused')).slice(before);
    expect(refused).toHaveLength(3);
    expect(refused.every((e) => e.subject_id === id && e.data.reason === 'no-permission')).toBe(true);
  });

  it('releases nothing when the audit event cannot be written', async () => {
    const id = await escrow(4, 'Fourth-Password-4!');
    const admin = await db.adminClient();
    try {
      await admin.query(`create function escrow_test_refuse() returns trigger language plpgsql as $$
        begin if new.action = 'escrow.reveal' then raise exception 'audit store unavailable'; end if; return new; end $$`);
      await admin.query(
        `create trigger escrow_test_refuse before insert on audit_events for each row execute function escrow_test_refuse()`,
      );
      const answer = await ask(await token(a, 'operator', true), REVEAL, { id });
      expect(answer.errors?.length).toBeGreaterThan(0);
      expect(answer.data?.revealSecret ?? null).toBeNull();
      expect(JSON.stringify(answer)).not.toContain('dde1.');
    } finally {
      await admin.query(`drop trigger if exists escrow_test_refuse on audit_events`);
      await admin.query(`drop function if exists escrow_test_refuse()`);
      await admin.end();
    }
  });

  it('limits reveals per person to 10 a minute with a stable code, and audits the refusal', async () => {
    const id = await escrow(5, 'Fifth-Password-5!');
    const bearer = await token(a, 'operator', true);
    const answers = await Promise.all(Array.from({ length: 12 }, () => ask(bearer, REVEAL, { id })));
    const granted = answers.filter((x) => x.data?.revealSecret?.envelope);
    const limited = answers.filter((x) => code(x) === 'REVEAL_RATE_LIMITED');
    expect(granted).toHaveLength(10);
    expect(limited).toHaveLength(2);
    expect(limited.every((x) => (x.data?.revealSecret ?? null) === null)).toBe(true);
    const refused = (await auditOf(a, 'escrow.reveal-refused')).filter(
      (e) => e.data.reason === 'rate-limited',
    );
    expect(refused).toHaveLength(2);
    // Another person is not held back by this one.
    expect((await ask(await token(a, 'operator', true), REVEAL, { id })).data!.revealSecret.envelope).toMatch(
      /^dde1\./,
    );
  });
});
