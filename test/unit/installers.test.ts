import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { readConfig } from '../../agent/config';
import { selfTest } from '../../agent/self-test';
import { openEnrollmentKey, sealEnrollmentKey } from '../../infra/security/sealed-keys';
import { generateKey } from '../../infra/security/keys';
import { checkDownloadLink, downloadPath, DOWNLOAD_LINK_SECONDS } from '../../installer/download-links';
import {
  clampSummaryTimes,
  lockPermissionsIdt,
  patchTablesIdt,
  PRIVATE_SDDL,
  wixSource,
} from '../../installer/msi';
import { nsisScript } from '../../installer/nsis';
import { resolveSigner, signArguments } from '../../installer/signing';
import {
  agentConfigJson,
  installerBaseName,
  validateTarget,
  type SiteInstallerConfig,
} from '../../installer/site-config';
import { InstallerError, InstallerErrorCode, stableUuid } from '../../installer/tools';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-installer-unit-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const site = (over: Partial<SiteInstallerConfig> = {}): SiteInstallerConfig => ({
  apiUrl: 'https://drydock.example.com',
  siteCode: 'BRANCH2',
  enrollmentKey: generateKey('dek').key,
  fingerprint: 'v3 (7F2A)',
  keyVersion: 3,
  ...over,
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof InstallerError ? err.code : `not an InstallerError: ${(err as Error).message}`;
  }
  return undefined;
}

describe('site installer config', () => {
  it('is exactly what the agent reads, and names the file after site and fingerprint', () => {
    const s = site({ labels: { department: 'sales' } });
    const file = path.join(dir, 'agent.json');
    writeFileSync(file, agentConfigJson(s));
    expect(readConfig(file)).toEqual({
      apiUrl: s.apiUrl,
      siteCode: 'BRANCH2',
      enrollmentKey: s.enrollmentKey,
      fingerprint: 'v3 (7F2A)',
      labels: { department: 'sales' },
      stateDir: path.join(dir, 'state'),
    });
    expect(installerBaseName({ kind: 'site', site: s }, '0.1.0')).toBe('Drydock-BRANCH2-v3-7F2A');
    expect(installerBaseName({ kind: 'generic', apiUrl: s.apiUrl }, '0.1.0')).toBe('Drydock-generic-0.1.0');
  });

  it('refuses values that would need escaping or do not belong together', () => {
    const bad = InstallerErrorCode.BadSiteConfig;
    expect(code(() => validateTarget({ kind: 'site', site: site() }))).toBeUndefined();
    expect(code(() => validateTarget({ kind: 'site', site: site({ apiUrl: 'https://x.example/"$' }) }))).toBe(
      bad,
    );
    expect(code(() => validateTarget({ kind: 'site', site: site({ apiUrl: 'ftp://x.example' }) }))).toBe(bad);
    expect(code(() => validateTarget({ kind: 'site', site: site({ siteCode: 'branch"2' }) }))).toBe(bad);
    expect(code(() => validateTarget({ kind: 'site', site: site({ enrollmentKey: 'dak_x' }) }))).toBe(bad);
    expect(code(() => validateTarget({ kind: 'site', site: site({ fingerprint: 'v2 (7F2A)' }) }))).toBe(bad);
    expect(code(() => validateTarget({ kind: 'site', site: site({ labels: { Bad: 'x' } }) }))).toBe(bad);
    expect(code(() => validateTarget({ kind: 'generic', apiUrl: 'http://127.0.0.1:3000' }))).toBeUndefined();
    expect(code(() => validateTarget({ kind: 'generic', apiUrl: 'http://10.0.0.5:3000' }))).toBe(bad);
  });

  it('gives the agent config a state folder beside it unless it names one, and refuses broken ones', () => {
    const file = path.join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ apiUrl: 'https://a.example', siteCode: 'ABC' }));
    expect(readConfig(file).stateDir).toBe(path.join(dir, 'state'));
    writeFileSync(file, JSON.stringify({ apiUrl: 'https://a.example', siteCode: 'ABC', labels: { x: 1 } }));
    expect(() => readConfig(file)).toThrow(/label "x" is not a valid label/);
    writeFileSync(file, '[]');
    expect(() => readConfig(file)).toThrow(/not a JSON object/);
  });
});

