import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { combine } from 'shamir-secret-sharing';
import {
  base64url,
  envelopeAad,
  EscrowError,
  fromBase64url,
  generateTenantKey,
  openEscrowSecret,
  parseEscrowEnvelope,
  parseRecoveryShare,
  parseWrappedTenantKey,
  formatRecoveryShare,
  publicPart,
  recoverTenantKey,
  sealEscrowSecret,
  splitTenantKey,
  unwrapTenantKey,
  wrapTenantKey,
  type EscrowErrorCode,
  type EscrowKind,
  type EscrowRecord,
  type TenantKey,
} from '../../infra/wire/escrow-envelope';

interface Vectors {
  tenantId: string;
  keyVersion: number;
  publicKey: string;
  fingerprint: string;
  privateKeyPkcs8: string;
  passphrase: string;
  wrappedKey: string;
  suite: { info: string };
  envelopes: (EscrowRecord & { kind: EscrowKind; plaintext: string; aadHex: string; envelope: string })[];
  shares: { threshold: number; shares: number; texts: string[] };
}

const vectorsFile = path.join(__dirname, '..', 'fixtures', 'escrow-vectors.json');
const vectors = JSON.parse(readFileSync(vectorsFile, 'utf8')) as Vectors;
const subtle = globalThis.crypto.subtle;
const ECDH = { name: 'ECDH', namedCurve: 'P-256' } as const;

/** The vectors' tenant key, imported from its (test-only) PKCS#8. */
async function vectorKey(): Promise<TenantKey> {
  const privateKey = await subtle.importKey('pkcs8', fromBase64url(vectors.privateKeyPkcs8)!, ECDH, true, [
    'deriveBits',
  ]);
  const publicKey = await subtle.importKey('raw', fromBase64url(vectors.publicKey)!, ECDH, true, []);
  return {
    tenantId: vectors.tenantId,
    keyVersion: vectors.keyVersion,
    publicKey: vectors.publicKey,
    keyPair: { privateKey, publicKey },
  };
}

/** Every message an EscrowError carried in this file: none may contain a secret. */
const messages: string[] = [];

async function codeOf(attempt: () => Promise<unknown>): Promise<EscrowErrorCode | 'opened'> {
  try {
    await attempt();
    return 'opened';
  } catch (err) {
    if (!(err instanceof EscrowError)) throw err;
    messages.push(err.message);
    return err.code;
  }
}

const record = (overrides: Partial<EscrowRecord> = {}): EscrowRecord => ({
  machineId: 'machine-1',
  kind: 'local-admin-password',
  secretVersion: 1,
  ...overrides,
});

const PASSWORD = 'Xq3!local-admin-Pw';
const PASSPHRASE = 'a passphrase only the admin knows';

describe('escrow envelope: the checked-in vectors still open', () => {
  it('opens every envelope with the vector key, and the AAD encoding is unchanged', async () => {
    const key = await vectorKey();
    for (const v of vectors.envelopes) {
      const rec = { machineId: v.machineId, kind: v.kind, secretVersion: v.secretVersion };
      expect(Buffer.from(envelopeAad(key, rec)).toString('hex')).toBe(v.aadHex);
      expect(parseEscrowEnvelope(v.envelope)).toEqual({
        format: 'dde1',
        keyVersion: vectors.keyVersion,
        kind: v.kind,
        secretVersion: v.secretVersion,
      });
      await expect(openEscrowSecret(key, rec, v.envelope)).resolves.toBe(v.plaintext);
    }
  });

  it('unwraps the vector blob with its passphrase into a non-extractable key that opens them', async () => {
    expect(parseWrappedTenantKey(vectors.wrappedKey)).toMatchObject({
      tenantId: vectors.tenantId,
      keyVersion: vectors.keyVersion,
      kdf: { name: 'pbkdf2-sha256', iterations: 600_000 },
      publicKey: vectors.publicKey,
    });
    const key = await unwrapTenantKey(vectors.wrappedKey, vectors.passphrase, {
      tenantId: vectors.tenantId,
      keyVersion: vectors.keyVersion,
    });
    expect(key.keyPair.privateKey.extractable).toBe(false);
    await expect(subtle.exportKey('pkcs8', key.keyPair.privateKey)).rejects.toThrow();
    const v = vectors.envelopes[0]!;
    await expect(openEscrowSecret(key, v, v.envelope)).resolves.toBe(v.plaintext);
  });

  it('recovers the vector key from the checked-in shares', async () => {
    const [s1, s2, s3, s4, s5] = vectors.shares.texts as [string, string, string, string, string];
    for (const set of [
      [s1, s2, s3],
      [s5, s3, s1],
      [s2, s4, s5],
    ]) {
      const key = await recoverTenantKey(set);
      expect(key.publicKey).toBe(vectors.publicKey);
      const v = vectors.envelopes[1]!;
      await expect(openEscrowSecret(key, v, v.envelope)).resolves.toBe(v.plaintext);
    }
  });
});

