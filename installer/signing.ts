import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildIntoPlace, InstallerError, InstallerErrorCode, run } from './tools';

/** Who signs: the operator's key (PFX, or PEM certificate chain + key), or the development test CA. */
export type SignerKey =
  | { kind: 'pkcs12'; pfx: string; passwordFile?: string }
  | { kind: 'pem'; cert: string; key: string; passwordFile?: string };

export interface Signer {
  key: SignerKey;
  /** RFC 3161 timestamp servers; empty = no timestamp (the signature then ends with the certificate). */
  timestampUrls: string[];
  /** The signing time written into signatures when there is no timestamp: the build epoch. */
  signingTime: number;
  /** For the test CA: the CA certificate that `verify` checks against. */
  caFile?: string;
  /** `test-ca` when the development CA signs: such artifacts must never leave a lab. */
  origin: 'operator' | 'test-ca';
}

export interface SigningSettings {
  env: 'development' | 'test' | 'production';
  pfx?: string;
  cert?: string;
  key?: string;
  passwordFile?: string;
  timestampUrls?: string;
  /** Where the development test CA lives (created on first use). */
  testCaDir: string;
  signingTime: number;
}

/** The operator's configured key, or (outside production) the test CA, created once. */
export async function resolveSigner(settings: SigningSettings): Promise<Signer> {
  const timestampUrls = settings.timestampUrls ? settings.timestampUrls.split(',') : [];
  const base = { timestampUrls, signingTime: settings.signingTime };
  if (settings.pfx) {
    if (settings.cert || settings.key)
      throw signingError('set SIGNING_PFX, or SIGNING_CERT and SIGNING_KEY, not both');
    mustExist(settings.pfx, 'SIGNING_PFX');
    if (settings.passwordFile) mustExist(settings.passwordFile, 'SIGNING_PASSWORD_FILE');
    return {
      ...base,
      origin: 'operator',
      key: { kind: 'pkcs12', pfx: settings.pfx, passwordFile: settings.passwordFile },
    };
  }
  if (settings.cert || settings.key) {
    if (!settings.cert || !settings.key) throw signingError('SIGNING_CERT and SIGNING_KEY go together');
    mustExist(settings.cert, 'SIGNING_CERT');
    mustExist(settings.key, 'SIGNING_KEY');
    if (settings.passwordFile) mustExist(settings.passwordFile, 'SIGNING_PASSWORD_FILE');
    return {
      ...base,
      origin: 'operator',
      key: { kind: 'pem', cert: settings.cert, key: settings.key, passwordFile: settings.passwordFile },
    };
  }
  if (settings.env === 'production') {
    throw signingError(
      'no code-signing key: set SIGNING_PFX (or SIGNING_CERT and SIGNING_KEY); the test CA is not used in production',
    );
  }
  const ca = await ensureTestCa(settings.testCaDir);
  return {
    ...base,
    origin: 'test-ca',
    key: { kind: 'pem', cert: ca.signerCert, key: ca.signerKey },
    caFile: ca.caCert,
  };
}

export interface TestCa {
  caCert: string;
  signerCert: string;
  signerKey: string;
}

/**
 * A self-signed CA and a code-signing certificate it issued, for development and tests only. Made
 * once with OpenSSL under `dir` (keys 0600); its certificates say "development only" in their names.
 */
export async function ensureTestCa(dir: string): Promise<TestCa> {
  const ca: TestCa = {
    caCert: path.join(dir, 'ca.pem'),
    signerCert: path.join(dir, 'signer.pem'),
    signerKey: path.join(dir, 'signer.key'),
  };
  mkdirSync(path.dirname(dir), { recursive: true });
  await buildIntoPlace(dir, async (work) => {
    mkdirSync(work, { recursive: true, mode: 0o700 });
    const at = (name: string) => path.join(work, name);
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-sha256', '-days', '3650',
      '-keyout', at('ca.key'), '-out', at('ca.pem'),
      '-subj', '/O=Drydock/CN=Drydock Test CA (development only)',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]); // prettier-ignore
    await run('openssl', [
      'req', '-newkey', 'rsa:3072', '-nodes', '-sha256',
      '-keyout', at('signer.key'), '-out', at('signer.csr'),
      '-subj', '/O=Drydock/CN=Drydock Test Code Signing (development only)',
    ]); // prettier-ignore
    writeFileSync(
      at('signer.ext'),
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n',
    );
    await run('openssl', [
      'x509', '-req', '-in', at('signer.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'),
      '-set_serial', '0x01', '-days', '1825', '-sha256', '-extfile', at('signer.ext'), '-out', at('signer.pem'),
    ]); // prettier-ignore
    rmSync(at('signer.csr'));
    rmSync(at('signer.ext'));
  });
  return ca;
}

