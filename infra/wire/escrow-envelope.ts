import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core';
import { combine, split } from 'shamir-secret-sharing';

/**
 * The zero-knowledge escrow envelope (issue 16, ADR 0041): machines encrypt a local admin password
 * or a BitLocker recovery password to their tenant's public key; only a browser that unlocks the
 * tenant's private key (with the passphrase, or with M of N break-glass shares) can open it. The
 * server stores envelopes, the public key, the wrapped private key and nothing that opens them.
 *
 * One module for the agent (Node) and the portal (browser, bundled by Vite): WebCrypto
 * (`globalThis.crypto.subtle`) and pure-JS libraries only, no `node:` imports.
 *
 * - Envelope `dde1`: HPKE (RFC 9180) base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM,
 *   a fresh encapsulation per secret; tenant, machine, kind, key version and secret version are the
 *   associated data, so an envelope copied onto another record does not open.
 * - Wrapped key `ddk1`: the PKCS#8 private key under AES-256-GCM with a key from PBKDF2-SHA256
 *   (≥ 600,000 iterations, salt and count written beside it). Unwrapping yields a non-extractable key.
 * - Recovery share `dds1`: Shamir M-of-N over the 32-byte private scalar, one printable block each
 *   with its own checksum so a mistyped share is named before anything is combined.
 *
 * Errors carry a stable `code` and name formats, versions and share numbers — never a plaintext, a
 * passphrase, a key or a share.
 */

export const ESCROW_ENVELOPE_FORMAT = 'dde1';
export const WRAPPED_KEY_FORMAT = 'ddk1';
export const RECOVERY_SHARE_FORMAT = 'dds1';

export const ESCROW_KINDS = ['local-admin-password', 'bitlocker-recovery-password'] as const;
export type EscrowKind = (typeof ESCROW_KINDS)[number];

/** OWASP's 2023 floor for PBKDF2-HMAC-SHA256; we never write fewer and never accept fewer. */
export const PBKDF2_MIN_ITERATIONS = 600_000;
export const PBKDF2_DEFAULT_ITERATIONS = 600_000;
/** A ceiling, so a doctored blob cannot make a browser spin for minutes. */
const PBKDF2_MAX_ITERATIONS = 10_000_000;
export const MIN_PASSPHRASE_LENGTH = 12;
/** Enough for any LAPS password (≤ 256 characters) or recovery password (55); bounds the format. */
export const MAX_SECRET_BYTES = 1024;
export const MAX_SHARES = 10;

export type EscrowErrorCode =
  /** The caller passed an argument out of range (a bug or a bad form value, not foreign data). */
  | 'ESCROW_INVALID_INPUT'
  /** An envelope, wrapped key or share is not in its format (truncated, garbled, wrong shape). */
  | 'ESCROW_MALFORMED'
  /** A well-formed value of a format version this code does not know (a newer writer). */
  | 'ESCROW_UNSUPPORTED_FORMAT'
  /** Sealed to (or wrapping) another version of the tenant key than the one offered. */
  | 'ESCROW_WRONG_KEY_VERSION'
  /** Belongs to another tenant, machine, kind or secret version than the record it was read from. */
  | 'ESCROW_CONTEXT_MISMATCH'
  /** Claims the right record and key but does not authenticate: altered, or sealed to another key. */
  | 'ESCROW_TAMPERED'
  | 'ESCROW_WEAK_PASSPHRASE'
  /** The passphrase does not unlock the wrapped key (or the blob was altered: AES-GCM cannot tell). */
  | 'ESCROW_BAD_PASSPHRASE'
  /** A share's checksum does not match its fields: mistyped or damaged. */
  | 'ESCROW_SHARE_CHECKSUM'
  /** Shares from different tenants, keys or splits, or the same share twice. */
  | 'ESCROW_SHARE_MISMATCH'
  | 'ESCROW_SHARES_INSUFFICIENT'
  /** The shares combined into a key that is not the tenant's (for example too few of them). */
  | 'ESCROW_RECOVERY_FAILED';