/**
 * Checked against an implementation we did not write (STYLE 20): pyca/cryptography's HPKE (Rust
 * over OpenSSL) opens our vectors, and seals one that we open. Its AAD entry point is private
 * (`_decrypt_with_aad`, there for RFC 9180's vectors), so this runs only where it exists.
 */
const pycaHpke =
  spawnSync(
    'python3',
    ['-c', 'from cryptography.hazmat.bindings._rust import openssl as o; o.hpke._encrypt_with_aad'],
    {
      stdio: 'ignore',
    },
  ).status === 0;
const describePyca = pycaHpke ? describe : describe.skip;
if (!pycaHpke)
  process.stdout.write('escrow-envelope: pyca/cryptography with HPKE not found, skipping its check\n');

describePyca('escrow envelope against pyca/cryptography HPKE', () => {
  const script = `
import base64, json, sys
from cryptography.hazmat.bindings._rust import openssl as o
from cryptography.hazmat.primitives import hpke, serialization
b = lambda s: base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))
v = json.load(sys.stdin)
key = serialization.load_der_private_key(b(v['privateKeyPkcs8']), None)
suite = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
info = v['suite']['info'].encode()
opened = [o.hpke._decrypt_with_aad(suite, b(e['envelope'].split('.')[5]) + b(e['envelope'].split('.')[6]), key, info, bytes.fromhex(e['aadHex'])).decode() for e in v['envelopes']]
e = v['envelopes'][0]
sealed = o.hpke._encrypt_with_aad(suite, 'sealed by pyca'.encode(), key.public_key(), info, bytes.fromhex(e['aadHex']))
print(json.dumps({'opened': opened, 'sealed': sealed.hex()}))
`;

  it('opens our envelopes, and we open its', async () => {
    const out = JSON.parse(
      execFileSync('python3', ['-c', script], { input: JSON.stringify(vectors) }).toString(),
    ) as {
      opened: string[];
      sealed: string;
    };
    expect(out.opened).toEqual(vectors.envelopes.map((e) => e.plaintext));

    const v = vectors.envelopes[0]!;
    const sealed = Buffer.from(out.sealed, 'hex');
    const bind = Buffer.from(await subtle.digest('SHA-256', Buffer.from(v.aadHex, 'hex'))).subarray(0, 9);
    const envelope = [
      'dde1',
      vectors.keyVersion,
      v.kind,
      v.secretVersion,
      base64url(bind),
      base64url(sealed.subarray(0, 65)),
      base64url(sealed.subarray(65)),
    ].join('.');
    await expect(openEscrowSecret(await vectorKey(), v, envelope)).resolves.toBe('sealed by pyca');
  });
});

