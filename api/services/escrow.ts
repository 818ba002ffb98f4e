import {
  escrowedEnvelope,
  escrowedSecret,
  escrowedSecretsOf,
  escrowKeyOf,
  installEscrowKey,
  lockEscrowKeys,
  rewrapEscrowKey,
  recentReveals,
  revealsOf,
  type EscrowedSecretRow,
  type EscrowKeyRow,
  type RevealRecord,
} from '../../infra/db/escrow';
import { MachineSchema, Role } from '../../infra/db/entities';
import {
  EscrowError,
  keyFingerprint,
  parseWrappedTenantKey,
  type EscrowKind,
} from '../../infra/wire/escrow-envelope';
import { appendAuditAs, audited } from './audit';
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
 * appended and committed in a transaction of its own FIRST; only then is the envelope read and
 * returned — an audit write that fails releases nothing. Refusals (rate limit, no such secret) are
 * audited too; a caller without the permission is refused and audited by the GraphQL guard
 * (api/graphql/field-access.ts) and by `auditRefusedReveal` here for other transports.
 */
export async function revealSecret(ctx: ServiceContext, secretId: string): Promise<RevealedSecret> {
  if (ctx.caller && !ctx.caller.canRevealSecrets) await auditRefusedReveal(ctx, secretId, 'no-permission');
  authorize(ctx, Role.Operator, { revealSecrets: true });
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
  // 2. Only now, after the commit, the ciphertext.
  const envelope = await inTenant(ctx, (em) => escrowedEnvelope(em, id));
  if (!envelope) throw refuse(ErrorCode.NotFound, 'secret not found');
  const s = decided.secret;
  return {
    id: s.id,
    tenantId: s.tenantId,
    machineId: s.machineId,
    kind: s.kind,
    secretVersion: s.secretVersion,
    keyVersion: s.keyVersion,
    confirmedAt: s.confirmedAt,
    envelope,
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
