import { createHash } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import tls from 'node:tls';
import { Client } from 'ldapts';
import { resolve4, resolveSrv } from './dns-query';

/**
 * Finds the Active Directory domain a site gateway sits in from DNS alone (ADR 0028): for each of
 * the gateway's DNS search suffixes (and their parents) ask its resolvers for
 * `_ldap._tcp.dc._msdcs.<suffix>`; the first answer names the domain and its DCs. Then, without any
 * credential: the DCs' Kerberos SRV records, the DC's RootDSE over plain LDAP (public by design:
 * naming context, the DC's AD site) and its LDAPS certificate's fingerprint, which the operator
 * confirms (or pins) when entering the domain credential.
 */

export interface DomainController {
  host: string;
  port: number;
  priority: number;
  weight: number;
  addresses: string[];
}

export interface DiscoveredDomain {
  domain: string;
  baseDn: string | null;
  site: string | null;
  domainControllers: DomainController[];
  kerberos: { host: string; port: number }[];
  /** The LDAPS certificate of the first DC, as presented (not yet trusted). */
  certificate: { sha256: string; subject: string; issuer: string; validTo: string } | null;
  /** Which suffixes were tried, in order: the history shows why a domain was (not) found. */
  tried: string[];
}

export interface DiscoveryOptions {
  /** DNS servers; default: the gateway's own (`/etc/resolv.conf`, or Windows' adapters). */
  resolvers?: string[];
  /** DNS search suffixes; default: `search`/`domain` of `/etc/resolv.conf` and the host's own domain. */
  searchSuffixes?: string[];
  timeoutMs?: number;
}

/** The search suffixes a resolver would use: resolv.conf's `search` and `domain`, then the FQDN's domain. */
export function systemSearchSuffixes(resolvConf = '/etc/resolv.conf'): string[] {
  const suffixes: string[] = [];
  try {
    for (const line of readFileSync(resolvConf, 'utf8').split('\n')) {
      const [key, ...values] = line.trim().split(/\s+/);
      if (key === 'search' || key === 'domain') suffixes.push(...values);
    }
  } catch {
    // No resolv.conf (Windows): the host name's domain below is all we have.
  }
  const host = os.hostname();
  if (host.includes('.')) suffixes.push(host.slice(host.indexOf('.') + 1));
  return suffixes;
}

/** A suffix and its parents down to two labels: branch.corp.example.com → …, corp.example.com, example.com. */
export function candidateDomains(suffixes: string[]): string[] {
  const out: string[] = [];
  for (const raw of suffixes) {
    const labels = raw.toLowerCase().replace(/\.$/, '').split('.').filter(Boolean);
    for (let i = 0; labels.length - i >= 2; i++) {
      const candidate = labels.slice(i).join('.');
      if (!out.includes(candidate)) out.push(candidate);
    }
  }
  return out;
}

/** The AD site from a DC's serverName: CN=DC1,CN=Servers,CN=<site>,CN=Sites,CN=Configuration,… */
export function siteFromServerName(serverName: string | undefined): string | null {
  const match = /^CN=[^,]+,CN=Servers,CN=([^,]+),CN=Sites,/i.exec(serverName ?? '');
  return match?.[1] ?? null;
}

async function readRootDse(
  address: string,
  timeoutMs: number,
): Promise<{ baseDn: string | null; site: string | null }> {
  const client = new Client({ url: `ldap://${address}:389`, timeout: timeoutMs, connectTimeout: timeoutMs });
  try {
    const { searchEntries } = await client.search('', {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['defaultNamingContext', 'serverName', 'dnsHostName'],
    });
    const entry: Record<string, unknown> = searchEntries[0] ?? {};
    const str = (v: unknown) => (Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v));
    return {
      baseDn: str(entry.defaultNamingContext) ?? null,
      site: siteFromServerName(str(entry.serverName)),
    };
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

function presentedCertificate(
  address: string,
  servername: string,
  timeoutMs: number,
): Promise<DiscoveredDomain['certificate']> {
  return new Promise((resolve) => {
    // Only looks: no credential is sent on this connection.
    const socket = tls.connect(
      { host: address, port: 636, servername, rejectUnauthorized: false, timeout: timeoutMs },
      () => {
        const cert = socket.getPeerCertificate();
        socket.destroy();
        resolve(
          cert?.raw
            ? {
                sha256: createHash('sha256').update(cert.raw).digest('hex'),
                subject: String(cert.subject?.CN ?? ''),
                issuer: String(cert.issuer?.CN ?? ''),
                validTo: new Date(cert.valid_to).toISOString(),
              }
            : null,
        );
      },
    );
    socket.on('error', () => resolve(null));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(null);
    });
  });
}

export async function discoverDomain(options: DiscoveryOptions = {}): Promise<DiscoveredDomain | null> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const servers = options.resolvers ?? dns.getServers();
  const tried: string[] = [];
  for (const candidate of candidateDomains(options.searchSuffixes ?? systemSearchSuffixes())) {
    tried.push(candidate);
    const srv = await resolveSrv(servers, `_ldap._tcp.dc._msdcs.${candidate}`, timeoutMs).catch(() => []);
    if (srv.length === 0) continue;
    const sorted = [...srv].sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    const domainControllers: DomainController[] = [];
    for (const s of sorted) {
      const addresses = await resolve4(servers, s.name, timeoutMs).catch(() => [] as string[]);
      domainControllers.push({
        host: s.name.toLowerCase(),
        port: s.port,
        priority: s.priority,
        weight: s.weight,
        addresses,
      });
    }
    const kerberos = (
      await resolveSrv(servers, `_kerberos._tcp.${candidate}`, timeoutMs).catch(() => [])
    ).map((k) => ({
      host: k.name.toLowerCase(),
      port: k.port,
    }));
    const firstDc = domainControllers.find((dc) => dc.addresses.length > 0);
    let rootDse: { baseDn: string | null; site: string | null } = { baseDn: null, site: null };
    let certificate: DiscoveredDomain['certificate'] = null;
    if (firstDc) {
      rootDse = await readRootDse(firstDc.addresses[0]!, timeoutMs).catch(() => rootDse);
      certificate = await presentedCertificate(firstDc.addresses[0]!, firstDc.host, timeoutMs);
    }
    return { domain: candidate, ...rootDse, domainControllers, kerberos, certificate, tried };
  }
  return null;
}
