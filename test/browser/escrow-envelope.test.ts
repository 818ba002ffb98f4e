import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import {
  generateTenantKey,
  openEscrowSecret,
  publicPart,
  recoverTenantKey,
  sealEscrowSecret,
  splitTenantKey,
  unwrapTenantKey,
  wrapTenantKey,
  type EscrowRecord,
} from '../../infra/wire/escrow-envelope';
import { launchChromium } from '../helpers/browser';

/**
 * infra/wire/escrow-envelope.ts as the portal will run it: bundled for the browser (esbuild, as
 * Vite does) and loaded into Debian's Chromium, whose WebCrypto is BoringSSL rather than Node's
 * OpenSSL. Node seals, the page opens, and the other way round; the checked-in vectors open too.
 * No API, database or worker: the page is served by request interception on an https origin, so
 * it is a secure context (WebCrypto needs one).
 */
jest.setTimeout(120_000);

const repoRoot = path.join(__dirname, '..', '..');
const vectors = JSON.parse(
  readFileSync(path.join(repoRoot, 'test', 'fixtures', 'escrow-vectors.json'), 'utf8'),
) as {
  tenantId: string;
  passphrase: string;
  wrappedKey: string;
  publicKey: string;
  envelopes: (EscrowRecord & { plaintext: string; envelope: string })[];
  shares: { texts: string[] };
};

type EscrowModule = typeof import('../../infra/wire/escrow-envelope');
declare global {
  interface Window {
    escrow: EscrowModule;
  }
}

let browser: Browser;
let page: Page;

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [path.join(repoRoot, 'infra', 'wire', 'escrow-envelope.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    globalName: 'escrow',
    target: 'es2022',
  });
  const script = bundle.outputFiles[0]!.text;
  browser = await launchChromium();
  page = await browser.newPage();
  await page.route('https://escrow.test/', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>escrow</title>' }),
  );
  await page.goto('https://escrow.test/');
  await page.addScriptTag({ content: script });
  expect(await page.evaluate(() => window.isSecureContext && typeof window.escrow.openEscrowSecret)).toBe(
    'function',
  );
});

afterAll(async () => {
  await browser?.close();
});

const record: EscrowRecord = {
  machineId: 'machine-7',
  kind: 'bitlocker-recovery-password',
  secretVersion: 3,
};
const PASSPHRASE = 'typed in the portal, never sent';

it('opens in the browser what Node sealed, with the key unwrapped there (non-extractable) and from shares', async () => {
  const key = await generateTenantKey({ tenantId: 'tenant-browser', keyVersion: 1 });
  const secret = '424242-131313-575757-868686-090909-212121-353535-646464';
  const input = {
    blob: await wrapTenantKey(key, PASSPHRASE),
    shares: await splitTenantKey(key),
    envelope: await sealEscrowSecret(publicPart(key), record, secret),
    passphrase: PASSPHRASE,
    record,
  };
  const result = await page.evaluate(async ({ blob, shares, envelope, passphrase, record }) => {
    const { unwrapTenantKey, openEscrowSecret, recoverTenantKey } = window.escrow;
    const unlocked = await unwrapTenantKey(blob, passphrase);
    const exportRefused = await crypto.subtle.exportKey('pkcs8', unlocked.keyPair.privateKey).then(
      () => false,
      () => true,
    );
    const recovered = await recoverTenantKey([shares[4]!, shares[0]!, shares[2]!], { extractable: false });
    const tooFew = await recoverTenantKey([shares[4]!, shares[0]!]).catch((e: { code: string }) => e.code);
    const wrong = await unwrapTenantKey(blob, 'not the passphrase at all').catch(
      (e: { code: string }) => e.code,
    );
    const moved = await openEscrowSecret(unlocked, { ...record, machineId: 'machine-8' }, envelope).catch(
      (e: { code: string }) => e.code,
    );
    return {
      extractable: unlocked.keyPair.privateKey.extractable,
      exportRefused,
      withPassphrase: await openEscrowSecret(unlocked, record, envelope),
      withShares: await openEscrowSecret(recovered, record, envelope),
      tooFew,
      wrong,
      moved,
    };
  }, input);
  expect(result).toEqual({
    extractable: false,
    exportRefused: true,
    withPassphrase: secret,
    withShares: secret,
    tooFew: 'ESCROW_SHARES_INSUFFICIENT',
    wrong: 'ESCROW_BAD_PASSPHRASE',
    moved: 'ESCROW_CONTEXT_MISMATCH',
  });
});

it('Node opens what the browser generated, wrapped, split and sealed', async () => {
  const made = await page.evaluate(
    async ({ record, passphrase }) => {
      const { generateTenantKey, wrapTenantKey, splitTenantKey, sealEscrowSecret, publicPart } =
        window.escrow;
      const key = await generateTenantKey({ tenantId: 'tenant-browser', keyVersion: 2 });
      return {
        blob: await wrapTenantKey(key, passphrase),
        shares: await splitTenantKey(key, { threshold: 2, shares: 3 }),
        envelope: await sealEscrowSecret(publicPart(key), record, 'sealed in Chromium'),
      };
    },
    { record, passphrase: PASSPHRASE },
  );
  const unlocked = await unwrapTenantKey(made.blob, PASSPHRASE);
  await expect(openEscrowSecret(unlocked, record, made.envelope)).resolves.toBe('sealed in Chromium');
  const recovered = await recoverTenantKey([made.shares[2]!, made.shares[1]!]);
  await expect(openEscrowSecret(recovered, record, made.envelope)).resolves.toBe('sealed in Chromium');
});

it('opens the checked-in vectors', async () => {
  const opened = await page.evaluate(async (v) => {
    const { unwrapTenantKey, recoverTenantKey, openEscrowSecret } = window.escrow;
    const unlocked = await unwrapTenantKey(v.wrappedKey, v.passphrase, { tenantId: v.tenantId });
    const recovered = await recoverTenantKey(v.shares.texts.slice(1, 4));
    return {
      recoveredPublicKey: recovered.publicKey,
      plaintexts: await Promise.all(v.envelopes.map((e) => openEscrowSecret(unlocked, e, e.envelope))),
    };
  }, vectors);
  expect(opened).toEqual({
    recoveredPublicKey: vectors.publicKey,
    plaintexts: vectors.envelopes.map((e) => e.plaintext),
  });
});