describe('escrow envelope: round trips', () => {
  let key: TenantKey;
  beforeAll(async () => {
    key = await generateTenantKey({ tenantId: 'tenant-a', keyVersion: 1 });
  });

  it('seals to the public key alone and opens with the key pair, both kinds, a fresh encapsulation each', async () => {
    const pub = publicPart(key);
    expect(Object.keys(pub).sort()).toEqual(['keyVersion', 'publicKey', 'tenantId']);
    const bitlocker = '111111-222222-333333-444444-555555-666666-777777-888888';
    const a = await sealEscrowSecret(pub, record(), PASSWORD);
    const b = await sealEscrowSecret(pub, record(), PASSWORD);
    const c = await sealEscrowSecret(pub, record({ kind: 'bitlocker-recovery-password' }), bitlocker);
    expect(a).toMatch(/^dde1\.1\.local-admin-password\.1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(a.split('.')[5]).not.toBe(b.split('.')[5]);
    for (const e of [a, b, c]) {
      expect(e).not.toContain(PASSWORD);
      expect(e).not.toContain(base64url(new TextEncoder().encode(PASSWORD)));
    }
    await expect(openEscrowSecret(key, record(), a)).resolves.toBe(PASSWORD);
    await expect(openEscrowSecret(key, record(), b)).resolves.toBe(PASSWORD);
    await expect(openEscrowSecret(key, record({ kind: 'bitlocker-recovery-password' }), c)).resolves.toBe(
      bitlocker,
    );
  });

  it('wraps and unwraps; a new passphrase replaces the old one (unwrap extractable, wrap again)', async () => {
    const blob = await wrapTenantKey(key, PASSPHRASE);
    expect(blob).toMatch(/^ddk1\.tenant-a\.1\.pbkdf2-sha256\.600000\./);
    const envelope = await sealEscrowSecret(publicPart(key), record(), PASSWORD);
    const unlocked = await unwrapTenantKey(blob, PASSPHRASE);
    await expect(openEscrowSecret(unlocked, record(), envelope)).resolves.toBe(PASSWORD);

    const again = await unwrapTenantKey(blob, PASSPHRASE, { extractable: true });
    const rewrapped = await wrapTenantKey(again, 'the replacement passphrase', { iterations: 700_000 });
    expect(parseWrappedTenantKey(rewrapped).kdf.iterations).toBe(700_000);
    expect(await codeOf(() => unwrapTenantKey(rewrapped, PASSPHRASE))).toBe('ESCROW_BAD_PASSPHRASE');
    const replaced = await unwrapTenantKey(rewrapped, 'the replacement passphrase');
    await expect(openEscrowSecret(replaced, record(), envelope)).resolves.toBe(PASSWORD);
  });

  it('refuses bad arguments with ESCROW_INVALID_INPUT', async () => {
    const pub = publicPart(key);
    expect(await codeOf(() => sealEscrowSecret(pub, record(), ''))).toBe('ESCROW_INVALID_INPUT');
    expect(await codeOf(() => sealEscrowSecret(pub, record(), 'x'.repeat(1025)))).toBe(
      'ESCROW_INVALID_INPUT',
    );
    expect(await codeOf(() => sealEscrowSecret(pub, record({ machineId: 'a.b' }), 'x'))).toBe(
      'ESCROW_INVALID_INPUT',
    );
    expect(await codeOf(() => sealEscrowSecret(pub, record({ secretVersion: 0 }), 'x'))).toBe(
      'ESCROW_INVALID_INPUT',
    );
    expect(await codeOf(() => sealEscrowSecret(pub, record({ kind: 'wifi' as EscrowKind }), 'x'))).toBe(
      'ESCROW_INVALID_INPUT',
    );
    expect(await codeOf(() => wrapTenantKey(key, PASSPHRASE, { iterations: 100_000 }))).toBe(
      'ESCROW_INVALID_INPUT',
    );
    expect(await codeOf(() => sealEscrowSecret({ ...pub, publicKey: 'AAAA' }, record(), 'x'))).toBe(
      'ESCROW_MALFORMED',
    );
  });
});

describe('escrow envelope: tampering is reported by code, never opened', () => {
  let key: TenantKey;
  let envelope: string;
  beforeAll(async () => {
    key = await generateTenantKey({ tenantId: 'tenant-a', keyVersion: 2 });
    envelope = await sealEscrowSecret(publicPart(key), record(), PASSWORD);
  });
  const fields = () => envelope.split('.');
  const withField = (i: number, value: string) =>
    fields()
      .map((f, j) => (j === i ? value : f))
      .join('.');
  const flipByte = (field: string, at: number) => {
    const bytes = fromBase64url(field)!;
    bytes[at]! ^= 0x01;
    return base64url(bytes);
  };

  it('truncated', async () => {
    expect(await codeOf(() => openEscrowSecret(key, record(), ''))).toBe('ESCROW_MALFORMED');
    expect(await codeOf(() => openEscrowSecret(key, record(), fields().slice(0, 6).join('.')))).toBe(
      'ESCROW_MALFORMED',
    );
    // Whole bytes cut off the ciphertext: still well-formed, so the AEAD catches it.
    const ct = fields()[6]!;
    const cut = base64url(fromBase64url(ct)!.subarray(0, -3));
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(6, cut)))).toBe('ESCROW_TAMPERED');
    // Down to a bare tag, or half a byte: not the format.
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(6, ct.slice(0, 22))))).toBe(
      'ESCROW_MALFORMED',
    );
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(6, ct.slice(0, -1))))).toBe(
      'ESCROW_MALFORMED',
    );
  });

  it('bit-flipped ciphertext, tag or encapsulated key', async () => {
    const ct = fields()[6]!;
    const last = fromBase64url(ct)!.length - 1;
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(6, flipByte(ct, 0))))).toBe(
      'ESCROW_TAMPERED',
    );
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(6, flipByte(ct, last))))).toBe(
      'ESCROW_TAMPERED',
    );
    expect(
      await codeOf(() => openEscrowSecret(key, record(), withField(5, flipByte(fields()[5]!, 40)))),
    ).toBe('ESCROW_TAMPERED');
  });

  it('any one character changed anywhere: an error with a known code, never a plaintext', async () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    const seen = new Set<string>();
    for (let i = 0; i < envelope.length; i++) {
      const replacement = alphabet[(alphabet.indexOf(envelope[i]!) + 7) % alphabet.length]!;
      const changed = envelope.slice(0, i) + replacement + envelope.slice(i + 1);
      const code = await codeOf(() => openEscrowSecret(key, record(), changed));
      expect([i, code]).not.toEqual([i, 'opened']);
      seen.add(code);
    }
    expect([...seen].every((c) => c.startsWith('ESCROW_'))).toBe(true);
  });

  it("moved to another machine's record, another kind or another secret version", async () => {
    for (const other of [
      record({ machineId: 'machine-2' }),
      record({ kind: 'bitlocker-recovery-password' }),
      record({ secretVersion: 2 }),
    ])
      expect(await codeOf(() => openEscrowSecret(key, other, envelope))).toBe('ESCROW_CONTEXT_MISMATCH');
    // Another tenant's key of the same version.
    const otherTenant = { ...key, tenantId: 'tenant-b' };
    expect(await codeOf(() => openEscrowSecret(otherTenant, record(), envelope))).toBe(
      'ESCROW_CONTEXT_MISMATCH',
    );
  });

  it('moved with its clear header rewritten to match: the AEAD, not the header, refuses it', async () => {
    const target = record({ machineId: 'machine-2' });
    const bind = Buffer.from(await subtle.digest('SHA-256', envelopeAad(key, target))).subarray(0, 9);
    expect(await codeOf(() => openEscrowSecret(key, target, withField(4, base64url(bind))))).toBe(
      'ESCROW_TAMPERED',
    );
  });

  it('wrong key version, and sealed to another key', async () => {
    expect(await codeOf(() => openEscrowSecret({ ...key, keyVersion: 1 }, record(), envelope))).toBe(
      'ESCROW_WRONG_KEY_VERSION',
    );
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(1, '3')))).toBe(
      'ESCROW_WRONG_KEY_VERSION',
    );
    const stranger = await generateTenantKey({ tenantId: 'tenant-a', keyVersion: 2 });
    expect(await codeOf(() => openEscrowSecret(stranger, record(), envelope))).toBe('ESCROW_TAMPERED');
  });

  it('foreign, future and non-canonical forms', async () => {
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(0, 'dde2')))).toBe(
      'ESCROW_UNSUPPORTED_FORMAT',
    );
    expect(await codeOf(() => openEscrowSecret(key, record(), 'v1.k1.AAAA'))).toBe('ESCROW_MALFORMED');
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(1, '02')))).toBe('ESCROW_MALFORMED');
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(2, 'wifi-psk')))).toBe(
      'ESCROW_MALFORMED',
    );
    expect(await codeOf(() => openEscrowSecret(key, record(), withField(6, `${fields()[6]!}=`)))).toBe(
      'ESCROW_MALFORMED',
    );
    expect(await codeOf(() => openEscrowSecret(key, record(), `${envelope}.extra`))).toBe('ESCROW_MALFORMED');
  });
});

