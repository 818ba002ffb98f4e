import { createHash } from 'node:crypto';
import type { EscrowKind, TenantPublicKey, WrappedKeyInfo } from '../wire/escrow-envelope';
import type { EntityManager } from './orm';

/**
 * The escrow tables (migration 0025, ADR 0044): tenant escrow keys and escrowed secrets. Every
 * function runs in the caller's tenant transaction (row-level security and the client scope hold).
 * Nothing here can read a secret: the rows hold a public key, a passphrase-wrapped private key and
 * HPKE envelopes.
 */

export interface EscrowKeyRow {
  tenantId: string;
  keyVersion: number;
  publicKey: string;
  /** Null once destroyed (after a key roll re-wrapped every secret sealed to it). */
  wrappedPrivateKey: string | null;
  kdf: WrappedKeyInfo['kdf'];
  fingerprint: string;
  createdBy: string;
  createdAt: Date;
  retiredAt: Date | null;
  destroyedAt: Date | null;
}

export interface EscrowedSecretRow {
  id: string;
  tenantId: string;
  machineId: string;
  kind: EscrowKind;
  secretVersion: number;
  keyVersion: number;
  protectorId: string | null;
  account: string | null;
  createdAt: Date;
  confirmedAt: Date | null;
}

const KEY_COLUMNS = `tenant_id::text as "tenantId", key_version as "keyVersion", public_key as "publicKey",
  wrapped_private_key as "wrappedPrivateKey", kdf, fingerprint, created_by as "createdBy",
  created_at as "createdAt", retired_at as "retiredAt", destroyed_at as "destroyedAt"`;

/** The key version of a secret's newest envelope: its own, or that of its latest re-wrap (migration 0030). */
const NEWEST_KEY_VERSION = `greatest(escrowed_secrets.key_version, coalesce((select max(r.key_version)
  from escrowed_secret_rewraps r where r.tenant_id = escrowed_secrets.tenant_id and r.secret_id = escrowed_secrets.id), 0))`;

const SECRET_COLUMNS = `escrowed_secrets.id::text, escrowed_secrets.tenant_id::text as "tenantId",
  escrowed_secrets.machine_id::text as "machineId", escrowed_secrets.kind,
  escrowed_secrets.secret_version as "secretVersion", ${NEWEST_KEY_VERSION} as "keyVersion",
  escrowed_secrets.protector_id as "protectorId", escrowed_secrets.account,
  escrowed_secrets.created_at as "createdAt", escrowed_secrets.confirmed_at as "confirmedAt"`;

// Raw rows carry timestamps as text: the API's DateTime scalar wants dates.
const toDate = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));
const secretRow = (row: EscrowedSecretRow): EscrowedSecretRow => ({
  ...row,
  createdAt: toDate(row.createdAt)!,
  confirmedAt: toDate(row.confirmedAt),
});

/** The tenant's current key, or a given version of it (current or retired); null if none. */
export async function escrowKeyOf(
  em: EntityManager,
  tenantId: string,
  keyVersion?: number,
): Promise<EscrowKeyRow | null> {
  const rows = await em.execute<EscrowKeyRow[]>(
    keyVersion === undefined
      ? `select ${KEY_COLUMNS} from tenant_escrow_keys where tenant_id = ? and retired_at is null`
      : `select ${KEY_COLUMNS} from tenant_escrow_keys where tenant_id = ? and key_version = ?`,
    keyVersion === undefined ? [tenantId] : [tenantId, keyVersion],
  );
  return rows[0] ? keyRow(rows[0]) : null;
}

/** Every version of the tenant's escrow key, the current one first (retired and destroyed ones stay on record). */
export async function escrowKeysOf(em: EntityManager, tenantId: string): Promise<EscrowKeyRow[]> {
  const rows = await em.execute<EscrowKeyRow[]>(
    `select ${KEY_COLUMNS} from tenant_escrow_keys where tenant_id = ? order by key_version desc`,
    [tenantId],
  );
  return rows.map(keyRow);
}

const keyRow = (row: EscrowKeyRow): EscrowKeyRow => ({
  ...row,
  createdAt: toDate(row.createdAt)!,
  retiredAt: toDate(row.retiredAt),
  destroyedAt: toDate(row.destroyedAt),
});

