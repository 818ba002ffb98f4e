import {
  countSecretsByNewestKey,
  destroyEscrowKey,
  escrowedEnvelope,
  escrowedSecret,
  escrowedSecretsOf,
  escrowKeyOf,
  escrowKeysOf,
  installEscrowKey,
  lockEscrowKeys,
  rewrapEscrowKey,
  recentReveals,
  revealsOf,
  secretsToRewrap,
  storeRewrap,
  type EscrowedSecretRow,
  type EscrowKeyRow,
  type RevealRecord,
} from '../../infra/db/escrow';
import { MachineSchema, Role } from '../../infra/db/entities';
import {
  checkEscrowEnvelopeFor,
  EscrowError,
  keyFingerprint,
  parseWrappedTenantKey,
  type EscrowKind,
} from '../../infra/wire/escrow-envelope';
import { appendAuditAs, audited } from './audit';
import { startPostRevealRotation } from './escrow-rotation';
import { ErrorCode, refuse } from './errors';
import { checkId, checkRange } from './input';
import { authorize, inTenant, type Caller, type ServiceContext } from './service-context';

/**
 * Zero-knowledge escrow, the operator's side (issue 16, ADR 0044): the tenant key the browser made,
 * the list of a machine's escrowed secrets, and the audited, rate-limited release of one ciphertext.
 * The server never holds anything that opens a secret; decryption happens in the browser.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reveals (granted or refused) one person may ask for per minute. */
export const REVEALS_PER_MINUTE = 10;

export interface EscrowKeyView {
  keyVersion: number;
  publicKey: string;
  fingerprint: string;
  kdf: EscrowKeyRow['kdf'];
  createdBy: string;
  createdAt: Date;
  retiredAt: Date | null;
  destroyedAt: Date | null;
  /** The `ddk1` blob the browser unlocks with the passphrase: for reveal-secrets holders only. */
  wrappedPrivateKey: string | null;
}

const view = (key: EscrowKeyRow, caller: Caller): EscrowKeyView => ({
  keyVersion: key.keyVersion,
  publicKey: key.publicKey,
  fingerprint: key.fingerprint,
  kdf: key.kdf,
  createdBy: key.createdBy,
  createdAt: key.createdAt,
  retiredAt: key.retiredAt,
  destroyedAt: key.destroyedAt,
  wrappedPrivateKey: caller.canRevealSecrets ? key.wrappedPrivateKey : null,
});

/**
 * Installs the tenant key the browser generated (admin role, tenant-wide): its public key and its
 * private key wrapped under the passphrase. The first is version 1; a current key is replaced only
 * by its next version (a roll), never overwritten. Audited with the key's fingerprint.
 */
export async function setupEscrowKey(
  ctx: ServiceContext,
  input: { publicKey: string; wrappedPrivateKey: string; keyVersion: number },
): Promise<EscrowKeyView> {
  const caller = authorize(ctx, Role.Admin, { tenantWide: true });
  const { fingerprint, kdf } = await checkWrappedKey(caller, input);
  await audited(
    ctx,
    async (em) => {
      const { current, highest } = await lockEscrowKeys(em, caller.tenantId);
      if (current !== null && input.keyVersion !== current + 1)
        throw refuse(
          ErrorCode.EscrowKeyExists,
          `escrow key version ${current} is current: a new key must be version ${current + 1}`,
          { currentVersion: current },
        );
      if (current === null && input.keyVersion !== highest + 1)
        throw refuse(ErrorCode.EscrowKeyInvalid, `the new escrow key must be version ${highest + 1}`);
      await installEscrowKey(em, {
        tenantId: caller.tenantId,
        keyVersion: input.keyVersion,
        publicKey: input.publicKey,
        wrappedPrivateKey: input.wrappedPrivateKey,
        kdf,
        fingerprint,
        createdBy: caller.actor,
      });
      return { rolledFrom: current };
    },
    ({ rolledFrom }) => ({
      action: rolledFrom === null ? 'escrow.key-setup' : 'escrow.key-rolled',
      subjectType: 'tenant',
      subjectId: caller.tenantId,
      data: { keyVersion: input.keyVersion, fingerprint, rolledFrom },
    }),
  );
  return inTenant(ctx, async (em) => view((await escrowKeyOf(em, caller.tenantId))!, caller));
}

