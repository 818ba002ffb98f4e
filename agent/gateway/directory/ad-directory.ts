import { createHash } from 'node:crypto';
import tls, { type PeerCertificate } from 'node:tls';
import { Client, InvalidCredentialsError } from 'ldapts';

/**
 * Active Directory over LDAP for the site gateway (ADR 0028): a simple bind over LDAPS (636) or
 * StartTLS (389) — a signing-enforcing DC refuses plain simple binds — with the DC's certificate
 * validated against the system's or a private CA, optionally pinned; then a paged search of every
 * computer. The password is used for the bind only and appears in no error or log line.
 */

export interface DirectoryEndpoint {
  /** The DC's host name (as its certificate names it) or address. */
  host: string;
  /**
   * The address to connect to, when the gateway's own resolver may not know `host` (discovery
   * found it in the domain's DNS); the certificate is still checked against `host`.
   */
  address?: string;
  port?: number;
  security: 'ldaps' | 'starttls';
  /** PEM of the private CA that issued the DC's certificate. */
  caPem?: string;
  /** SHA-256 of the DC's certificate (hex, colons allowed): accept only that certificate. */
  pinSha256?: string;
  timeoutMs?: number;
}

export interface DirectoryCredential {
  /** "user@domain", "DOMAIN\user" or a bare name (then "@domain" is added). */
  user: string;
  password: string;
}

export type ComputerRole = 'domain-controller' | 'server' | 'workstation';

export interface DirectoryComputer {
  objectGuid: string;
  name: string;
  dnsHostName: string | null;
  operatingSystem: string | null;
  operatingSystemVersion: string | null;
  distinguishedName: string;
  /** The DN of the container or OU holding it. */
  ou: string;
  enabled: boolean;
  /** lastLogonTimestamp as ISO 8601 (replicated, so up to ~14 days behind), or null if never. */
  lastLogonAt: string | null;
  role: ComputerRole;
}

export type DirectoryFailureKind = 'auth' | 'tls' | 'network' | 'timeout' | 'protocol';

export class DirectoryError extends Error {
  constructor(
    readonly kind: DirectoryFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'DirectoryError';
  }
}

const UF_ACCOUNTDISABLE = 0x2;
const UF_SERVER_TRUST_ACCOUNT = 0x2000;
const RODC_PRIMARY_GROUP = '521';
const DC_PRIMARY_GROUP = '516';

/** A binary objectGUID in its usual string form (the first three groups are little-endian). */
export function guidToString(b: Buffer): string {
  if (b.length !== 16) throw new DirectoryError('protocol', 'objectGUID is not 16 bytes');
  const h = (from: number, to: number, reverse: boolean) => {
    const part = Buffer.from(b.subarray(from, to));
    return (reverse ? part.reverse() : part).toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`;
}

/** Windows FILETIME (100 ns intervals since 1601) as ISO 8601; 0 or absent means never. */
export function fileTimeToIso(value: string | undefined): string | null {
  if (!value || value === '0') return null;
  const ms = Number(BigInt(value) / 10_000n - 11_644_473_600_000n);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}

export function computerRole(uac: number, primaryGroupId: string, os: string | null): ComputerRole {
  if (
    uac & UF_SERVER_TRUST_ACCOUNT ||
    primaryGroupId === DC_PRIMARY_GROUP ||
    primaryGroupId === RODC_PRIMARY_GROUP
  ) {
    return 'domain-controller';
  }
  return os && /server/i.test(os) ? 'server' : 'workstation';
}

/** The bind name AD accepts for a simple bind: a UPN, DOMAIN\user, or the name at the domain. */
export function bindName(user: string, domain: string): string {
  return user.includes('@') || user.includes('\\') || user.includes('=') ? user : `${user}@${domain}`;
}

/** The DN of a domain's naming context: drydock.test → DC=drydock,DC=test. */
export const domainBaseDn = (domain: string): string =>
  domain
    .split('.')
    .filter(Boolean)
    .map((p) => `DC=${p}`)
    .join(',');

const first = (v: unknown): string | undefined => {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : Buffer.isBuffer(x) ? x.toString('utf8') : String(x);
};

const hostForUrl = (host: string) => (host.includes(':') ? `[${host}]` : host);

function tlsOptions(endpoint: DirectoryEndpoint): tls.ConnectionOptions {
  const pin = endpoint.pinSha256?.replace(/:/g, '').toLowerCase();
  return {
    ca: endpoint.caPem,
    servername: /^[\d.]+$|:/.test(endpoint.host) ? undefined : endpoint.host,
    minVersion: 'TLSv1.2',
    // StartTLS upgrades a socket tls.connect does not know the host of: name it for the check.
    // Not for LDAPS: an options.host overrides the host tls.connect is given (the address to reach).
    ...(endpoint.security === 'starttls' ? { host: endpoint.host } : {}),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const host = endpoint.host;
      const err = tls.checkServerIdentity(host, cert);
      if (err) return err;
      if (pin && createHash('sha256').update(cert.raw).digest('hex') !== pin) {
        const mismatch = new Error(`the certificate of ${host} does not match the pinned SHA-256`);
        (mismatch as NodeJS.ErrnoException).code = 'PIN_MISMATCH';
        return mismatch;
      }
      return undefined;
    },
  };
}

export function classifyDirectoryError(err: unknown, peer: string): DirectoryError {
  if (err instanceof DirectoryError) return err;
  if (err instanceof InvalidCredentialsError) {
    return new DirectoryError(
      'auth',
      `the domain controller ${peer} refused the credential (invalid user name or password)`,
    );
  }
  const e = err as NodeJS.ErrnoException & { code?: string | number };
  const code = String(e?.code ?? '');
  const message = e?.message ?? String(err);
  if (
    /^(CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_TLS_|ERR_SSL_)|PIN_MISMATCH/.test(code) ||
    /certificate|altnames/i.test(message)
  ) {
    return new DirectoryError('tls', `TLS to ${peer} failed: ${code || message}`);
  }
  if (code === 'ETIMEDOUT' || /timeout|timed out/i.test(message))
    return new DirectoryError('timeout', `${peer} did not answer in time`);
  if (/^E[A-Z]+$/.test(code)) return new DirectoryError('network', `${peer} is unreachable: ${code}`);
  // Strong-auth refusals ("Strong(er) authentication required") and other LDAP result codes.
  if (/strong|confidentiality/i.test(message)) {
    return new DirectoryError('tls', `${peer} requires a protected connection for a simple bind: ${message}`);
  }
  return new DirectoryError('protocol', `LDAP with ${peer}: ${message}`);
}

async function connect(
  endpoint: DirectoryEndpoint,
  credential: DirectoryCredential,
  domain: string,
): Promise<Client> {
  const port = endpoint.port ?? (endpoint.security === 'ldaps' ? 636 : 389);
  const options = tlsOptions(endpoint);
  const client = new Client({
    url: `${endpoint.security === 'ldaps' ? 'ldaps' : 'ldap'}://${hostForUrl(endpoint.address ?? endpoint.host)}:${port}`,
    tlsOptions: endpoint.security === 'ldaps' ? options : undefined,
    timeout: endpoint.timeoutMs ?? 30_000,
    connectTimeout: endpoint.timeoutMs ?? 10_000,
  });
  const peer = `${endpoint.host}:${port}`;
  try {
    if (endpoint.security === 'starttls') await client.startTLS(options);
    if (!credential.password)
      throw new DirectoryError('auth', 'an empty password would be an anonymous bind');
    await client.bind(bindName(credential.user, domain), credential.password);
    return client;
  } catch (err) {
    await client.unbind().catch(() => undefined);
    throw classifyDirectoryError(err, peer);
  }
}