/**
 * osslsigncode's arguments for this signer. The password stays in its file (`-readpass FILE`),
 * never on a command line.
 */
export function signArguments(signer: Signer, description: string): string[] {
  const args = ['sign', '-h', 'sha256', '-n', description];
  if (signer.key.kind === 'pkcs12') args.push('-pkcs12', signer.key.pfx);
  else args.push('-certs', signer.key.cert, '-key', signer.key.key);
  if (signer.key.passwordFile) args.push('-readpass', signer.key.passwordFile);
  if (signer.timestampUrls.length) for (const url of signer.timestampUrls) args.push('-ts', url);
  else args.push('-time', String(signer.signingTime));
  return args;
}

/** Authenticode-signs `input` (PE or MSI) into `output` with SHA-256. */
export async function sign(
  signer: Signer,
  input: string,
  output: string,
  description: string,
): Promise<void> {
  rmSync(output, { force: true });
  try {
    await run('osslsigncode', [...signArguments(signer, description), '-in', input, '-out', output]);
  } catch (err) {
    throw keyUnreadable(signer, err) ?? err;
  }
}

/**
 * osslsigncode's "Failed to read key or certificates": a wrong password or not a key at all. That
 * is the operator's configuration, not a passing tool failure (which a build retries), so it gets
 * the configuration's code and a sentence naming the files. The password itself is never in it:
 * osslsigncode reads it from its file and does not print it.
 */
function keyUnreadable(signer: Signer, err: unknown): InstallerError | undefined {
  if (!(err instanceof InstallerError) || !/Failed to read key or certificates/.test(err.message))
    return undefined;
  const reason = /^Failed to (parse|extract|decode|read) .*$/m.exec(err.message)?.[0] ?? '';
  const key = signer.key;
  const what =
    key.kind === 'pkcs12'
      ? `the PKCS#12 file SIGNING_PFX (${key.pfx})`
      : `the key SIGNING_KEY (${key.key}) or the certificates SIGNING_CERT (${key.cert})`;
  const password = key.passwordFile
    ? `the password in SIGNING_PASSWORD_FILE (${key.passwordFile}) is wrong, or `
    : 'it needs a password (set SIGNING_PASSWORD_FILE), or ';
  return signingError(
    `osslsigncode cannot open ${what}: ${password}the file is not what it should be${reason ? ` (${reason})` : ''}`,
  );
}

export interface Verification {
  ok: boolean;
  signer: string | null;
  output: string;
}

/** `osslsigncode verify` against `caFile` (the test CA, or the operator's issuing chain). */
export async function verify(file: string, caFile: string): Promise<Verification> {
  try {
    const output = await run('osslsigncode', ['verify', '-CAfile', caFile, '-in', file]);
    const signer = /Subject: (.+)/.exec(output)?.[1]?.trim() ?? null;
    return { ok: /Signature verification: ok/.test(output), signer, output };
  } catch (err) {
    return { ok: false, signer: null, output: (err as Error).message };
  }
}

/** Signs, then verifies when a CA is known (the test CA): a build never hands out a bad signature. */
export async function signAndCheck(signer: Signer, input: string, output: string, description: string) {
  await sign(signer, input, output, description);
  if (signer.caFile) {
    const result = await verify(output, signer.caFile);
    if (!result.ok) {
      throw new InstallerError(
        InstallerErrorCode.SignatureInvalid,
        `${path.basename(output)} does not verify after signing:\n${result.output.slice(-2000)}`,
      );
    }
  }
}

function mustExist(file: string, variable: string): void {
  if (!existsSync(file)) throw signingError(`${variable}: ${file} does not exist`);
}

function signingError(message: string): InstallerError {
  return new InstallerError(InstallerErrorCode.SigningNotConfigured, message);
}
