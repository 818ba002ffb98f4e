import tls from 'node:tls';
import { Agent, ProxyAgent, type Dispatcher } from 'undici';

/**
 * How the agent's downloads reach the internet on a managed Windows machine, as Windows' own
 * services do when they run as SYSTEM: through the machine's WinHTTP proxy (`netsh winhttp set
 * proxy`, Group Policy, the Intune/MDM proxy setting) and trusting the certificates in the Windows
 * certificate store (an enterprise root that a TLS-inspecting proxy re-signs with). Node's fetch
 * knows neither by itself: the proxy is read through WinHTTP's documented API and applied per
 * request with undici's ProxyAgent; the store is Node's `tls.getCACertificates('system')`.
 * What WinHTTP does not store (WPAD and PAC scripts, per-user Internet Options) is not followed.
 */

/**
 * WinHttpGetDefaultProxyConfiguration (winhttp.dll; Microsoft Learn, WINHTTP_PROXY_INFO): the
 * machine's default WinHTTP proxy. The strings WinHTTP allocates are freed with GlobalFree, as
 * the documentation asks.
 */
export const WINHTTP_PROXY = String.raw`Add-Type -Namespace Drydock -Name WinHttpProxy -MemberDefinition @'
[StructLayout(LayoutKind.Sequential)]
public struct ProxyInfo { public uint AccessType; public IntPtr Proxy; public IntPtr Bypass; }
[DllImport("winhttp.dll", SetLastError = true)] public static extern bool WinHttpGetDefaultProxyConfiguration(ref ProxyInfo info);
[DllImport("kernel32.dll")] public static extern IntPtr GlobalFree(IntPtr mem);
public static string[] Get() {
  ProxyInfo info = new ProxyInfo();
  if (!WinHttpGetDefaultProxyConfiguration(ref info)) throw new System.ComponentModel.Win32Exception();
  try {
    return new string[] { info.AccessType.ToString(), Marshal.PtrToStringUni(info.Proxy), Marshal.PtrToStringUni(info.Bypass) };
  } finally {
    if (info.Proxy != IntPtr.Zero) GlobalFree(info.Proxy);
    if (info.Bypass != IntPtr.Zero) GlobalFree(info.Bypass);
  }
}
'@
$proxy = [Drydock.WinHttpProxy]::Get()
[pscustomobject]@{ accessType = [int]$proxy[0]; proxy = $proxy[1]; bypass = $proxy[2] }`;

/** WINHTTP_ACCESS_TYPE_NAMED_PROXY: "Internet accessed using a proxy". */
const NAMED_PROXY = 3;

export interface SystemProxy {
  /** `scheme` null: the proxy for every scheme without one of its own. */
  proxies: { scheme: string | null; url: string }[];
  bypass: string[];
}

/**
 * The proxy list and bypass list as WINHTTP_PROXY_INFO documents them: entries
 * `([<scheme>=][<scheme>"://"]<server>[":"<port>])` separated by semicolons or whitespace; the
 * bypass list likewise, with `<local>` for every name without a period. Null: direct.
 */
export function parseWinHttpProxy(raw: {
  accessType?: unknown;
  proxy?: unknown;
  bypass?: unknown;
}): SystemProxy | null {
  if (raw.accessType !== NAMED_PROXY || typeof raw.proxy !== 'string' || raw.proxy.trim() === '') return null;
  const proxies: SystemProxy['proxies'] = [];
  for (const entry of raw.proxy.split(/[;\s]+/).filter(Boolean)) {
    const m =
      /^(?:([A-Za-z][A-Za-z0-9+.-]*)=)?(?:([A-Za-z]+):\/\/)?(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+)(?::(\d{1,5}))?\/?$/.exec(
        entry,
      );
    if (!m)
      throw new Error(
        `the WinHTTP proxy entry ${JSON.stringify(entry)} is not [scheme=][scheme://]server[:port]`,
      );
    const via = (m[2] ?? 'http').toLowerCase();
    // WinHTTP has no SOCKS (`socks=host:port`, `socks://`): such an entry is ignored, as it does.
    if (m[1]?.toLowerCase() === 'socks' || (via !== 'http' && via !== 'https')) continue;
    const port = m[4] ?? (via === 'https' ? '443' : '80');
    if (Number(port) < 1 || Number(port) > 65535)
      throw new Error(`the WinHTTP proxy port ${port} is not a port`);
    proxies.push({ scheme: m[1]?.toLowerCase() ?? null, url: `${via}://${m[3]}:${port}` });
  }
  if (proxies.length === 0) return null;
  const bypass = typeof raw.bypass === 'string' ? raw.bypass.split(/[;\s]+/).filter(Boolean) : [];
  return { proxies, bypass };
}

/** Whether a host (and port) is on the bypass list: `<local>`, or a name pattern with `*` wildcards. */
export function bypassed(target: URL, bypass: readonly string[]): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return bypass.some((raw) => {
    const pattern = raw.toLowerCase();
    if (pattern === '<local>') return !host.includes('.') && !host.includes(':');
    const m = /^(?:[a-z]+:\/\/)?(\[[^\]]+\]|[^:]+)(?::(\d+|\*))?$/.exec(pattern);
    if (!m) return false;
    if (m[2] && m[2] !== '*' && m[2] !== port) return false;
    const glob = m[1]!.replace(/^\[|\]$/g, '');
    const re = new RegExp(
      `^${glob
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    return re.test(host);
  });
}

/** The proxy a URL goes through (WinHTTP's choice: its scheme's entry, else the entry without one), or null. */
export function proxyFor(target: URL, system: SystemProxy | null): string | null {
  if (!system || bypassed(target, system.bypass)) return null;
  const scheme = target.protocol.replace(/:$/, '');
  return (
    system.proxies.find((p) => p.scheme === scheme)?.url ??
    system.proxies.find((p) => p.scheme === null)?.url ??
    null
  );
}

/** The certificates Node trusts by default (its bundle, NODE_EXTRA_CA_CERTS) and those of the Windows store. */
export function systemTrust(): string[] {
  return [...new Set([...tls.getCACertificates('default'), ...tls.getCACertificates('system')])];
}

/**
 * The connections of one download: direct or through the WinHTTP proxy, decided per request (a
 * redirect to a bypassed host goes direct), each trusting `ca`. TLS to the server is end to end
 * through the proxy's CONNECT tunnel; a TLS-inspecting proxy is trusted only if its root is in `ca`.
 */
export class DownloadNetwork {
  private readonly direct: Agent;
  private readonly viaProxy = new Map<string, ProxyAgent>();

  constructor(
    readonly proxy: SystemProxy | null,
    private readonly ca: string[],
  ) {
    this.direct = new Agent({ connect: { ca } });
  }

  /** The dispatcher for a URL, and how it goes (for error messages: proxy host only, never a URL's query). */
  route(target: URL): { dispatcher: Dispatcher; via: string } {
    const proxy = proxyFor(target, this.proxy);
    if (!proxy) return { dispatcher: this.direct, via: 'direct' };
    let agent = this.viaProxy.get(proxy);
    if (!agent) {
      agent = new ProxyAgent({ uri: proxy, requestTls: { ca: this.ca }, proxyTls: { ca: this.ca } });
      this.viaProxy.set(proxy, agent);
    }
    return { dispatcher: agent, via: `through the WinHTTP proxy ${new URL(proxy).host}` };
  }

  async close(): Promise<void> {
    await Promise.all([this.direct.close(), ...[...this.viaProxy.values()].map((a) => a.close())]);
  }
}