/** Binds with the credential and unbinds: how a credential is tested before it is accepted. */
export async function testBind(
  endpoint: DirectoryEndpoint,
  credential: DirectoryCredential,
  domain: string,
): Promise<void> {
  const client = await connect(endpoint, credential, domain);
  await client.unbind().catch(() => undefined);
}

export interface EnumerateOptions {
  pageSize?: number;
  /** Called after each page (the activity heartbeats here). */
  onPage?: (page: { index: number; entries: number; total: number }) => void | Promise<void>;
}

/** Every computer object of the domain, page by page. */
export async function enumerateComputers(
  endpoint: DirectoryEndpoint,
  credential: DirectoryCredential,
  domain: string,
  options: EnumerateOptions = {},
): Promise<{ computers: DirectoryComputer[]; pages: number }> {
  const client = await connect(endpoint, credential, domain);
  const peer = `${endpoint.host}`;
  try {
    const computers: DirectoryComputer[] = [];
    let pages = 0;
    const search = client.searchPaginated(domainBaseDn(domain), {
      scope: 'sub',
      filter: '(objectCategory=computer)',
      attributes: [
        'cn',
        'dNSHostName',
        'operatingSystem',
        'operatingSystemVersion',
        'objectGUID',
        'userAccountControl',
        'lastLogonTimestamp',
        'primaryGroupID',
      ],
      explicitBufferAttributes: ['objectGUID'],
      paged: { pageSize: options.pageSize ?? 500 },
    });
    for await (const page of search) {
      for (const entry of page.searchEntries) {
        const guid = entry.objectGUID;
        if (!Buffer.isBuffer(guid) && !Array.isArray(guid)) continue;
        const uac = Number(first(entry.userAccountControl) ?? 0);
        const os = first(entry.operatingSystem) ?? null;
        const dn = entry.dn;
        computers.push({
          objectGuid: guidToString(Buffer.isBuffer(guid) ? guid : (guid[0] as Buffer)),
          name: first(entry.cn) ?? dn,
          dnsHostName: first(entry.dNSHostName)?.toLowerCase() ?? null,
          operatingSystem: os,
          operatingSystemVersion: first(entry.operatingSystemVersion) ?? null,
          distinguishedName: dn,
          ou: dn.slice(dn.indexOf(',') + 1),
          enabled: !(uac & UF_ACCOUNTDISABLE),
          lastLogonAt: fileTimeToIso(first(entry.lastLogonTimestamp)),
          role: computerRole(uac, first(entry.primaryGroupID) ?? '', os),
        });
      }
      pages++;
      await options.onPage?.({ index: pages, entries: page.searchEntries.length, total: computers.length });
    }
    return { computers, pages };
  } catch (err) {
    throw classifyDirectoryError(err, peer);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}