/** The public half machines encrypt to, or null when the tenant has not set escrow up. */
export async function escrowRecipientOf(
  em: EntityManager,
  tenantId: string,
): Promise<TenantPublicKey | null> {
  const key = await escrowKeyOf(em, tenantId);
  return key ? { tenantId, keyVersion: key.keyVersion, publicKey: key.publicKey } : null;
}

/**
 * Makes `key` the tenant's current key, retiring the one before (locked, so two setups cannot both
 * win). The caller has checked the version follows the current one.
 */
export async function installEscrowKey(
  em: EntityManager,
  key: Omit<EscrowKeyRow, 'createdAt' | 'retiredAt' | 'destroyedAt'>,
): Promise<void> {
  await em.execute(
    `update tenant_escrow_keys set retired_at = now() where tenant_id = ? and retired_at is null`,
    [key.tenantId],
  );
  await em.execute(
    `insert into tenant_escrow_keys (tenant_id, key_version, public_key, wrapped_private_key, kdf, fingerprint, created_by)
     values (?, ?, ?, ?, ?::jsonb, ?, ?)`,
    [
      key.tenantId,
      key.keyVersion,
      key.publicKey,
      key.wrappedPrivateKey,
      JSON.stringify(key.kdf),
      key.fingerprint,
      key.createdBy,
    ],
  );
}

/**
 * Replaces the wrapped blob and KDF parameters of one key version (a break-glass recovery set a
 * new passphrase): the public key, fingerprint and everything machines encrypt to stay. Only if
 * the stored row has the same public key; returns whether a row changed.
 */
export async function rewrapEscrowKey(
  em: EntityManager,
  key: Pick<EscrowKeyRow, 'tenantId' | 'keyVersion' | 'publicKey' | 'wrappedPrivateKey' | 'kdf'>,
): Promise<boolean> {
  const rows = await em.execute<{ keyVersion: number }[]>(
    `update tenant_escrow_keys set wrapped_private_key = ?, kdf = ?::jsonb
      where tenant_id = ? and key_version = ? and public_key = ?
      returning key_version as "keyVersion"`,
    [key.wrappedPrivateKey, JSON.stringify(key.kdf), key.tenantId, key.keyVersion, key.publicKey],
  );
  return rows.length === 1;
}

/** The highest key version the tenant ever had (0: none), with its current row locked. */
export async function lockEscrowKeys(
  em: EntityManager,
  tenantId: string,
): Promise<{ current: number | null; highest: number }> {
  // A transaction-scoped lock on the tenant's keys: setups are rare, and serialising them is simple.
  await em.execute(`select pg_advisory_xact_lock(hashtext('escrow-key:' || ?))`, [tenantId]);
  const [row] = await em.execute<{ current: number | null; highest: number | null }[]>(
    `select max(key_version) filter (where retired_at is null) as current, max(key_version) as highest
       from tenant_escrow_keys where tenant_id = ?`,
    [tenantId],
  );
  return { current: row?.current ?? null, highest: row?.highest ?? 0 };
}

/** The next secret version of a machine's secret of `kind` (1 for the first). */
export async function nextSecretVersion(
  em: EntityManager,
  input: { tenantId: string; machineId: string; kind: EscrowKind },
): Promise<number> {
  const [row] = await em.execute<{ next: number }[]>(
    `select coalesce(max(secret_version), 0) + 1 as next from escrowed_secrets
      where tenant_id = ? and machine_id = ? and kind = ?`,
    [input.tenantId, input.machineId, input.kind],
  );
  return Number(row?.next ?? 1);
}

export interface StoreEscrowedSecret {
  tenantId: string;
  machineId: string;
  kind: EscrowKind;
  secretVersion: number;
  keyVersion: number;
  envelope: string;
  protectorId?: string | null;
  account?: string | null;
  taskId?: string | null;
}

/**
 * Stores a checked envelope. A version already stored is never replaced (the machine may hold it):
 * the stored row comes back, with `stored: false` when it holds another envelope.
 */
