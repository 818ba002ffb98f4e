import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileWindowsProgram, SERVICE_HOST_SOURCE } from '../../installer/build-service-host';
import { ensureTestCa, resolveSigner, sign, verify, type TestCa } from '../../installer/signing';
import { InstallerErrorCode, run, sha256File } from '../../installer/tools';

jest.setTimeout(120_000);

/**
 * An operator's PFX, as SIGNING_PFX and SIGNING_PASSWORD_FILE configure it in production: the test
 * CA's code-signing certificate and key exported by OpenSSL into a password-protected PKCS#12 file,
 * to sign a small PE (the service host, compiled once) through the real signing function, and
 * checked with osslsigncode.
 */
let dir: string;
let ca: TestCa;
let otherCa: TestCa;
let unsigned: string;
const password = 'c0rrect-h0rse-battery';
const wrongPassword = 'tr0ub4dor-and-3';

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-operator-signing-'));
  unsigned = path.join(dir, 'drydock-service.unsigned.exe');
  [ca, otherCa] = await Promise.all([
    ensureTestCa(path.join(dir, 'ca')),
    ensureTestCa(path.join(dir, 'other-ca')),
    compileWindowsProgram(SERVICE_HOST_SOURCE, unsigned),
  ]);
  writeFileSync(path.join(dir, 'password'), `${password}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'wrong-password'), `${wrongPassword}\n`, { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `openssl pkcs12 -export`: AES-256 by default, RC2/3DES with -legacy (what older Windows exports). */
async function exportPfx(name: string, legacy: boolean): Promise<string> {
  const pfx = path.join(dir, name);
  await run('openssl', [
    'pkcs12', '-export', ...(legacy ? ['-legacy'] : []),
    '-inkey', ca.signerKey, '-in', ca.signerCert, '-certfile', ca.caCert,
    '-name', 'Drydock operator code signing', '-passout', `file:${path.join(dir, 'password')}`, '-out', pfx,
  ]); // prettier-ignore
  return pfx;
}

const operatorSigner = (pfx: string, passwordFile: string) =>
  resolveSigner({
    env: 'production',
    pfx,
    passwordFile,
    testCaDir: path.join(dir, 'unused-test-ca'),
    signingTime: 1_767_225_600,
  });

it.each([
  ['current', false],
  ['legacy', true],
])(
  'signs with a password-protected %s PFX, and the signature verifies against its CA',
  async (kind, legacy) => {
    const pfx = await exportPfx(`operator-${kind}.pfx`, legacy);
    const signer = await operatorSigner(pfx, path.join(dir, 'password'));
    expect(signer).toMatchObject({ origin: 'operator', key: { kind: 'pkcs12' } });
    expect(signer.caFile).toBeUndefined(); // production uses no test CA
    expect(existsSync(path.join(dir, 'unused-test-ca'))).toBe(false);

    const signed = path.join(dir, `drydock-service-${kind}.exe`);
    await sign(signer, unsigned, signed, 'Drydock Agent Service');
    const checked = await verify(signed, ca.caCert);
    expect(checked.output).toMatch(/Signature verification: ok/);
    expect(checked).toMatchObject({ ok: true, signer: expect.stringContaining('Drydock Test Code Signing') });
    expect(await sha256File(signed)).not.toBe(await sha256File(unsigned));
    // Another CA does not vouch for it: the check is against the chain, not just "some signature".
    expect((await verify(signed, otherCa.caCert)).ok).toBe(false);
  },
);

it('refuses a wrong PFX password with the configuration code and a sentence that holds no password', async () => {
  const pfx = await exportPfx('operator-wrong.pfx', false);
  const signer = await operatorSigner(pfx, path.join(dir, 'wrong-password'));
  const signed = path.join(dir, 'drydock-service-wrong.exe');
  const failure = await sign(signer, unsigned, signed, 'Drydock Agent Service').then(
    () => undefined,
    (err: unknown) => err as Error & { code?: string },
  );
  expect(failure).toBeDefined();
  // Permanent (the build workflow does not retry it), unlike a passing tool failure.
  expect(failure!.code).toBe(InstallerErrorCode.SigningNotConfigured);
  expect(failure!.message).toContain(`SIGNING_PFX (${pfx})`);
  expect(failure!.message).toMatch(/the password in SIGNING_PASSWORD_FILE \(.*wrong-password\) is wrong/);
  expect(failure!.message).not.toContain(wrongPassword);
  expect(failure!.message).not.toContain(password);
  expect(existsSync(signed)).toBe(false);
});
