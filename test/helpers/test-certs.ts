import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCert {
  key: string;
  cert: string;
  certPath: string;
  sha256: string;
}

/** A self-signed certificate for 127.0.0.1 and the given names, made by Debian's openssl. */
export function selfSignedCert(commonName: string, altNames: string[] = []): TestCert {
  const dir = mkdtempSync(path.join(tmpdir(), 'drydock-cert-'));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  const san = ['IP:127.0.0.1', `DNS:${commonName}`, ...altNames.map((n) => `DNS:${n}`)].join(',');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '2',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      `subjectAltName=${san}`,
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(certPath, 'utf8');
  const sha256 = createHash('sha256').update(new X509Certificate(cert).raw).digest('hex');
  return { key: readFileSync(keyPath, 'utf8'), cert, certPath, sha256 };
}