export async function storeEscrowedSecret(
  em: EntityManager,
  input: StoreEscrowedSecret,
): Promise<{ secret: EscrowedSecretRow; stored: boolean }> {
  const inserted = await em.execute<EscrowedSecretRow[]>(
    `insert into escrowed_secrets (tenant_id, machine_id, kind, secret_version, key_version, envelope, protector_id, account, task_id)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (tenant_id, machine_id, kind, secret_version) do nothing
     returning ${SECRET_COLUMNS}`,
    [
      input.tenantId,
      input.machineId,
      input.kind,
      input.secretVersion,
      input.keyVersion,
      input.envelope,
      input.protectorId ?? null,
      input.account ?? null,
      input.taskId ?? null,
    ],
  );
  if (inserted[0]) return { secret: secretRow(inserted[0]), stored: true };
  const [existing] = await em.execute<(EscrowedSecretRow & { envelope: string })[]>(
    `select ${SECRET_COLUMNS}, envelope from escrowed_secrets
      where tenant_id = ? and machine_id = ? and kind = ? and secret_version = ?`,
    [input.tenantId, input.machineId, input.kind, input.secretVersion],
  );
  const { envelope, ...secret } = existing!;
  return { secret: secretRow(secret), stored: envelope === input.envelope };
}

/** The machine confirmed it holds this version: it becomes the one to reveal. Idempotent. */
export async function confirmEscrowedSecret(
  em: EntityManager,
  input: { tenantId: string; id: string; protectorId?: string | null },
): Promise<EscrowedSecretRow | null> {
  const [row] = await em.execute<EscrowedSecretRow[]>(
    `update escrowed_secrets set confirmed_at = coalesce(confirmed_at, now()),
            protector_id = coalesce(protector_id, ?)
      where tenant_id = ? and id = ? returning ${SECRET_COLUMNS}`,
    [input.protectorId ?? null, input.tenantId, input.id],
  );
  return row ? secretRow(row) : null;
}

/** A machine's escrowed secrets, newest version first per kind (never the envelopes). */
export async function escrowedSecretsOf(em: EntityManager, machineId: string): Promise<EscrowedSecretRow[]> {
  const rows = await em.execute<EscrowedSecretRow[]>(
    `select ${SECRET_COLUMNS} from escrowed_secrets where machine_id = ? order by kind, secret_version desc`,
    [machineId],
  );
  return rows.map(secretRow);
}

/** One secret's row (visible to the caller), or null. */
export async function escrowedSecret(em: EntityManager, id: string): Promise<EscrowedSecretRow | null> {
  const [row] = await em.execute<EscrowedSecretRow[]>(
    `select ${SECRET_COLUMNS} from escrowed_secrets where id = ?`,
    [id],
  );
  return row ? secretRow(row) : null;
}

/**
 * The newest ciphertext of one secret (a re-wrap under the newest key, else the machine's own) and
 * its key version: read only after its reveal is audited (api/services/escrow.ts).
 */
export async function escrowedEnvelope(
  em: EntityManager,
  id: string,
): Promise<{ envelope: string; keyVersion: number } | null> {
  const [row] = await em.execute<{ envelope: string; keyVersion: number }[]>(
    `select coalesce(r.envelope, s.envelope) as envelope, coalesce(r.key_version, s.key_version) as "keyVersion"
       from escrowed_secrets s
       left join lateral (select key_version, envelope from escrowed_secret_rewraps r
                           where r.tenant_id = s.tenant_id and r.secret_id = s.id
                           order by key_version desc limit 1) r on true
      where s.id = ?`,
    [id],
  );
  return row ? { envelope: row.envelope, keyVersion: Number(row.keyVersion) } : null;
}

export interface RevealRecord {
  secretId: string;
  actor: string;
  at: Date;
}

/** Who revealed these secrets when, from the audit chain (newest first). */
export async function revealsOf(
  em: EntityManager,
  tenantId: string,
  secretIds: string[],
): Promise<RevealRecord[]> {
  if (secretIds.length === 0) return [];
  const rows = await em.execute<{ secretId: string; actor: string; at: Date }[]>(
    `select subject_id as "secretId", actor, occurred_at as "at" from audit_events
      where tenant_id = ? and subject_type = 'escrowed_secret' and action = 'escrow.reveal'
        and subject_id in (select jsonb_array_elements_text(?::jsonb))
      order by seq desc`,
    [tenantId, JSON.stringify(secretIds)],
  );
  return rows.map((r) => ({ ...r, at: new Date(r.at) }));
}

/** How many reveals (granted or refused) `actor` asked for since `since`. */
export async function recentReveals(
  em: EntityManager,
  input: { tenantId: string; actor: string; since: Date },
): Promise<number> {
  const [row] = await em.execute<{ n: string }[]>(
    `select count(*)::text as n from audit_events
      where tenant_id = ? and actor = ? and occurred_at > ?
        and action in ('escrow.reveal', 'escrow.reveal-refused')`,
    [input.tenantId, input.actor, input.since],
  );
  return Number(row?.n ?? 0);
}