describe('escrow envelope: break-glass shares', () => {
  let key: TenantKey;
  let shares: string[];
  let envelope: string;
  beforeAll(async () => {
    key = await generateTenantKey({ tenantId: 'tenant-a', keyVersion: 1 });
    shares = await splitTenantKey(key);
    envelope = await sealEscrowSecret(publicPart(key), record(), PASSWORD);
  });

  it('prints 3-of-5 by default, each share a block naming its number, tenant, key and checksum', async () => {
    expect(shares).toHaveLength(5);
    expect(shares[1]).toContain('share: 2 of 5, threshold 3');
    expect(shares[1]).toContain('tenant: tenant-a');
    expect(shares[1]).toMatch(/^checksum: [0-9a-f]{4} [0-9a-f]{4}$/m);
    const parsed = await parseRecoveryShare(shares[1]!);
    expect(parsed).toMatchObject({ index: 2, threshold: 3, shares: 5, keyVersion: 1, tenantId: 'tenant-a' });
  });

  it('any 3 of the 5 recover the key (all ten sets), and so do 4 and 5', async () => {
    const sets: number[][] = [];
    for (let a = 0; a < 5; a++)
      for (let b = a + 1; b < 5; b++) for (let c = b + 1; c < 5; c++) sets.push([a, b, c]);
    sets.push([0, 1, 2, 3], [4, 3, 2, 1, 0]);
    for (const set of sets) {
      const recovered = await recoverTenantKey(
        set.map((i) => shares[i]!),
        { extractable: false },
      );
      expect(recovered.publicKey).toBe(key.publicKey);
      await expect(openEscrowSecret(recovered, record(), envelope)).resolves.toBe(PASSWORD);
    }
  });

  it('2 of a 3-of-5 do not: refused as too few, and relabelled as a 2-of-5 they combine to another key', async () => {
    expect(await codeOf(() => recoverTenantKey([shares[0]!, shares[3]!]))).toBe('ESCROW_SHARES_INSUFFICIENT');

    // A forger rewrites the threshold and recomputes the checksums (the checksum catches typos,
    // not forgers): the two shares interpolate to a different scalar, which the fingerprint refuses.
    const forged = await Promise.all(
      [shares[0]!, shares[3]!].map(async (s) =>
        formatRecoveryShare({ ...(await parseRecoveryShare(s)), threshold: 2 }),
      ),
    );
    expect(await codeOf(() => recoverTenantKey(forged))).toBe('ESCROW_RECOVERY_FAILED');

    // The library itself, without our checks: M-1 shares give 32 bytes that are not the key.
    const jwk = await subtle.exportKey('jwk', key.keyPair.privateKey);
    const scalar = Buffer.from(jwk.d!, 'base64url');
    const twoData = await Promise.all(
      [shares[0]!, shares[3]!].map(async (s) => (await parseRecoveryShare(s)).data),
    );
    const wrong = Buffer.from(await combine(twoData));
    expect(wrong).toHaveLength(32);
    expect(wrong.equals(scalar)).toBe(false);
  });

  it('a mistyped share is named by its checksum before combining; retyping in other case and spacing is fine', async () => {
    const dataLine = /^data: (.*)$/m.exec(shares[2]!)![1]!;
    const digit = dataLine[5] === '0' ? '1' : '0';
    const typo = shares[2]!.replace(dataLine, dataLine.slice(0, 5) + digit + dataLine.slice(6));
    const code = await codeOf(() => recoverTenantKey([shares[0]!, shares[1]!, typo]));
    expect(code).toBe('ESCROW_SHARE_CHECKSUM');
    expect(messages.at(-1)).toContain('share 3');

    // Retyped by hand: upper-case hex, no spaces, a label in capitals, trailing blanks.
    const retyped = shares[2]!.replace(
      /^(data|checksum): (.*)$/gm,
      (_, label: string, value: string) =>
        `${label.toUpperCase()}:  ${value.replace(/ /g, '').toUpperCase()}  `,
    );
    expect(retyped).not.toBe(shares[2]);
    const recovered = await recoverTenantKey([shares[0]!, shares[4]!, retyped]);
    expect(recovered.publicKey).toBe(key.publicKey);
  });

  it('shares of another split or key, and a share given twice, are refused', async () => {
    const resplit = await splitTenantKey(key);
    expect(await codeOf(() => recoverTenantKey([shares[0]!, shares[1]!, resplit[2]!]))).toBe(
      'ESCROW_SHARE_MISMATCH',
    );
    const other = await splitTenantKey(await generateTenantKey({ tenantId: 'tenant-a', keyVersion: 2 }));
    expect(await codeOf(() => recoverTenantKey([shares[0]!, shares[1]!, other[2]!]))).toBe(
      'ESCROW_SHARE_MISMATCH',
    );
    expect(await codeOf(() => recoverTenantKey([shares[0]!, shares[1]!, shares[1]!]))).toBe(
      'ESCROW_SHARE_MISMATCH',
    );
    expect(await codeOf(() => recoverTenantKey([]))).toBe('ESCROW_SHARES_INSUFFICIENT');
    expect(await codeOf(() => recoverTenantKey(['hello']))).toBe('ESCROW_MALFORMED');
  });

  it('validates 2 <= M <= N <= 10, and splits only an extractable key', async () => {
    for (const [threshold, n] of [
      [1, 5],
      [4, 3],
      [3, 11],
      [2.5, 5],
    ])
      expect(await codeOf(() => splitTenantKey(key, { threshold, shares: n }))).toBe('ESCROW_INVALID_INPUT');
    const tenOfTen = await splitTenantKey(key, { threshold: 10, shares: 10 });
    expect((await recoverTenantKey(tenOfTen)).publicKey).toBe(key.publicKey);
    const twoOfTwo = await splitTenantKey(key, { threshold: 2, shares: 2 });
    expect((await recoverTenantKey(twoOfTwo)).publicKey).toBe(key.publicKey);

    const locked = await unwrapTenantKey(await wrapTenantKey(key, PASSPHRASE), PASSPHRASE);
    expect(await codeOf(() => splitTenantKey(locked))).toBe('ESCROW_INVALID_INPUT');
  });
});