/** The `ddk1` blob the browser sent, checked against what it claims: this tenant, this version, this public key. */
async function checkWrappedKey(
  caller: Caller,
  input: { publicKey: string; wrappedPrivateKey: string; keyVersion: number },
): Promise<{ fingerprint: string; kdf: EscrowKeyRow['kdf'] }> {
  try {
    const info = parseWrappedTenantKey(input.wrappedPrivateKey);
    const fingerprint = await keyFingerprint(input.publicKey);
    if (info.tenantId !== caller.tenantId)
      throw refuse(ErrorCode.EscrowKeyInvalid, 'the wrapped key was made for another tenant');
    if (info.keyVersion !== input.keyVersion)
      throw refuse(
        ErrorCode.EscrowKeyInvalid,
        `the wrapped key is version ${info.keyVersion}, not ${input.keyVersion}`,
      );
    if (info.publicKey !== input.publicKey)
      throw refuse(ErrorCode.EscrowKeyInvalid, 'the wrapped key belongs to another public key');
    return { fingerprint, kdf: info.kdf };
  } catch (err) {
    if (err instanceof EscrowError)
      throw refuse(ErrorCode.EscrowKeyInvalid, err.message, { reason: err.code });
    throw err;
  }
}

/**
 * Break-glass (admin, tenant-wide): the browser restored a key version from M recovery shares
 * and wrapped it under a new passphrase. Only that version's `ddk1` blob and KDF parameters are
 * replaced — the blob must name this tenant, this version and the public key stored for it, so
 * nothing machines encrypt to changes. Audited (`escrow.key-rewrapped`); the old passphrase stops
 * working at once.
 */
export async function replaceWrappedEscrowKey(
  ctx: ServiceContext,
  input: { keyVersion: number; wrappedPrivateKey: string },
): Promise<EscrowKeyView> {
  const caller = authorize(ctx, Role.Admin, { tenantWide: true });
  const keyVersion = checkRange(input.keyVersion, 'keyVersion', { min: 1, max: 999_999_999, fallback: 1 });
  let publicKey: string;
  try {
    publicKey = parseWrappedTenantKey(input.wrappedPrivateKey).publicKey;
  } catch (err) {
    if (err instanceof EscrowError)
      throw refuse(ErrorCode.EscrowKeyInvalid, err.message, { reason: err.code });
    throw err;
  }
  const { fingerprint, kdf } = await checkWrappedKey(caller, {
    publicKey,
    wrappedPrivateKey: input.wrappedPrivateKey,
    keyVersion,
  });
  await audited(
    ctx,
    async (em) => {
      await lockEscrowKeys(em, caller.tenantId);
      const stored = await escrowKeyOf(em, caller.tenantId, keyVersion);
      if (!stored) throw refuse(ErrorCode.NotFound, `the tenant has no escrow key version ${keyVersion}`);
      if (stored.publicKey !== publicKey)
        throw refuse(
          ErrorCode.EscrowKeyInvalid,
          `the wrapped key belongs to another public key than escrow key version ${keyVersion}`,
        );
      // A destroyed key stays destroyed: its secrets were re-wrapped to a newer one (migration 0030).
      if (stored.destroyedAt)
        throw refuse(
          ErrorCode.EscrowKeyInUse,
          `escrow key version ${keyVersion} was destroyed after a key roll; recover the current key instead`,
        );
      if (
        !(await rewrapEscrowKey(em, {
          tenantId: caller.tenantId,
          keyVersion,
          publicKey,
          wrappedPrivateKey: input.wrappedPrivateKey,
          kdf,
        }))
      )
        throw refuse(ErrorCode.NotFound, `the tenant has no escrow key version ${keyVersion}`);
    },
    () => ({
      action: 'escrow.key-rewrapped',
      subjectType: 'tenant',
      subjectId: caller.tenantId,
      data: { keyVersion, fingerprint, kdf: { name: kdf.name, iterations: kdf.iterations } },
    }),
  );
  return inTenant(ctx, async (em) => view((await escrowKeyOf(em, caller.tenantId, keyVersion))!, caller));
}

/** The tenant's current escrow key (or a given version); the wrapped blob for reveal-secrets holders only. */
export async function escrowKeyOfTenant(
  ctx: ServiceContext,
  input: { keyVersion?: number | null },
): Promise<EscrowKeyView | null> {
  authorize(ctx, Role.Viewer);
  const version =
    input.keyVersion === null || input.keyVersion === undefined
      ? undefined
      : checkRange(input.keyVersion, 'keyVersion', { min: 1, max: 999_999_999, fallback: 1 });
  return inTenant(ctx, async (em, caller) => {
    const key = await escrowKeyOf(em, caller.tenantId, version);
    return key ? view(key, caller) : null;
  });
}