/**
 * What a workflow gets for a completed escrow step (EscrowCompletion): the stored secret of the
 * result's version and the SHA-256 of the envelope the database holds for it — which is the one
 * the agent's apply step must have sealed. Null when none is stored (the upload was refused).
 */
export async function escrowCompletionOf(
  em: EntityManager,
  input: { tenantId: string; machineId: string; kind: EscrowKind; secretVersion: number },
): Promise<{ escrowId: string; secretVersion: number; keyVersion: number; envelopeDigest: string } | null> {
  const [row] = await em.execute<{ id: string; keyVersion: number; envelope: string }[]>(
    `select id::text, key_version as "keyVersion", envelope from escrowed_secrets
      where tenant_id = ? and machine_id = ? and kind = ? and secret_version = ?`,
    [input.tenantId, input.machineId, input.kind, input.secretVersion],
  );
  if (!row) return null;
  return {
    escrowId: row.id,
    secretVersion: input.secretVersion,
    keyVersion: row.keyVersion,
    envelopeDigest: createHash('sha256').update(row.envelope, 'utf8').digest('hex'),
  };
}

// ---------------------------------------------------------------------------------------------
// Key roll (migration 0030): re-wrapped envelopes, and destroying a retired key's private half.

export interface SecretToRewrap {
  id: string;
  machineId: string;
  kind: EscrowKind;
  secretVersion: number;
  /** The key version of its newest envelope (older than the one it is re-wrapped to). */
  keyVersion: number;
  confirmedAt: Date | null;
}

/** Secrets whose newest envelope is sealed to a key older than `keyVersion`, oldest first (no envelopes). */
export async function secretsToRewrap(
  em: EntityManager,
  input: { tenantId: string; keyVersion: number; limit: number },
): Promise<SecretToRewrap[]> {
  const rows = await em.execute<SecretToRewrap[]>(
    `select escrowed_secrets.id::text, escrowed_secrets.machine_id::text as "machineId", escrowed_secrets.kind,
            escrowed_secrets.secret_version as "secretVersion", ${NEWEST_KEY_VERSION} as "keyVersion",
            escrowed_secrets.confirmed_at as "confirmedAt"
       from escrowed_secrets
      where escrowed_secrets.tenant_id = ? and ${NEWEST_KEY_VERSION} < ?
      order by escrowed_secrets.created_at, escrowed_secrets.id limit ?`,
    [input.tenantId, input.keyVersion, input.limit],
  );
  return rows.map((r) => ({ ...r, keyVersion: Number(r.keyVersion), confirmedAt: toDate(r.confirmedAt) }));
}

/** How many secrets' newest envelope is sealed to a key older than `below` (or exactly to `exactly`). */
export async function countSecretsByNewestKey(
  em: EntityManager,
  input: { tenantId: string } & ({ below: number } | { exactly: number }),
): Promise<number> {
  const [row] = await em.execute<{ n: string }[]>(
    `select count(*) as n from escrowed_secrets where escrowed_secrets.tenant_id = ? and ${NEWEST_KEY_VERSION} ${
      'below' in input ? '<' : '='
    } ?`,
    [input.tenantId, 'below' in input ? input.below : input.exactly],
  );
  return Number(row?.n ?? 0);
}

/** Stores a checked re-wrapped envelope; an existing one for that key version stays (idempotent). */
export async function storeRewrap(
  em: EntityManager,
  input: { tenantId: string; secretId: string; keyVersion: number; envelope: string; createdBy: string },
): Promise<boolean> {
  const rows = await em.execute<{ secret_id: string }[]>(
    `insert into escrowed_secret_rewraps (tenant_id, secret_id, key_version, envelope, created_by)
     values (?, ?, ?, ?, ?) on conflict do nothing returning secret_id`,
    [input.tenantId, input.secretId, input.keyVersion, input.envelope, input.createdBy],
  );
  return rows.length === 1;
}

/** Forgets a retired key's wrapped private key (its public half and fingerprint stay on record). */
export async function destroyEscrowKey(
  em: EntityManager,
  input: { tenantId: string; keyVersion: number },
): Promise<void> {
  await em.execute(
    `update tenant_escrow_keys set wrapped_private_key = null, destroyed_at = now()
      where tenant_id = ? and key_version = ? and retired_at is not null and destroyed_at is null`,
    [input.tenantId, input.keyVersion],
  );
}
