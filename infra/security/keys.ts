import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Enrollment keys (`dek_…`) and agent keys (`dak_…`): `<prefix>_<keyId>_<secret>`, where keyId is
 * a non-secret lookup id (8 random bytes, hex) and secret is 32 random bytes (256 bits, base64url).
 * Only HMAC-SHA256(server secret, secret) is stored (docs/adr/0008-enrollment-and-agent-keys.md).
 */
export type KeyKind = 'dek' | 'dak';

export interface ParsedKey {
  kind: KeyKind;
  keyId: string;
  secret: string;
}

const keyPattern = /^(dek|dak)_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function generateKey(kind: KeyKind): { key: string; keyId: string } {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { key: `${kind}_${keyId}_${secret}`, keyId };
}

/** Parses without touching any store; anything malformed is simply not a key. */
export function parseKey(key: unknown, kind: KeyKind): ParsedKey | null {
  if (typeof key !== 'string' || key.length > 100) return null;
  const match = keyPattern.exec(key);
  if (!match || match[1] !== kind) return null;
  return { kind, keyId: match[2]!, secret: match[3]! };
}

export function hashKeySecret(serverSecret: string, parsed: ParsedKey): string {
  return createHmac('sha256', serverSecret)
    .update(`${parsed.kind}:${parsed.keyId}:${parsed.secret}`)
    .digest('hex');
}

export function verifyKeySecret(serverSecret: string, parsed: ParsedKey, storedHash: string): boolean {
  const expected = Buffer.from(hashKeySecret(serverSecret, parsed), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === expected.length && timingSafeEqual(stored, expected);
}

/** `vN (XXXX)`: the key version and four upper-case hex digits derived from the key. */
export function fingerprint(version: number, key: string): string {
  const code = createHash('sha256').update(key).digest('hex').slice(0, 4).toUpperCase();
  return `v${version} (${code})`;
}