export class EscrowError extends Error {
  override name = 'EscrowError';
  readonly code: EscrowErrorCode;
  constructor(code: EscrowErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const fail = (code: EscrowErrorCode, message: string): never => {
  throw new EscrowError(code, message);
};

// ---------------------------------------------------------------------------------------------
// Keys

/** What machines encrypt to. Public: the server stores and serves it. */
export interface TenantPublicKey {
  tenantId: string;
  keyVersion: number;
  /** base64url of the uncompressed P-256 point (65 bytes), HPKE's SerializePublicKey. */
  publicKey: string;
}

/** A tenant key in hand: only ever in the browser of someone holding the passphrase or the shares. */
export interface TenantKey extends TenantPublicKey {
  keyPair: CryptoKeyPair;
}

const ECDH_P256 = { name: 'ECDH', namedCurve: 'P-256' } as const;
const subtle = (): SubtleCrypto => globalThis.crypto.subtle;
const randomBytes = (n: number): Uint8Array<ArrayBuffer> =>
  globalThis.crypto.getRandomValues(new Uint8Array(n));

/**
 * A new tenant keypair. Its private key is extractable — it must be, to be wrapped and split once
 * at setup; afterwards it is only ever unwrapped as non-extractable.
 */
export async function generateTenantKey(ids: { tenantId: string; keyVersion: number }): Promise<TenantKey> {
  checkId('tenantId', ids.tenantId);
  checkVersion('keyVersion', ids.keyVersion);
  const keyPair = (await subtle().generateKey(ECDH_P256, true, ['deriveBits'])) as CryptoKeyPair;
  const publicKey = base64url(new Uint8Array(await subtle().exportKey('raw', keyPair.publicKey)));
  return { tenantId: ids.tenantId, keyVersion: ids.keyVersion, publicKey, keyPair };
}

/** The public half alone, as the server stores it. */
export const publicPart = (key: TenantPublicKey): TenantPublicKey => ({
  tenantId: key.tenantId,
  keyVersion: key.keyVersion,
  publicKey: key.publicKey,
});

/** 16 hex digits of SHA-256 over the public key: printed on shares and shown in the portal. */
export async function keyFingerprint(publicKey: string): Promise<string> {
  return hex((await sha256(publicKeyBytes(publicKey))).subarray(0, 8));
}

async function importPublicKey(publicKey: string): Promise<CryptoKey> {
  const raw = publicKeyBytes(publicKey);
  try {
    return await subtle().importKey('raw', raw, ECDH_P256, true, []);
  } catch {
    return fail('ESCROW_MALFORMED', 'the tenant public key is not a P-256 point');
  }
}

function publicKeyBytes(publicKey: string): Uint8Array<ArrayBuffer> {
  const raw = fromBase64url(publicKey);
  if (raw?.length !== 65 || raw[0] !== 0x04)
    return fail('ESCROW_MALFORMED', 'the tenant public key is not an uncompressed P-256 point');
  return raw;
}

/**
 * Proves a private key belongs to a public key without exporting it: ECDH with a throwaway key
 * both ways gives the same bits only for a matching pair.
 */
async function pairMatches(privateKey: CryptoKey, publicKey: CryptoKey): Promise<boolean> {
  const probe = (await subtle().generateKey(ECDH_P256, false, ['deriveBits'])) as CryptoKeyPair;
  const [a, b] = await Promise.all([
    subtle().deriveBits({ name: 'ECDH', public: probe.publicKey }, privateKey, 256),
    subtle().deriveBits({ name: 'ECDH', public: publicKey }, probe.privateKey, 256),
  ]);
  return equalBytes(new Uint8Array(a), new Uint8Array(b));
}

// ---------------------------------------------------------------------------------------------
// Envelope: dde1.<keyVersion>.<kind>.<secretVersion>.<bind>.<enc>.<ciphertext>

/** Which record an envelope belongs to, besides the tenant key (which brings tenant and key version). */
export interface EscrowRecord {
  machineId: string;
  kind: EscrowKind;
  /** The secret's own counter on that machine (1, 2, … as passwords rotate). */
  secretVersion: number;
}

export interface EscrowEnvelopeHeader {
  format: typeof ESCROW_ENVELOPE_FORMAT;
  keyVersion: number;
  kind: EscrowKind;
  secretVersion: number;
}

interface ParsedEnvelope extends EscrowEnvelopeHeader {
  bind: Uint8Array<ArrayBuffer>;
  enc: Uint8Array<ArrayBuffer>;
  ciphertext: Uint8Array<ArrayBuffer>;
}

const suite = new CipherSuite({
  kem: new DhkemP256HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});
// HPKE's info: separates our use of the suite from anyone else's with the same key.
export const HPKE_INFO_LABEL = `drydock-escrow/${ESCROW_ENVELOPE_FORMAT}`;
const HPKE_INFO = utf8(HPKE_INFO_LABEL);
const BIND_BYTES = 9;
const ENC_BYTES = 65;
const TAG_BYTES = 16;

/** Encrypts one secret to the tenant's public key (what the agent does). */
export async function sealEscrowSecret(
  recipient: TenantPublicKey,
  record: EscrowRecord,
  plaintext: string,
): Promise<string> {
  const aad = envelopeAad(recipient, record);
  const bytes = utf8(plaintext);
  if (bytes.length === 0 || bytes.length > MAX_SECRET_BYTES)
    fail('ESCROW_INVALID_INPUT', `a secret must be 1 to ${MAX_SECRET_BYTES} bytes`);
  const sealed = await suite.seal(
    { recipientPublicKey: await importPublicKey(recipient.publicKey), info: HPKE_INFO },
    bytes,
    aad,
  );
  return [
    ESCROW_ENVELOPE_FORMAT,
    String(recipient.keyVersion),
    record.kind,
    String(record.secretVersion),
    base64url((await sha256(aad)).subarray(0, BIND_BYTES)),
    base64url(new Uint8Array(sealed.enc)),
    base64url(new Uint8Array(sealed.ct)),
  ].join('.');
}

/** The readable part of an envelope (which key version to unlock, what it holds); checks its shape. */
export function parseEscrowEnvelope(envelope: string): EscrowEnvelopeHeader {
  const { format, keyVersion, kind, secretVersion } = parseEnvelope(envelope);
  return { format, keyVersion, kind, secretVersion };
}

function parseEnvelope(envelope: unknown): ParsedEnvelope {
  if (typeof envelope !== 'string' || envelope.length > 4 * MAX_SECRET_BYTES)
    return fail('ESCROW_MALFORMED', 'not an escrow envelope');
  const parts = envelope.split('.');
  checkFormat(parts[0], ESCROW_ENVELOPE_FORMAT, 'escrow envelope');
  if (parts.length !== 7) return fail('ESCROW_MALFORMED', 'the escrow envelope does not have 7 fields');
  const [, keyVersion, kind, secretVersion, bind, enc, ciphertext] = parts as [string, ...string[]];
  const parsed = {
    format: ESCROW_ENVELOPE_FORMAT,
    keyVersion: parseVersion(keyVersion, 'key version'),
    kind: (ESCROW_KINDS as readonly string[]).includes(kind!)
      ? (kind as EscrowKind)
      : fail('ESCROW_MALFORMED', 'the escrow envelope names an unknown secret kind'),
    secretVersion: parseVersion(secretVersion, 'secret version'),
    bind: field(bind, 'binding', (n) => n === BIND_BYTES),
    enc: field(enc, 'encapsulated key', (n) => n === ENC_BYTES),
    ciphertext: field(ciphertext, 'ciphertext', (n) => n > TAG_BYTES && n <= MAX_SECRET_BYTES + TAG_BYTES),
  } as const;
  if (parsed.enc[0] !== 0x04)
    fail('ESCROW_MALFORMED', 'the escrow envelope has a malformed encapsulated key');
  return parsed;

  function field(value: string | undefined, name: string, sizeOk: (n: number) => boolean) {
    const bytes = fromBase64url(value ?? '');
    if (!bytes || !sizeOk(bytes.length))
      return fail('ESCROW_MALFORMED', `the escrow envelope's ${name} is malformed`);
    return bytes;
  }
}

/**
 * Opens an envelope read from `record` with an unlocked tenant key (what the portal does after the
 * passphrase). Every failure is an EscrowError; nothing that fails to authenticate is returned.
 */
export async function openEscrowSecret(
  key: TenantKey,
  record: EscrowRecord,
  envelope: string,
): Promise<string> {
  const parsed = parseEnvelope(envelope);
  const aad = envelopeAad(key, record);
  if (parsed.keyVersion !== key.keyVersion)
    fail(
      'ESCROW_WRONG_KEY_VERSION',
      `the envelope is sealed to tenant key version ${parsed.keyVersion}, not version ${key.keyVersion}`,
    );
  // The clear header and the binding only make the report precise; the AEAD below is the check.
  const bind = (await sha256(aad)).subarray(0, BIND_BYTES);
  if (
    parsed.kind !== record.kind ||
    parsed.secretVersion !== record.secretVersion ||
    !equalBytes(bind, parsed.bind)
  )
    fail(
      'ESCROW_CONTEXT_MISMATCH',
      'the envelope belongs to another tenant, machine, kind or secret version',
    );
  let plaintext: ArrayBuffer;
  try {
    plaintext = await suite.open(
      { recipientKey: key.keyPair, enc: parsed.enc, info: HPKE_INFO },
      parsed.ciphertext,
      aad,
    );
  } catch {
    return fail(
      'ESCROW_TAMPERED',
      'the envelope does not authenticate: it was altered or sealed to another key',
    );
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
}

/**
 * Seals a secret again to a newer tenant key (a key roll, in the browser): opens `envelope` of
 * `record` with the unlocked older key and seals the plaintext to `to`. The plaintext lives only in
 * this call; the result is bound to the same record under the new key version.
 */
export async function rewrapEscrowSecret(
  from: TenantKey,
  to: TenantPublicKey,
  record: EscrowRecord,
  envelope: string,
): Promise<string> {
  if (to.tenantId !== from.tenantId) fail('ESCROW_INVALID_INPUT', 'a secret is re-wrapped within its tenant');
  if (to.keyVersion <= from.keyVersion)
    fail('ESCROW_INVALID_INPUT', `a secret is re-wrapped to a newer key version than ${from.keyVersion}`);
  return sealEscrowSecret(to, record, await openEscrowSecret(from, record, envelope));
}

/**
 * What the server can check of an envelope without the private key (the API, before it stores an
 * agent's upload): its shape, that it is sealed to `recipient`'s key version, and that its header
 * and binding name `record` of `recipient`'s tenant. It cannot prove the ciphertext authenticates —
 * only the key holder can — but an envelope made for another machine, kind, version or key is
 * refused here with the same codes openEscrowSecret would give.
 */
export async function checkEscrowEnvelopeFor(
  recipient: TenantPublicKey,
  record: EscrowRecord,
  envelope: string,
): Promise<EscrowEnvelopeHeader> {
  const parsed = parseEnvelope(envelope);
  if (parsed.keyVersion !== recipient.keyVersion)
    fail(
      'ESCROW_WRONG_KEY_VERSION',
      `the envelope is sealed to tenant key version ${parsed.keyVersion}, not version ${recipient.keyVersion}`,
    );
  const bind = (await sha256(envelopeAad(recipient, record))).subarray(0, BIND_BYTES);
  if (
    parsed.kind !== record.kind ||
    parsed.secretVersion !== record.secretVersion ||
    !equalBytes(bind, parsed.bind)
  )
    fail(
      'ESCROW_CONTEXT_MISMATCH',
      'the envelope belongs to another tenant, machine, kind or secret version',
    );
  const { format, keyVersion, kind, secretVersion } = parsed;
  return { format, keyVersion, kind, secretVersion };
}

/** The HPKE associated data of an envelope (exported for the test vectors and other implementations). */
export function envelopeAad(key: TenantPublicKey, record: EscrowRecord): Uint8Array<ArrayBuffer> {
  checkId('tenantId', key.tenantId);
  checkId('machineId', record.machineId);
  checkVersion('keyVersion', key.keyVersion);
  checkVersion('secretVersion', record.secretVersion);
  if (!(ESCROW_KINDS as readonly string[]).includes(record.kind))
    fail('ESCROW_INVALID_INPUT', 'unknown secret kind');
  return encodeFields([
    ESCROW_ENVELOPE_FORMAT,
    key.tenantId,
    record.machineId,
    record.kind,
    String(key.keyVersion),
    String(record.secretVersion),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Wrapped key: ddk1.<tenantId>.<keyVersion>.pbkdf2-sha256.<iterations>.<salt>.<iv>.<publicKey>.<wrapped>

const KDF_NAME = 'pbkdf2-sha256';

export interface WrapOptions {
  /** PBKDF2-SHA256 iterations, at least PBKDF2_MIN_ITERATIONS. */
  iterations?: number;
}

/** Wraps the private key under the passphrase (done in the browser; the server stores the blob). */
export async function wrapTenantKey(
  key: TenantKey,
  passphrase: string,
  options: WrapOptions = {},
): Promise<string> {
  checkId('tenantId', key.tenantId);
  checkVersion('keyVersion', key.keyVersion);
  const iterations = options.iterations ?? PBKDF2_DEFAULT_ITERATIONS;
  if (
    !Number.isSafeInteger(iterations) ||
    iterations < PBKDF2_MIN_ITERATIONS ||
    iterations > PBKDF2_MAX_ITERATIONS
  )
    fail(
      'ESCROW_INVALID_INPUT',
      `PBKDF2 iterations must be ${PBKDF2_MIN_ITERATIONS} to ${PBKDF2_MAX_ITERATIONS}`,
    );
  if (typeof passphrase !== 'string' || [...passphrase.normalize('NFC')].length < MIN_PASSPHRASE_LENGTH)
    fail('ESCROW_WEAK_PASSPHRASE', `the passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  const head = [WRAPPED_KEY_FORMAT, key.tenantId, String(key.keyVersion), KDF_NAME, String(iterations)];
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const kek = await passphraseKey(passphrase, salt, iterations);
  let wrapped: ArrayBuffer;
  try {
    wrapped = await subtle().wrapKey('pkcs8', key.keyPair.privateKey, kek, {
      name: 'AES-GCM',
      iv,
      additionalData: encodeFields([...head, base64url(salt), key.publicKey]),
    });
  } catch {
    return fail('ESCROW_INVALID_INPUT', 'the tenant private key cannot be wrapped (it is not extractable)');
  }
  return [...head, base64url(salt), base64url(iv), key.publicKey, base64url(new Uint8Array(wrapped))].join(
    '.',
  );
}

export interface WrappedKeyInfo {
  format: typeof WRAPPED_KEY_FORMAT;
  tenantId: string;
  keyVersion: number;
  kdf: { name: typeof KDF_NAME; iterations: number; salt: string };
  publicKey: string;
}

/**
 * The DER sizes a PKCS#8 P-256 private key can have (RFC 5208, RFC 5915): its ECPrivateKey carries
 * the 32-byte scalar, and optionally the curve (`[0]`, 12 bytes) and the public point (`[1]`, 70
 * bytes). WebCrypto runtimes export 138 (scalar and public point); the other three are what other
 * exporters write. AES-GCM adds nothing but its tag, so a wrapped key of any other length was cut
 * or padded in transit: refused here, before a key no one can unwrap is stored. A range was not
 * enough: a key short of 4 base64url characters passed it whenever the new last character decoded
 * cleanly (1 time in 16).
 */
const PKCS8_P256_SIZES: readonly number[] = [67, 79, 138, 150];

interface ParsedWrappedKey extends WrappedKeyInfo {
  iv: Uint8Array<ArrayBuffer>;
  wrapped: Uint8Array<ArrayBuffer>;
}

/** The clear part of a wrapped key: whose, which version, and its KDF parameters. */
export function parseWrappedTenantKey(blob: string): WrappedKeyInfo {
  const { format, tenantId, keyVersion, kdf, publicKey } = parseWrapped(blob);
  return { format, tenantId, keyVersion, kdf, publicKey };
}

function parseWrapped(blob: unknown): ParsedWrappedKey {
  if (typeof blob !== 'string' || blob.length > 2048)
    return fail('ESCROW_MALFORMED', 'not a wrapped tenant key');
  const parts = blob.split('.');
  checkFormat(parts[0], WRAPPED_KEY_FORMAT, 'wrapped tenant key');
  if (parts.length !== 9) return fail('ESCROW_MALFORMED', 'the wrapped tenant key does not have 9 fields');
  const [, tenantId, keyVersion, kdf, iterations, salt, iv, publicKey, wrapped] = parts as [
    string,
    ...string[],
  ];
  if (!ID.test(tenantId!)) fail('ESCROW_MALFORMED', 'the wrapped tenant key has a malformed tenant id');
  if (kdf !== KDF_NAME) fail('ESCROW_UNSUPPORTED_FORMAT', 'the wrapped tenant key uses an unknown KDF');
  const count = parseVersion(iterations, 'iteration count');
  if (count < PBKDF2_MIN_ITERATIONS || count > PBKDF2_MAX_ITERATIONS)
    fail('ESCROW_MALFORMED', 'the wrapped tenant key has an iteration count out of range');
  const bytes = (value: string | undefined, name: string, sizeOk: (n: number) => boolean) => {
    const b = fromBase64url(value ?? '');
    return b && sizeOk(b.length)
      ? b
      : fail('ESCROW_MALFORMED', `the wrapped tenant key's ${name} is malformed`);
  };
  const saltBytes = bytes(salt, 'salt', (n) => n === 16);
  publicKeyBytes(publicKey!);
  return {
    format: WRAPPED_KEY_FORMAT,
    tenantId: tenantId!,
    keyVersion: parseVersion(keyVersion, 'key version'),
    kdf: { name: KDF_NAME, iterations: count, salt: base64url(saltBytes) },
    publicKey: publicKey!,
    iv: bytes(iv, 'nonce', (n) => n === 12),
    wrapped: bytes(wrapped, 'key', (n) => PKCS8_P256_SIZES.includes(n - TAG_BYTES)),
  };
}

export interface UnwrapOptions {
  /** Refuse a blob of another tenant (ESCROW_CONTEXT_MISMATCH) or key version (ESCROW_WRONG_KEY_VERSION). */
  tenantId?: string;
  keyVersion?: number;
  /** Only to re-wrap under a new passphrase; reading secrets needs no extractable key. */
  extractable?: boolean;
}

/**
 * Unlocks a wrapped key with the passphrase. The private key comes back non-extractable unless
 * asked otherwise: the page can decrypt with it but no script can read it out.
 */
export async function unwrapTenantKey(
  blob: string,
  passphrase: string,
  options: UnwrapOptions = {},
): Promise<TenantKey> {
  const parsed = parseWrapped(blob);
  if (options.tenantId !== undefined && options.tenantId !== parsed.tenantId)
    fail('ESCROW_CONTEXT_MISMATCH', 'the wrapped tenant key belongs to another tenant');
  if (options.keyVersion !== undefined && options.keyVersion !== parsed.keyVersion)
    fail(
      'ESCROW_WRONG_KEY_VERSION',
      `the wrapped tenant key is version ${parsed.keyVersion}, not version ${options.keyVersion}`,
    );
  const head = [
    WRAPPED_KEY_FORMAT,
    parsed.tenantId,
    String(parsed.keyVersion),
    KDF_NAME,
    String(parsed.kdf.iterations),
  ];
  const kek = await passphraseKey(passphrase, fromBase64url(parsed.kdf.salt)!, parsed.kdf.iterations);
  let privateKey: CryptoKey;
  try {
    privateKey = await subtle().unwrapKey(
      'pkcs8',
      parsed.wrapped,
      kek,
      {
        name: 'AES-GCM',
        iv: parsed.iv,
        additionalData: encodeFields([...head, parsed.kdf.salt, parsed.publicKey]),
      },
      ECDH_P256,
      options.extractable ?? false,
      ['deriveBits'],
    );
  } catch {
    return fail('ESCROW_BAD_PASSPHRASE', 'the passphrase does not unlock this tenant key');
  }
  const publicKey = await importPublicKey(parsed.publicKey);
  // Authenticated, so only a faulty writer could pair the wrong halves; cheap to rule out.
  if (!(await pairMatches(privateKey, publicKey)))
    fail('ESCROW_TAMPERED', 'the wrapped private key does not match its public key');
  return {
    tenantId: parsed.tenantId,
    keyVersion: parsed.keyVersion,
    publicKey: parsed.publicKey,
    keyPair: { privateKey, publicKey },
  };
}

async function passphraseKey(passphrase: string, salt: Uint8Array<ArrayBuffer>, iterations: number) {
  // NFC, so the same passphrase typed on another keyboard or OS gives the same bytes.
  const material = await subtle().importKey('raw', utf8(passphrase.normalize('NFC')), 'PBKDF2', false, [
    'deriveKey',
  ]);
  return subtle().deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['wrapKey', 'unwrapKey'],
  );
}

// ---------------------------------------------------------------------------------------------
// Break-glass shares (dds1)

export interface RecoveryShare {
  format: typeof RECOVERY_SHARE_FORMAT;
  tenantId: string;
  keyVersion: number;
  /** keyFingerprint() of the key the share restores. */
  fingerprint: string;
  /** Random per split: shares of two splits of the same key never mix. */
  splitId: string;
  /** 1…shares: the number printed on the sheet. */
  index: number;
  threshold: number;
  shares: number;
  /** Shamir share of the 32-byte private scalar, with the library's x coordinate last (33 bytes). */
  data: Uint8Array<ArrayBuffer>;
}

export interface SplitOptions {
  /** M: how many shares recover the key (default 3). */
  threshold?: number;
  /** N: how many shares are printed (default 5). */
  shares?: number;
}

/** Splits the private key into N printable shares, any M of which restore it (at setup, in the browser). */
export async function splitTenantKey(key: TenantKey, options: SplitOptions = {}): Promise<string[]> {
  const threshold = options.threshold ?? 3;
  const shares = options.shares ?? 5;
  if (
    !Number.isInteger(threshold) ||
    !Number.isInteger(shares) ||
    threshold < 2 ||
    threshold > shares ||
    shares > MAX_SHARES
  )
    fail('ESCROW_INVALID_INPUT', `shares must satisfy 2 <= threshold <= shares <= ${MAX_SHARES}`);
  checkId('tenantId', key.tenantId);
  checkVersion('keyVersion', key.keyVersion);
  let jwk: JsonWebKey;
  try {
    jwk = await subtle().exportKey('jwk', key.keyPair.privateKey);
  } catch {
    return fail('ESCROW_INVALID_INPUT', 'the tenant private key cannot be split (it is not extractable)');
  }
  const scalar = fromBase64url(jwk.d ?? '');
  if (scalar?.length !== 32) return fail('ESCROW_INVALID_INPUT', 'the tenant private key is not a P-256 key');
  const fingerprint = await keyFingerprint(key.publicKey);
  const splitId = hex(randomBytes(4));
  try {
    const parts = await split(scalar, shares, threshold);
    return await Promise.all(
      parts.map((data, i) =>
        formatRecoveryShare({
          format: RECOVERY_SHARE_FORMAT,
          tenantId: key.tenantId,
          keyVersion: key.keyVersion,
          fingerprint,
          splitId,
          index: i + 1,
          threshold,
          shares,
          data: new Uint8Array(data),
        }),
      ),
    );
  } finally {
    scalar.fill(0); // best effort: JS gives no guarantee, but no reason to keep it either
  }
}

/** The printable block of one share; its checksum covers every field. */
export async function formatRecoveryShare(share: RecoveryShare): Promise<string> {
  const check = await shareChecksum(share);
  return [
    'DRYDOCK TENANT KEY RECOVERY SHARE',
    `Any ${share.threshold} of the ${share.shares} shares restore the tenant key. Keep this one apart from the others.`,
    `format: ${share.format}`,
    `tenant: ${share.tenantId}`,
    `key version: ${share.keyVersion}`,
    `key fingerprint: ${share.fingerprint}`,
    `split: ${share.splitId}`,
    `share: ${share.index} of ${share.shares}, threshold ${share.threshold}`,
    `data: ${groups(hex(share.data))}`,
    `checksum: ${groups(check)}`,
    '',
  ].join('\n');
}

/**
 * Reads a share as printed or retyped (spaces, case and extra prose lines do not matter) and checks
 * its checksum, so a typo is reported against its share number before anything is combined.
 */
export async function parseRecoveryShare(text: string): Promise<RecoveryShare> {
  if (typeof text !== 'string' || text.length > 4096) return fail('ESCROW_MALFORMED', 'not a recovery share');
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([a-z][a-z ]*?)\s*:\s*(.*?)\s*$/i.exec(line);
    if (m) fields.set(m[1]!.toLowerCase(), m[2]!);
  }
  const get = (name: string) =>
    fields.get(name) ?? fail('ESCROW_MALFORMED', `the recovery share has no "${name}" line`);
  checkFormat(get('format'), RECOVERY_SHARE_FORMAT, 'recovery share');
  const tenantId = get('tenant');
  if (!ID.test(tenantId)) fail('ESCROW_MALFORMED', 'the recovery share has a malformed tenant id');
  const numbers = /^(\d{1,2}) of (\d{1,2}), threshold (\d{1,2})$/i.exec(get('share'));
  if (!numbers) return fail('ESCROW_MALFORMED', 'the recovery share has a malformed "share" line');
  const [index, shares, threshold] = numbers.slice(1).map(Number) as [number, number, number];
  const hexField = (name: string, digits: number) => {
    const value = get(name).replace(/[\s-]/g, '').toLowerCase();
    return new RegExp(`^[0-9a-f]{${digits}}$`).test(value)
      ? value
      : fail('ESCROW_MALFORMED', `share ${index}: "${name}" must be ${digits} hex digits`);
  };
  const share: RecoveryShare = {
    format: RECOVERY_SHARE_FORMAT,
    tenantId,
    keyVersion: parseVersion(get('key version'), 'key version'),
    fingerprint: hexField('key fingerprint', 16),
    splitId: hexField('split', 8),
    index,
    threshold,
    shares,
    data: fromHex(hexField('data', 66)),
  };
  if (!((await shareChecksum(share)) === hexField('checksum', 8)))
    fail(
      'ESCROW_SHARE_CHECKSUM',
      `share ${index}: the checksum does not match (a digit is mistyped or the sheet is damaged)`,
    );
  if (threshold < 2 || threshold > shares || shares > MAX_SHARES || index < 1 || index > shares)
    fail('ESCROW_MALFORMED', `share ${index}: its numbers are out of range`);
  return share;
}

export interface RecoverOptions {
  /** Default true: a recovered key exists to be re-wrapped under a new passphrase. */
  extractable?: boolean;
}

/**
 * Restores the tenant key from any M of its shares (in the browser, at a break-glass recovery). The
 * result is checked against the fingerprint the shares carry: a wrong combination is refused,
 * never handed back as a key.
 */
export async function recoverTenantKey(
  texts: readonly string[],
  options: RecoverOptions = {},
): Promise<TenantKey> {
  const shares = [];
  for (const text of texts) shares.push(await parseRecoveryShare(text));
  const first = shares[0] ?? fail('ESCROW_SHARES_INSUFFICIENT', 'no recovery shares were given');
  const seen = new Set<number>();
  for (const s of shares) {
    if (
      s.tenantId !== first.tenantId ||
      s.keyVersion !== first.keyVersion ||
      s.fingerprint !== first.fingerprint ||
      s.splitId !== first.splitId ||
      s.threshold !== first.threshold ||
      s.shares !== first.shares
    )
      fail(
        'ESCROW_SHARE_MISMATCH',
        `share ${s.index} belongs to another tenant, key or split than share ${first.index}`,
      );
    if (seen.has(s.index)) fail('ESCROW_SHARE_MISMATCH', `share ${s.index} was given twice`);
    seen.add(s.index);
  }
  if (shares.length < first.threshold)
    fail('ESCROW_SHARES_INSUFFICIENT', `${shares.length} shares given; this key needs ${first.threshold}`);

  let scalar: Uint8Array | undefined;
  const pkcs8 = new Uint8Array(P256_PKCS8_PREFIX.length + 32);
  try {
    scalar = await combine(shares.map((s) => s.data));
    pkcs8.set(P256_PKCS8_PREFIX);
    pkcs8.set(scalar, P256_PKCS8_PREFIX.length);
    // Imported extractable once, to read the public point it implies; then as asked.
    const probe = await subtle().importKey('pkcs8', pkcs8, ECDH_P256, true, ['deriveBits']);
    const { x, y } = await subtle().exportKey('jwk', probe);
    const point = new Uint8Array(65);
    point[0] = 0x04;
    point.set(fromBase64url(x ?? '') ?? new Uint8Array(32), 1);
    point.set(fromBase64url(y ?? '') ?? new Uint8Array(32), 33);
    const publicKey = base64url(point);
    if ((await keyFingerprint(publicKey)) !== first.fingerprint) throw new Error('fingerprint');
    const extractable = options.extractable ?? true;
    const privateKey = extractable
      ? probe
      : await subtle().importKey('jwk', await subtle().exportKey('jwk', probe), ECDH_P256, false, [
          'deriveBits',
        ]);
    return {
      tenantId: first.tenantId,
      keyVersion: first.keyVersion,
      publicKey,
      keyPair: { privateKey, publicKey: await importPublicKey(publicKey) },
    };
  } catch {
    return fail('ESCROW_RECOVERY_FAILED', 'the shares do not combine into this tenant key');
  } finally {
    scalar?.fill(0);
    pkcs8.fill(0);
  }
}

/**
 * PKCS#8 around an RFC 5915 ECPrivateKey on P-256 that has only the scalar (no public key): both
 * OpenSSL (Node) and BoringSSL (Chromium) compute the public point on import. The same prefix
 * @hpke/core uses for DeserializePrivateKey.
 */
const P256_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
  0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20,
]);

async function shareChecksum(share: RecoveryShare): Promise<string> {
  const digest = await sha256(
    encodeFields([
      share.format,
      share.tenantId,
      String(share.keyVersion),
      share.fingerprint,
      share.splitId,
      String(share.index),
      String(share.shares),
      String(share.threshold),
      hex(share.data),
    ]),
  );
  return hex(digest.subarray(0, 4));
}

// ---------------------------------------------------------------------------------------------
// Small helpers (no Buffer: this runs in the browser too)

/** Tenant and machine ids: UUIDs in the database; no dots, which separate fields. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_:-]{0,127}$/;

function checkId(name: string, value: string): void {
  if (typeof value !== 'string' || !ID.test(value)) fail('ESCROW_INVALID_INPUT', `${name} is not a valid id`);
}

function checkVersion(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > 999_999_999)
    fail('ESCROW_INVALID_INPUT', `${name} must be an integer from 1 to 999999999`);
}

function parseVersion(value: string | undefined, name: string): number {
  if (!value || !/^[1-9][0-9]{0,8}$/.test(value)) return fail('ESCROW_MALFORMED', `malformed ${name}`);
  return Number(value);
}

function checkFormat(value: string | undefined, expected: string, what: string): void {
  if (value === expected) return;
  const family = expected.slice(0, 3);
  if (value && new RegExp(`^${family}[0-9]{1,3}$`).test(value))
    fail(
      'ESCROW_UNSUPPORTED_FORMAT',
      `${what} format "${value}" is not supported (this code reads ${expected})`,
    );
  fail('ESCROW_MALFORMED', `not a ${what}`);
}

/** Unambiguous bytes for a list of strings: each as a 2-byte length and its UTF-8. */
function encodeFields(fields: readonly string[]): Uint8Array<ArrayBuffer> {
  const encoded = fields.map(utf8);
  const out = new Uint8Array(encoded.reduce((n, f) => n + 2 + f.length, 0));
  let at = 0;
  for (const f of encoded) {
    out[at++] = f.length >> 8;
    out[at++] = f.length & 0xff;
    out.set(f, at);
    at += f.length;
  }
  return out;
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await subtle().digest('SHA-256', data));
}

function utf8(value: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(value);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Strict: only the canonical unpadded encoding is accepted, so no two strings mean the same bytes. */
export function fromBase64url(value: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(value) || value.length % 4 === 1) return null;
  const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return base64url(bytes) === value ? bytes : null;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function fromHex(value: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(value.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(value.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

const groups = (digits: string): string => digits.replace(/(.{4})(?=.)/g, '$1 ');