describe('NSIS script', () => {
  const script = (target: Parameters<typeof nsisScript>[0]['target']) =>
    nsisScript({ target, agentVersion: '0.1.0', outFile: 'out.exe', signUninstaller: '"sign" "%1"' });

  it('lays down agent and service host, secures the folder, registers the service, and signs its uninstaller', () => {
    const text = script({ kind: 'site', site: site() });
    expect(text).toContain('Target amd64-unicode');
    expect(text).toContain('InstallDir "$PROGRAMFILES64\\Drydock"');
    expect(text).toContain('secure-dir "$APPDATA\\Drydock"');
    expect(text).toContain('File "agent.json"');
    expect(text).toContain(`"$INSTDIR\\drydock-service.exe" install'`);
    expect(text).toContain(`"$INSTDIR\\drydock-service.exe" uninstall'`);
    expect(text).toContain(`!uninstfinalize '"sign" "%1"'`);
    expect(text).toContain('!define SITE_CODE "BRANCH2"');
    // The key rides in agent.json inside the signed installer, never in the script text.
    expect(text).not.toMatch(/dek_/);
    // The secure folder is made before the config is written into it.
    expect(text.indexOf('secure-dir')).toBeLessThan(text.indexOf('File "agent.json"'));
  });

  it('makes a generic installer require --site-code and --enroll-key', () => {
    const text = script({ kind: 'generic', apiUrl: 'https://drydock.example.com' });
    expect(text).toContain('This generic installer needs --site-code=CODE and --enroll-key=KEY.');
    expect(text).not.toContain('File "agent.json"');
    expect(text).toContain('configure --config "$APPDATA\\Drydock\\agent.json"');
  });
});

describe('MSI source and patched tables', () => {
  it('registers the service, carries the config only for a site, and keeps the key out of logs', () => {
    const wxs = wixSource({ target: { kind: 'site', site: site() }, agentVersion: '0.1.0' });
    expect(wxs).toContain('<ServiceInstall Id="DrydockAgent" Name="DrydockAgent"');
    expect(wxs).toContain('Account="LocalSystem"');
    expect(wxs).toContain('<File Id="AgentJson" Name="agent.json"');
    expect(wxs).toContain('<Property Id="MsiHiddenProperties" Value="ENROLL_KEY"/>');
    expect(wxs).not.toMatch(/dek_/);
    const generic = wixSource({
      target: { kind: 'generic', apiUrl: 'https://x.example' },
      agentVersion: '0.1.0',
    });
    expect(generic).not.toContain('agent.json" Source');
    expect(generic).toContain('Installed OR (SITE_CODE AND ENROLL_KEY)');
    // Product codes differ per site and key version, and are stable.
    const again = wixSource({ target: { kind: 'site', site: site() }, agentVersion: '0.1.0' });
    expect(again).toBe(wxs);
    expect(
      wixSource({
        target: { kind: 'site', site: site({ keyVersion: 4, fingerprint: 'v4 (0001)' }) },
        agentVersion: '0.1.0',
      }),
    ).not.toBe(wxs);
  });

  it('writes the lock table, the hidden custom action and an inclusive upgrade range', () => {
    expect(lockPermissionsIdt(true)).toContain(`LockAgentJson\tAgentJson\tFile\t${PRIVATE_SDDL}`);
    expect(lockPermissionsIdt(false)).not.toContain('AgentJson');
    const { customAction, upgrade } = patchTablesIdt('0.1.0');
    expect(customAction).toMatch(/WriteSiteConfig\t11282\tServiceExe\t/);
    expect(11282 & 0x2000).toBe(0x2000);
    expect(upgrade).toContain('\t\t0.1.0\t\t513\t\tWIX_UPGRADE_DETECTED');
  });

  it('replaces exactly the two summary times with the build epoch, and refuses a file without them', () => {
    const now = Date.now();
    const filetime = (ms: number) => (BigInt(Math.floor(ms / 1000)) + 11_644_473_600n) * 10_000_000n;
    const buf = Buffer.alloc(64);
    buf.writeUInt32LE(0x40, 4);
    buf.writeBigUInt64LE(filetime(now), 8);
    buf.writeUInt32LE(0x40, 30);
    buf.writeBigUInt64LE(filetime(now), 34);
    const out = clampSummaryTimes(buf, now - 1000, now + 1000, 1_767_225_600);
    expect(out.readBigUInt64LE(8)).toBe(filetime(1_767_225_600_000));
    expect(out.readBigUInt64LE(34)).toBe(filetime(1_767_225_600_000));
    expect(() => clampSummaryTimes(Buffer.alloc(64), now, now, 1)).toThrow(/expected 2 summary times/);
  });

  it('derives name-based UUIDs', () => {
    expect(stableUuid('a', 'b')).toBe(stableUuid('a', 'b'));
    expect(stableUuid('a', 'b')).not.toBe(stableUuid('ab'));
    expect(stableUuid('x')).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
  });
});

