import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createProxy } from 'proxy';
import {
  bypassed,
  DownloadNetwork,
  parseWinHttpProxy,
  proxyFor,
  systemTrust,
  WINHTTP_PROXY,
} from '../../agent/platform/windows/download-network';
import { downloadToFile, WindowsPlatform } from '../../agent/platform/windows/windows-platform';
import { fakeRunner, json } from '../helpers/powershell';

/**
 * Downloads on a managed network (issue 12): through the machine's WinHTTP proxy, trusting the
 * Windows certificate store. Parsing follows Microsoft Learn (WINHTTP_PROXY_INFO); the transport is
 * checked against a real HTTPS server whose certificate comes from a root made here by OpenSSL and a
 * real forward proxy we did not write (npm `proxy`), both on loopback.
 */
describe('the WinHTTP proxy setting', () => {
  it('reads direct access as no proxy, and the documented list forms', () => {
    expect(parseWinHttpProxy({ accessType: 1, proxy: null, bypass: null })).toBeNull();
    expect(parseWinHttpProxy({ accessType: 3, proxy: '', bypass: '' })).toBeNull();
    expect(parseWinHttpProxy({ accessType: 3, proxy: 'proxy.corp.example:8080', bypass: null })).toEqual({
      proxies: [{ scheme: null, url: 'http://proxy.corp.example:8080' }],
      bypass: [],
    });
    expect(
      parseWinHttpProxy({
        accessType: 3,
        proxy: 'http=web.corp:80;  https=https://secure.corp socks=socks.corp:1080',
        bypass: '<local>; *.corp.example  10.*',
      }),
    ).toEqual({
      proxies: [
        { scheme: 'http', url: 'http://web.corp:80' },
        { scheme: 'https', url: 'https://secure.corp:443' },
      ],
      bypass: ['<local>', '*.corp.example', '10.*'],
    });
    expect(parseWinHttpProxy({ accessType: 3, proxy: '[fd00::1]:3128' })?.proxies).toEqual([
      { scheme: null, url: 'http://[fd00::1]:3128' },
    ]);
    expect(() => parseWinHttpProxy({ accessType: 3, proxy: 'bad/proxy:1:2' })).toThrow(/not \[scheme=\]/);
  });

  it('bypasses <local> names, wildcards and ports as listed, and picks the scheme’s own proxy', () => {
    const list = ['<local>', '*.corp.example', '10.*', 'build.example.com:8443'];
    const is = (url: string) => bypassed(new URL(url), list);
    expect(is('https://intranet/x')).toBe(true);
    expect(is('https://intranet.example.com/x')).toBe(false);
    expect(is('https://files.corp.example/x')).toBe(true);
    expect(is('https://corp.example/x')).toBe(false);
    expect(is('https://10.1.2.3/x')).toBe(true);
    expect(is('https://build.example.com:8443/x')).toBe(true);
    expect(is('https://build.example.com/x')).toBe(false);
    const system = parseWinHttpProxy({ accessType: 3, proxy: 'http=a:81;b:82', bypass: '<local>' });
    expect(proxyFor(new URL('http://dl.example.com/'), system)).toBe('http://a:81');
    expect(proxyFor(new URL('https://dl.example.com/'), system)).toBe('http://b:82');
    expect(proxyFor(new URL('https://intranet/'), system)).toBeNull();
    expect(proxyFor(new URL('https://dl.example.com/'), null)).toBeNull();
  });

  it('is read through WinHttpGetDefaultProxyConfiguration on Windows', async () => {
    const { run, calls } = fakeRunner(() =>
      json({ accessType: 3, proxy: 'proxy.corp:3128', bypass: '<local>' }),
    );
    const network = await new WindowsPlatform({ run }).downloadNetwork();
    expect(calls[0]!.script).toContain(WINHTTP_PROXY);
    expect(WINHTTP_PROXY).toContain('WinHttpGetDefaultProxyConfiguration');
    expect(network.route(new URL('https://dl.example.com/a.msi')).via).toBe(
      'through the WinHTTP proxy proxy.corp:3128',
    );
    expect(network.route(new URL('https://intranet/a.msi')).via).toBe('direct');
    await network.close();
  });
});

describe('downloads through a proxy, trusting a root from the certificate store', () => {
  let dir: string;
  let server: https.Server;
  let proxy: http.Server;
  let ca: string;
  let origin: string;
  let proxyPort: number;
  const tunnels: string[] = [];
  const body = randomBytes(200_000);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-download-network-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    // A private root (as an enterprise's, deployed to the Windows store) and a server certificate from it.
    openssl(
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Drydock Test Root',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ); // prettier-ignore
    openssl(
      'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1',
    ); // prettier-ignore
    writeFileSync(
      path.join(dir, 'ext.cnf'),
      'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
    );
    openssl(
      'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf',
    ); // prettier-ignore
    ca = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    server = https.createServer(
      { key: readFileSync(path.join(dir, 'server.key')), cert: readFileSync(path.join(dir, 'server.pem')) },
      (req, res) => {
        if (req.url === '/moved') {
          res.writeHead(302, { location: '/files/tool.msi' });
          res.end();
        } else res.end(body);
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    proxy = createProxy(http.createServer());
    proxy.on('connect', (req: http.IncomingMessage) => void tunnels.push(String(req.url)));
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyPort = (proxy.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await new Promise((r) => proxy.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => void (tunnels.length = 0));

  const network = (bypass: string, trust: string[]) =>
    new DownloadNetwork(parseWinHttpProxy({ accessType: 3, proxy: `127.0.0.1:${proxyPort}`, bypass }), trust);

  it('goes through the proxy (a CONNECT tunnel) and verifies the server end to end', async () => {
    const net = network('<local>', [...systemTrust(), ca]);
    const out = path.join(dir, 'a');
    const { sha256 } = await downloadToFile(`${origin}/moved`, out, { network: net });
    expect(sha256).toBe(createHash('sha256').update(body).digest('hex'));
    // The redirect's hop went through the proxy too.
    expect(tunnels).toEqual([`127.0.0.1:${new URL(origin).port}`, `127.0.0.1:${new URL(origin).port}`]);
    await net.close();
  });

  it('refuses a server whose root is not trusted, saying how it went', async () => {
    const net = network('', systemTrust());
    await expect(
      downloadToFile(`${origin}/files/tool.msi`, path.join(dir, 'b'), { network: net }),
    ).rejects.toThrow(
      new RegExp(
        `download from 127\\.0\\.0\\.1:\\d+ \\(through the WinHTTP proxy 127\\.0\\.0\\.1:${proxyPort}\\) failed: .*certificate`,
      ),
    );
    await net.close();
  });

  it('goes direct to a host on the bypass list', async () => {
    const net = network('127.0.0.1', [...systemTrust(), ca]);
    await expect(
      downloadToFile(`${origin}/files/tool.msi`, path.join(dir, 'c'), { network: net }),
    ).resolves.toMatchObject({
      sha256: createHash('sha256').update(body).digest('hex'),
    });
    expect(tunnels).toEqual([]);
    await net.close();
  });
});
