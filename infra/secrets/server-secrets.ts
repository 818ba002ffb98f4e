import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError, serverSecret, type Env } from '../config/env';

/**
 * Secrets the server must be able to read back (a site's domain credential, which only the API
 * resolves into its gateway's claim response): AES-256-GCM envelopes under a server-held key that
 * is never in the database, with a key id so keys can be rotated (ADR 0026). Issue 16 reuses it.
 *
 * Keys come from `DRYDOCK_SECRET_KEYS` ("id:base64-of-32-bytes,…", the first one seals, all of them
 * open); unset, a single key "s0" is derived from `DRYDOCK_SECRET` (HKDF-SHA256). Associated data
 * binds an envelope to its row (tenant, kind, id), so a ciphertext copied to another row fails.
 * Errors name the key id or the format, never the plaintext or a key.
 */

const FORMAT = 'v1';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export class SecretError extends Error {
  override name = 'SecretError';
}

export interface SecretKeyring {
  /** The key id new envelopes are sealed with. */
  currentId: string;
  keys: ReadonlyMap<string, Buffer>;
}

/** Parses "id:base64,id:base64" (the first is current). */
export function parseKeyring(spec: string, variable = 'DRYDOCK_SECRET_KEYS'): SecretKeyring {
  const keys = new Map<string, Buffer>();
  let currentId: string | null = null;
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const sep = part.indexOf(':');
    const id = part.slice(0, sep);
    const key = Buffer.from(part.slice(sep + 1), 'base64');
    if (sep < 1 || !KEY_ID.test(id))
      throw new ConfigError(`invalid ${variable}: each entry must be id:base64-key`);
    if (key.length !== 32)
      throw new ConfigError(`invalid ${variable}: key "${id}" must be 32 bytes (base64)`);
    if (keys.has(id)) throw new ConfigError(`invalid ${variable}: key id "${id}" appears twice`);
    keys.set(id, key);
    currentId ??= id;
  }
  if (!currentId) throw new ConfigError(`invalid ${variable}: no keys`);
  return { currentId, keys };
}

export function keyringFromEnv(env: Env): SecretKeyring {
  if (env.DRYDOCK_SECRET_KEYS) return parseKeyring(env.DRYDOCK_SECRET_KEYS);
  const derived = Buffer.from(hkdfSync('sha256', serverSecret(env), 'drydock', 'server secrets v1', 32));
  return { currentId: 's0', keys: new Map([['s0', derived]]) };
}

/** A new random key in the configuration's format: `id:base64`. */
export const generateKeyEntry = (id: string): string => `${id}:${randomBytes(32).toString('base64')}`;

/** Seals `plaintext` under the current key, bound to `context` (for example "tenant:t1:domain-credential:c1"). */
export function sealSecret(ring: SecretKeyring, plaintext: string, context: string): string {
  const key = ring.keys.get(ring.currentId)!;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(`${FORMAT}:${ring.currentId}:${context}`, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${FORMAT}.${ring.currentId}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
}

/** The key id an envelope was sealed with. */
export function sealedKeyId(sealed: string): string {
  const [format, id] = sealed.split('.');
  if (format !== FORMAT || !id || !KEY_ID.test(id)) throw new SecretError('not a sealed secret');
  return id;
}

/** Opens an envelope; a wrong key, another row's context or a tampered value throws. */
export function openSecret(ring: SecretKeyring, sealed: string, context: string): string {
  const id = sealedKeyId(sealed);
  const key = ring.keys.get(id);
  if (!key) throw new SecretError(`the secret was sealed with key "${id}", which is not configured`);
  const data = Buffer.from(sealed.split('.')[2] ?? '', 'base64url');
  if (data.length < 12 + 16) throw new SecretError('the sealed secret is truncated');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${FORMAT}:${id}:${context}`, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new SecretError(`the sealed secret does not open with key "${id}" (tampered, or another row's)`);
  }
}

/** True when an envelope is sealed with an older key: rotation re-seals it (open, then seal). */
export const needsReseal = (ring: SecretKeyring, sealed: string): boolean =>
  sealedKeyId(sealed) !== ring.currentId;