describe('signing configuration', () => {
  it('refuses production without a key, and half a PEM pair, with a stable code', async () => {
    const base = { testCaDir: path.join(dir, 'ca'), signingTime: 1 };
    await expect(resolveSigner({ ...base, env: 'production' })).rejects.toMatchObject({
      code: InstallerErrorCode.SigningNotConfigured,
    });
    await expect(resolveSigner({ ...base, env: 'development', cert: '/x.pem' })).rejects.toMatchObject({
      code: InstallerErrorCode.SigningNotConfigured,
    });
    await expect(
      resolveSigner({ ...base, env: 'development', pfx: path.join(dir, 'none.pfx') }),
    ).rejects.toThrow(/SIGNING_PFX: .* does not exist/);
  });

  it('passes the password as a file, never as an argument, and timestamps when told to', async () => {
    const pfx = path.join(dir, 'a.pfx');
    const pass = path.join(dir, 'pass');
    writeFileSync(pfx, 'x');
    writeFileSync(pass, 'hunter2\n');
    const signer = await resolveSigner({
      env: 'production',
      pfx,
      passwordFile: pass,
      timestampUrls: 'http://ts.example/a,http://ts.example/b',
      testCaDir: path.join(dir, 'ca'),
      signingTime: 5,
    });
    const args = signArguments(signer, 'Drydock Agent');
    expect(args).toEqual(
      expect.arrayContaining(['-pkcs12', pfx, '-readpass', pass, '-ts', 'http://ts.example/b']),
    );
    expect(args.join(' ')).not.toContain('hunter2');
    expect(args).not.toContain('-time');
  });
});

describe('sealed enrollment keys and download links', () => {
  const context = { tenantId: 't1', siteId: 's1', version: 2 };

  it('opens only with the same secret and the same tenant, site and version', () => {
    const key = generateKey('dek').key;
    const sealed = sealEnrollmentKey('secret-secret-secret-secret-secret', context, key);
    expect(sealed).not.toContain(key.slice(21));
    expect(openEnrollmentKey('secret-secret-secret-secret-secret', context, sealed)).toBe(key);
    expect(() => openEnrollmentKey('another-secret-another-secret-xx', context, sealed)).toThrow();
    expect(() =>
      openEnrollmentKey('secret-secret-secret-secret-secret', { ...context, version: 3 }, sealed),
    ).toThrow();
    expect(() =>
      openEnrollmentKey('secret-secret-secret-secret-secret', { ...context, siteId: 's2' }, sealed),
    ).toThrow();
  });

  it('signs links for one installer that expire', () => {
    const secret = 'secret-secret-secret-secret-secret';
    const now = Date.now();
    const link = downloadPath(secret, { tenantId: 't1', id: 'i1', fileName: 'Drydock-A-v1-0000.msi' }, now);
    const url = new URL(link.path, 'http://x');
    const [expires, sig] = [url.searchParams.get('expires')!, url.searchParams.get('sig')!];
    expect(link.expiresAt.getTime()).toBe(Number(expires) * 1000);
    expect(checkDownloadLink(secret, 't1', 'i1', expires, sig, now)).toBe('ok');
    expect(checkDownloadLink(secret, 't1', 'i2', expires, sig, now)).toBe('invalid');
    expect(checkDownloadLink(secret, 't2', 'i1', expires, sig, now)).toBe('invalid');
    expect(checkDownloadLink(secret, 't1', 'i1', String(Number(expires) + 1), sig, now)).toBe('invalid');
    expect(
      checkDownloadLink(secret, 't1', 'i1', expires, sig, now + (DOWNLOAD_LINK_SECONDS + 1) * 1000),
    ).toBe('expired');
    expect(checkDownloadLink(secret, 't1', 'i1', undefined, sig, now)).toBe('invalid');
  });
});

describe('agent self-test', () => {
  let server: Server;
  let url: string;
  beforeEach(async () => {
    server = createServer((_req, res) => res.writeHead(503).end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  it('reads the config, writes where the journal lives, reaches the API, and never prints the key', async () => {
    const key = generateKey('dek').key;
    const file = path.join(dir, 'agent.json');
    writeFileSync(file, agentConfigJson(site({ apiUrl: url, enrollmentKey: key })));
    const checks = await selfTest(file);
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['config', true],
      ['journal', true],
      ['api', true],
    ]);
    expect(checks[2]!.detail).toContain('answered 503');
    expect(JSON.stringify(checks)).not.toContain(key);
    expect(checks[0]!.detail).toContain('enrollment key present');
  });

  it('fails the API check when nothing answers, and the journal check when the folder cannot be written', async () => {
    const closed = url;
    await new Promise<void>((r) => server.close(() => r()));
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const file = path.join(dir, 'agent.json');
    const blocker = path.join(dir, 'blocker');
    writeFileSync(blocker, 'a file where a folder should be');
    writeFileSync(
      file,
      JSON.stringify({ apiUrl: closed, siteCode: 'ABC', stateDir: path.join(blocker, 'state') }),
    );
    const checks = await selfTest(file, fetch, 2000);
    expect(checks.find((c) => c.name === 'journal')).toMatchObject({ ok: false });
    expect(checks.find((c) => c.name === 'api')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('ECONNREFUSED'),
    });
    expect(readFileSync(blocker, 'utf8')).toBe('a file where a folder should be');
  });

  it('stops at a missing config', async () => {
    const checks = await selfTest(path.join(dir, 'missing.json'));
    expect(checks).toEqual([
      { name: 'config', ok: false, detail: expect.stringContaining('cannot read agent config') },
    ]);
  });
});