/** Every version of the tenant's escrow key, the current one first (viewer; wrapped blobs as for escrowKey). */
export async function escrowKeysOfTenant(ctx: ServiceContext): Promise<EscrowKeyView[]> {
  authorize(ctx, Role.Viewer);
  return inTenant(ctx, async (em, caller) =>
    (await escrowKeysOf(em, caller.tenantId)).map((key) => view(key, caller)),
  );
}

/**
 * How many of the secrets the caller can see have their newest envelope sealed to this key version:
 * what a key roll still has to re-wrap before the version can be destroyed.
 */
export async function secretsSealedTo(ctx: ServiceContext, keyVersion: number): Promise<number> {
  return inTenant(ctx, (em, caller) =>
    countSecretsByNewestKey(em, { tenantId: caller.tenantId, exactly: keyVersion }),
  );
}

export interface EscrowedSecretView extends EscrowedSecretRow {
  reveals: Omit<RevealRecord, 'secretId'>[];
}

/** A machine's escrowed secrets: kinds, versions, dates and who revealed them — never a value (viewer role). */
export async function escrowedSecretsOfMachine(
  ctx: ServiceContext,
  machineId: string,
): Promise<EscrowedSecretView[]> {
  authorize(ctx, Role.Viewer);
  const id = checkId(machineId, 'machineId');
  return inTenant(ctx, async (em, caller) => {
    if (!(await em.findOne(MachineSchema, { id }))) throw refuse(ErrorCode.NotFound, 'machine not found');
    const secrets = await escrowedSecretsOf(em, id);
    const reveals = await revealsOf(
      em,
      caller.tenantId,
      secrets.map((s) => s.id),
    );
    return secrets.map((s) => ({
      ...s,
      reveals: reveals.filter((r) => r.secretId === s.id).map(({ actor, at }) => ({ actor, at })),
    }));
  });
}

export interface RevealedSecret {
  id: string;
  tenantId: string;
  machineId: string;
  kind: EscrowKind;
  secretVersion: number;
  keyVersion: number;
  confirmedAt: Date | null;
  /** The `dde1` envelope; opened in the browser with the unlocked tenant key. */
  envelope: string;
}

/**
 * Releases one secret's ciphertext (operator role with reveal-secrets). Its audit event is
 * appended and committed in a transaction of its own FIRST; then its rotation after the grace is
 * started (or joined); only then is the envelope read and returned —
 * an audit write or a rotation start that fails releases nothing. Refusals (rate limit, no such secret) are
 * audited too; a caller without the permission is refused and audited by the GraphQL guard
 * (api/graphql/field-access.ts) and by `auditRefusedReveal` here for other transports.
 */
export async function revealSecret(ctx: ServiceContext, secretId: string): Promise<RevealedSecret> {
  if (ctx.caller && !ctx.caller.canRevealSecrets) await auditRefusedReveal(ctx, secretId, 'no-permission');
  const caller = authorize(ctx, Role.Operator, { revealSecrets: true });
  const id = checkId(secretId, 'id');
  // 1. The audit event, committed — or the rate limit's or a missing secret's refusal, committed.
  const decided = await inTenant(ctx, async (em, caller) => {
    // One reveal at a time per person: the count below cannot be raced past the limit.
    await em.execute(`select pg_advisory_xact_lock(hashtext('escrow-reveal:' || ? || ':' || ?))`, [
      caller.tenantId,
      caller.actor,
    ]);
    const since = new Date(Date.now() - 60_000);
    const recent = await recentReveals(em, { tenantId: caller.tenantId, actor: caller.actor, since });
    const secret = await escrowedSecret(em, id);
    const refusal = recent >= REVEALS_PER_MINUTE ? 'rate-limited' : !secret ? 'not-found' : null;
    await appendAuditAs(em, caller, {
      action: refusal ? 'escrow.reveal-refused' : 'escrow.reveal',
      subjectType: 'escrowed_secret',
      // An id the caller cannot see is not echoed into its tenant's chain.
      subjectId: secret ? id : '',
      data: secret
        ? {
            machineId: secret.machineId,
            kind: secret.kind,
            secretVersion: secret.secretVersion,
            keyVersion: secret.keyVersion,
            ...(refusal ? { reason: refusal } : {}),
          }
        : { reason: refusal },
    });
    return { refusal, secret };
  });
  if (decided.refusal === 'rate-limited')
    throw refuse(
      ErrorCode.RevealRateLimited,
      `at most ${REVEALS_PER_MINUTE} reveals a minute; try again shortly`,
      { retryAfterSeconds: 60 },
    );
  if (decided.refusal || !decided.secret) throw refuse(ErrorCode.NotFound, 'secret not found');
  // 2. A revealed secret is rotated after the grace (ADR 0047): that rotation is on its way
  // before anything is released, or nothing is (ROTATION_UNAVAILABLE).
  await startPostRevealRotation(ctx, caller, decided.secret);
  // 3. Only now, after the commit, the ciphertext.
  const newest = await inTenant(ctx, (em) => escrowedEnvelope(em, id));
  if (!newest) throw refuse(ErrorCode.NotFound, 'secret not found');
  const s = decided.secret;
  return {
    id: s.id,
    tenantId: s.tenantId,
    machineId: s.machineId,
    kind: s.kind,
    secretVersion: s.secretVersion,
    // The envelope's own: a key roll's re-wrap may have landed between the two transactions.
    keyVersion: newest.keyVersion,
    confirmedAt: s.confirmedAt,
    envelope: newest.envelope,
  };
}