describe('escrow envelope: the wrapped key and its passphrase', () => {
  let key: TenantKey;
  let blob: string;
  beforeAll(async () => {
    key = await generateTenantKey({ tenantId: 'tenant-a', keyVersion: 4 });
    blob = await wrapTenantKey(key, PASSPHRASE);
  });
  const withField = (i: number, value: string) =>
    blob
      .split('.')
      .map((f, j) => (j === i ? value : f))
      .join('.');

  it('refuses a wrong passphrase, and a short one at wrapping', async () => {
    expect(await codeOf(() => unwrapTenantKey(blob, 'a passphrase only the admin knew'))).toBe(
      'ESCROW_BAD_PASSPHRASE',
    );
    expect(await codeOf(() => unwrapTenantKey(blob, ''))).toBe('ESCROW_BAD_PASSPHRASE');
    expect(await codeOf(() => wrapTenantKey(key, 'short-pass'))).toBe('ESCROW_WEAK_PASSPHRASE');
  });

  it('refuses a wrapped key cut or padded by whole bytes, well-formed base64url or not', async () => {
    const wrapped = fromBase64url(blob.split('.')[8]!)!;
    expect(wrapped.length).toBe(138 + 16); // WebCrypto's PKCS#8 P-256 export, plus the GCM tag
    for (const size of [wrapped.length - 1, wrapped.length - 3, wrapped.length - 12, wrapped.length + 3]) {
      const resized = new Uint8Array(size);
      resized.set(wrapped.subarray(0, Math.min(size, wrapped.length)));
      expect(await codeOf(async () => parseWrappedTenantKey(withField(8, base64url(resized))))).toBe(
        'ESCROW_MALFORMED',
      );
    }
    // Cut by 4 characters: malformed whatever the new last character decodes to.
    for (let cut = 1; cut <= 8; cut++)
      expect(await codeOf(async () => parseWrappedTenantKey(blob.slice(0, -cut)))).toBe('ESCROW_MALFORMED');
    expect(parseWrappedTenantKey(blob)).toMatchObject({ tenantId: 'tenant-a', keyVersion: 4 });
  });

  it('the same passphrase typed as composed or decomposed Unicode unlocks it (NFC)', async () => {
    const composed = await wrapTenantKey(key, 'Schlüsselbund für alle');
    await expect(unwrapTenantKey(composed, 'Schlu\u0308sselbund fu\u0308r alle')).resolves.toMatchObject({
      keyVersion: 4,
    });
  });

  it('refuses another tenant or key version by expectation, and doctored KDF parameters', async () => {
    expect(await codeOf(() => unwrapTenantKey(blob, PASSPHRASE, { tenantId: 'tenant-b' }))).toBe(
      'ESCROW_CONTEXT_MISMATCH',
    );
    expect(await codeOf(() => unwrapTenantKey(blob, PASSPHRASE, { keyVersion: 3 }))).toBe(
      'ESCROW_WRONG_KEY_VERSION',
    );
    // The header is associated data: a blob relabelled to another tenant does not unlock.
    expect(await codeOf(() => unwrapTenantKey(withField(1, 'tenant-b'), PASSPHRASE))).toBe(
      'ESCROW_BAD_PASSPHRASE',
    );
    expect(await codeOf(() => unwrapTenantKey(withField(4, '600001'), PASSPHRASE))).toBe(
      'ESCROW_BAD_PASSPHRASE',
    );
    expect(await codeOf(() => unwrapTenantKey(withField(4, '1000'), PASSPHRASE))).toBe('ESCROW_MALFORMED');
    expect(await codeOf(() => unwrapTenantKey(withField(4, '99999999'), PASSPHRASE))).toBe(
      'ESCROW_MALFORMED',
    );
    expect(await codeOf(() => unwrapTenantKey(withField(3, 'argon2id'), PASSPHRASE))).toBe(
      'ESCROW_UNSUPPORTED_FORMAT',
    );
    expect(await codeOf(() => unwrapTenantKey(withField(0, 'ddk2'), PASSPHRASE))).toBe(
      'ESCROW_UNSUPPORTED_FORMAT',
    );
    expect(await codeOf(() => unwrapTenantKey(blob.slice(0, -10), PASSPHRASE))).toBe('ESCROW_MALFORMED');
    expect(await codeOf(() => unwrapTenantKey(blob.split('.').slice(0, 8).join('.'), PASSPHRASE))).toBe(
      'ESCROW_MALFORMED',
    );
    // Another tenant key's public half swapped in: associated data again.
    const other = await generateTenantKey({ tenantId: 'tenant-a', keyVersion: 4 });
    expect(await codeOf(() => unwrapTenantKey(withField(7, other.publicKey), PASSPHRASE))).toBe(
      'ESCROW_BAD_PASSPHRASE',
    );
  });
});

describe('escrow envelope: hygiene', () => {
  // Runs last: it reads the messages every test above collected (run alone, it checks none).
  it('no error message in this file carried a secret, a key, a ciphertext or share digits', async () => {
    const key = await vectorKey();
    const jwk = await subtle.exportKey('jwk', key.keyPair.privateKey);
    const secrets = [
      PASSWORD,
      PASSPHRASE,
      vectors.passphrase,
      vectors.privateKeyPkcs8,
      jwk.d!,
      ...vectors.envelopes.map((e) => e.plaintext),
    ];
    for (const message of messages) for (const secret of secrets) expect(message).not.toContain(secret);
    for (const message of messages) {
      expect(message).not.toMatch(/[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}/);
      expect(message).not.toMatch(/[A-Za-z0-9_-]{40,}/);
    }
  });

  it('runs in a browser as it is: WebCrypto and two pure-JS libraries, no Node imports or Buffer', () => {
    const source = readFileSync(
      path.join(__dirname, '..', '..', 'infra', 'wire', 'escrow-envelope.ts'),
      'utf8',
    );
    const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['@hpke/core', 'shamir-secret-sharing']);
    const code = source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    expect(code).not.toMatch(/\bBuffer\b|\bprocess\.|require\(/);
  });
});
