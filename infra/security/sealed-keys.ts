import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/**
 * The server's copy of a site's current enrollment key, for building its installers later (ADR
 * 0024): AES-256-GCM under a key derived (HKDF-SHA256) from the server secret, bound to tenant,
 * site and key version as associated data. The database alone cannot open it; only the active
 * version is kept (a rotation erases the old one).
 */
const SEAL_VERSION = 's1';

function derive(serverSecret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, 'drydock', purpose, 32));
}

export interface SealContext {
  tenantId: string;
  siteId: string;
  version: number;
}

const aad = (c: SealContext) => Buffer.from(`enrollment-key:${c.tenantId}:${c.siteId}:v${c.version}`);

export function sealEnrollmentKey(serverSecret: string, context: SealContext, key: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(serverSecret, 'enrollment-key seal v1'), iv);
  cipher.setAAD(aad(context));
  const body = Buffer.concat([cipher.update(key, 'utf8'), cipher.final()]);
  return `${SEAL_VERSION}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
}

/** Opens a sealed key; a wrong secret, a tampered value or another site's row throws. */
export function openEnrollmentKey(serverSecret: string, context: SealContext, sealed: string): string {
  const [version, data] = sealed.split('.');
  if (version !== SEAL_VERSION || !data) throw new Error('not a sealed enrollment key');
  const raw = Buffer.from(data, 'base64url');
  if (raw.length < 12 + 16 + 1) throw new Error('not a sealed enrollment key');
  const decipher = createDecipheriv(
    'aes-256-gcm',
    derive(serverSecret, 'enrollment-key seal v1'),
    raw.subarray(0, 12),
  );
  decipher.setAAD(aad(context));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString(
    'utf8',
  );
}

/** Short-lived download links: HMAC-SHA256 over what the link names, under a key of its own. */
export function signDownload(serverSecret: string, subject: string, expiresAt: number): string {
  return createHmac('sha256', derive(serverSecret, 'installer download v1'))
    .update(`${subject}\n${expiresAt}`)
    .digest('base64url');
}

export function verifyDownload(
  serverSecret: string,
  subject: string,
  expiresAt: number,
  signature: string,
): boolean {
  const expected = Buffer.from(signDownload(serverSecret, subject, expiresAt));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