/**
 * A reveal refused for want of the permission, on the record: the event commits on its own (the
 * refusal follows it). Best effort only in the sense that a failing audit write fails the request
 * as well — it never turns a refusal into a release.
 */
export async function auditRefusedReveal(
  ctx: ServiceContext,
  secretId: unknown,
  reason: 'no-permission',
): Promise<void> {
  if (!ctx.caller) return;
  const id = typeof secretId === 'string' && UUID.test(secretId) ? secretId : null;
  await inTenant(ctx, async (em, caller) => {
    // The secret's id when the caller can see it; never an id of another tenant or client.
    const secret = id ? await escrowedSecret(em, id) : null;
    await appendAuditAs(em, caller, {
      action: 'escrow.reveal-refused',
      subjectType: 'escrowed_secret',
      subjectId: secret?.id ?? '',
      data: secret
        ? { reason, machineId: secret.machineId, kind: secret.kind, secretVersion: secret.secretVersion }
        : { reason },
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Key roll: the browser re-wraps every secret sealed to an older key, then the old key is destroyed.

/** Secrets released to one re-wrap round at most. */
export const REWRAP_BATCH_MAX = 100;

export interface RewrapBatch {
  /** The current key version the released secrets are to be sealed to. */
  toKeyVersion: number;
  /** Secrets still sealed only to older keys, this batch included. */
  remaining: number;
  secrets: RevealedSecret[];
}

/**
 * Releases a batch of ciphertexts still sealed only to older key versions, for the browser to
 * re-wrap to the current key (admin with reveal-secrets, tenant-wide). A bulk release, so it is
 * the admin's alone and audited like a reveal: the event naming every released secret commits
 * first, in a transaction of its own; only then are the envelopes read.
 */
export async function releaseSecretsToRewrap(
  ctx: ServiceContext,
  input: { limit?: number | null },
): Promise<RewrapBatch> {
  authorize(ctx, Role.Admin, { tenantWide: true, revealSecrets: true });
  const limit = checkRange(input.limit ?? undefined, 'limit', {
    min: 1,
    max: REWRAP_BATCH_MAX,
    fallback: 50,
  });
  const decided = await inTenant(ctx, async (em, caller) => {
    const key = await escrowKeyOf(em, caller.tenantId);
    if (!key) throw refuse(ErrorCode.EscrowKeyMissing, 'escrow is not set up for this tenant');
    const remaining = await countSecretsByNewestKey(em, { tenantId: caller.tenantId, below: key.keyVersion });
    const batch = await secretsToRewrap(em, { tenantId: caller.tenantId, keyVersion: key.keyVersion, limit });
    if (batch.length > 0)
      await appendAuditAs(em, caller, {
        action: 'escrow.rewrap-released',
        subjectType: 'tenant',
        subjectId: caller.tenantId,
        data: { toKeyVersion: key.keyVersion, count: batch.length, secretIds: batch.map((s) => s.id) },
      });
    return { toKeyVersion: key.keyVersion, remaining, batch };
  });
  const secrets: RevealedSecret[] = [];
  await inTenant(ctx, async (em, caller) => {
    for (const s of decided.batch) {
      const newest = await escrowedEnvelope(em, s.id);
      if (!newest || newest.keyVersion >= decided.toKeyVersion) continue; // re-wrapped meanwhile
      secrets.push({
        id: s.id,
        tenantId: caller.tenantId,
        machineId: s.machineId,
        kind: s.kind,
        secretVersion: s.secretVersion,
        keyVersion: newest.keyVersion,
        confirmedAt: s.confirmedAt,
        envelope: newest.envelope,
      });
    }
  });
  return { toKeyVersion: decided.toKeyVersion, remaining: decided.remaining, secrets };
}

/**
 * Stores envelopes the browser re-wrapped to the current key (admin with reveal-secrets,
 * tenant-wide). Each is checked against its secret as an agent's upload is (key version,
 * tenant, machine, kind, secret version); one that does not fit refuses the whole batch and stores
 * nothing. A secret already re-wrapped to the current key keeps its envelope (idempotent).
 */
export async function submitRewrappedSecrets(
  ctx: ServiceContext,
  input: { secrets: { id: string; envelope: string }[] },
): Promise<{ stored: number; remaining: number; toKeyVersion: number }> {
  const caller = authorize(ctx, Role.Admin, { tenantWide: true, revealSecrets: true });
  if (input.secrets.length > REWRAP_BATCH_MAX)
    throw refuse(ErrorCode.BadUserInput, `at most ${REWRAP_BATCH_MAX} secrets per call`);
  const items = input.secrets.map((s) => ({ id: checkId(s.id, 'id'), envelope: s.envelope }));
  return audited(
    ctx,
    async (em) => {
      const { current } = await lockEscrowKeys(em, caller.tenantId);
      const key = current === null ? null : await escrowKeyOf(em, caller.tenantId, current);
      if (!key) throw refuse(ErrorCode.EscrowKeyMissing, 'escrow is not set up for this tenant');
      const recipient = { tenantId: caller.tenantId, keyVersion: key.keyVersion, publicKey: key.publicKey };
      let stored = 0;
      for (const item of items) {
        const secret = await escrowedSecret(em, item.id);
        if (!secret) throw refuse(ErrorCode.NotFound, `secret ${item.id} not found`);
        try {
          await checkEscrowEnvelopeFor(recipient, secret, item.envelope);
        } catch (err) {
          if (err instanceof EscrowError)
            throw refuse(ErrorCode.EscrowEnvelopeRefused, `secret ${item.id}: ${err.message}`, {
              reason: err.code,
            });
          throw err;
        }
        if (secret.keyVersion >= key.keyVersion) continue;
        if (
          await storeRewrap(em, {
            tenantId: caller.tenantId,
            secretId: secret.id,
            keyVersion: key.keyVersion,
            envelope: item.envelope,
            createdBy: caller.actor,
          })
        )
          stored++;
      }
      const remaining = await countSecretsByNewestKey(em, {
        tenantId: caller.tenantId,
        below: key.keyVersion,
      });
      return { stored, remaining, toKeyVersion: key.keyVersion };
    },
    (result) => ({
      action: 'escrow.rewrapped',
      subjectType: 'tenant',
      subjectId: caller.tenantId,
      data: { keyVersion: result.toKeyVersion, stored: result.stored, remaining: result.remaining },
    }),
  );
}

/**
 * Destroys a retired key's wrapped private key (admin, tenant-wide) once no secret depends on it:
 * its passphrase and its shares then open nothing the server releases. ESCROW_KEY_IN_USE while it is
 * current or a secret's newest envelope is still sealed to it.
 */
export async function destroyRetiredEscrowKey(
  ctx: ServiceContext,
  keyVersion: number,
): Promise<EscrowKeyView> {
  const caller = authorize(ctx, Role.Admin, { tenantWide: true });
  const version = checkRange(keyVersion, 'keyVersion', { min: 1, max: 999_999_999, fallback: 1 });
  await audited(
    ctx,
    async (em) => {
      const { current } = await lockEscrowKeys(em, caller.tenantId);
      const key = await escrowKeyOf(em, caller.tenantId, version);
      if (!key) throw refuse(ErrorCode.NotFound, `escrow key version ${version} not found`);
      if (version === current)
        throw refuse(
          ErrorCode.EscrowKeyInUse,
          'the current escrow key cannot be destroyed; roll to a new one first',
        );
      const dependent = await countSecretsByNewestKey(em, { tenantId: caller.tenantId, exactly: version });
      if (dependent > 0)
        throw refuse(
          ErrorCode.EscrowKeyInUse,
          `${dependent} secrets are sealed only to key version ${version}; re-wrap them to the current key first`,
          { secrets: dependent },
        );
      await destroyEscrowKey(em, { tenantId: caller.tenantId, keyVersion: version });
      return key.fingerprint;
    },
    (fingerprint) => ({
      action: 'escrow.key-destroyed',
      subjectType: 'tenant',
      subjectId: caller.tenantId,
      data: { keyVersion: version, fingerprint },
    }),
  );
  return inTenant(ctx, async (em) => view((await escrowKeyOf(em, caller.tenantId, version))!, caller));
}
