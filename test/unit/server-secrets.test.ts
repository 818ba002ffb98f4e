import { ConfigError, loadEnv } from '../../infra/config/env';
import {
  generateKeyEntry,
  keyringFromEnv,
  needsReseal,
  openSecret,
  parseKeyring,
  sealedKeyId,
  sealSecret,
  SecretError,
} from '../../infra/secrets/server-secrets';

const PASSWORD = 'Domain-Passw0rd!';
const context = 'tenant:t1:domain-credential:c1';

describe('server secrets (AES-256-GCM envelopes with key ids)', () => {
  const ring = parseKeyring(generateKeyEntry('k1'));

  it('round-trips, and the envelope carries neither the plaintext nor the key', () => {
    const sealed = sealSecret(ring, PASSWORD, context);
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(PASSWORD);
    expect(sealed).not.toContain(Buffer.from(PASSWORD).toString('base64'));
    expect(openSecret(ring, sealed, context)).toBe(PASSWORD);
    // A fresh IV each time.
    expect(sealSecret(ring, PASSWORD, context)).not.toBe(sealed);
  });

  it("refuses another row's context, a tampered envelope, an unknown key, and says so without the secret", () => {
    const sealed = sealSecret(ring, PASSWORD, context);
    const attempts = [
      () => openSecret(ring, sealed, 'tenant:t2:domain-credential:c1'),
      () => openSecret(ring, sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA'), context),
      () => openSecret(parseKeyring(generateKeyEntry('k1')), sealed, context),
      () => openSecret(parseKeyring(generateKeyEntry('k2')), sealed, context),
      () => openSecret(ring, 'v1.k1.AAAA', context),
      () => openSecret(ring, 'plain text', context),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(SecretError);
      try {
        attempt();
      } catch (err) {
        expect((err as Error).message).not.toContain(PASSWORD);
      }
    }
    expect(() => openSecret(parseKeyring(generateKeyEntry('k2')), sealed, context)).toThrow(
      /key "k1", which is not configured/,
    );
  });

  it('rotates: a new current key seals, old envelopes still open and are marked for re-sealing', () => {
    const old = sealSecret(ring, PASSWORD, context);
    const [k1] = [...ring.keys.entries()];
    const rotated = parseKeyring(`${generateKeyEntry('k2')},k1:${k1![1].toString('base64')}`);
    expect(rotated.currentId).toBe('k2');
    expect(openSecret(rotated, old, context)).toBe(PASSWORD);
    expect(needsReseal(rotated, old)).toBe(true);
    const resealed = sealSecret(rotated, openSecret(rotated, old, context), context);
    expect(sealedKeyId(resealed)).toBe('k2');
    expect(needsReseal(rotated, resealed)).toBe(false);
  });

  it('reads its keys from configuration, refusing bad ones by variable name only', () => {
    const entry = generateKeyEntry('prod-2026');
    const env = loadEnv({ DRYDOCK_SECRET_KEYS: entry });
    expect(keyringFromEnv(env).currentId).toBe('prod-2026');
    // Unset: one key derived from DRYDOCK_SECRET, stable across processes.
    const a = keyringFromEnv(loadEnv({ DRYDOCK_SECRET: 'x'.repeat(40) }));
    const b = keyringFromEnv(loadEnv({ DRYDOCK_SECRET: 'x'.repeat(40) }));
    expect(openSecret(b, sealSecret(a, PASSWORD, context), context)).toBe(PASSWORD);

    const short = `k1:${Buffer.alloc(16).toString('base64')}`;
    expect(() => parseKeyring(short)).toThrow(ConfigError);
    expect(() => parseKeyring(short)).toThrow(
      'invalid DRYDOCK_SECRET_KEYS: key "k1" must be 32 bytes (base64)',
    );
    expect(() => parseKeyring(`${entry},${entry}`)).toThrow(/appears twice/);
    expect(() => loadEnv({ DRYDOCK_SECRET_KEYS: 'not a keyring' })).toThrow(
      /^invalid DRYDOCK_SECRET_KEYS: must be id:base64-key pairs/,
    );
    try {
      loadEnv({ DRYDOCK_SECRET_KEYS: `${entry} oops` });
    } catch (err) {
      expect((err as Error).message).not.toContain(entry.split(':')[1]);
    }
  });
});
