import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WinRmError } from '../../agent/gateway/winrm/transport';
import { WinRmClient } from '../../agent/gateway/winrm/winrm-client';
import { selfSignedCert, type TestCert } from '../helpers/test-certs';
import { WsManTestServer } from '../helpers/wsman-test-server';

/**
 * The test WS-Man server is checked against Debian's python3-winrm (NTLM with message encryption
 * over HTTP, Basic over HTTPS), then our own client runs against the same server.
 */

const run = promisify(execFile);
// Debian's interpreter, where apt puts python3-winrm (a pyenv `python3` may come first on PATH).
const PYTHON = '/usr/bin/python3';
const PYWINRM = path.join(__dirname, '../helpers/pywinrm-run.py');
const hasPywinrm = existsSync('/usr/lib/python3/dist-packages/winrm/__init__.py');

const USER = 'DRYDOCK\\deployer';
const PASSWORD = 'Tr1cky&<pass>"word';

interface PyResult {
  ok: boolean;
  error?: string;
  results?: { stdout: string; stderr: string; code: number }[];
}

async function pywinrm(spec: Record<string, unknown>): Promise<PyResult> {
  const { stdout } = await run(PYTHON, [PYWINRM, JSON.stringify(spec)], {
    timeout: 60_000,
    env: { ...process.env, OPENSSL_CONF: path.join(__dirname, '../helpers/openssl-legacy.cnf') },
  });
  return JSON.parse(stdout) as PyResult;
}

let server: WsManTestServer;
let cert: TestCert;

beforeAll(async () => {
  cert = selfSignedCert('win-simulated.drydock.test');
  server = await new WsManTestServer({
    users: { [USER]: PASSWORD },
    computer: 'WIN-SIMULATED',
    receiveHoldMs: 300,
    tls: { key: cert.key, cert: cert.cert },
    powershell: async (script, io) => {
      io.stdout(`ps:${script.trim()}\r\n`);
      return script.includes('exit 7') ? 7 : 0;
    },
  }).start();
});

afterAll(async () => {
  await server?.stop();
});

(hasPywinrm ? describe : describe.skip)('the test WS-Man server, as python3-winrm sees it', () => {
  it('authenticates NTLM with message encryption over HTTP and runs commands and PowerShell', async () => {
    const before = server.authentications.length;
    const result = await pywinrm({
      url: `http://127.0.0.1:${server.httpPort}/wsman`,
      transport: 'ntlm',
      encryption: 'always',
      user: USER,
      password: PASSWORD,
      steps: [
        { cmd: 'hostname' },
        { cmd: 'whoami' },
        { cmd: 'cmd', args: ['/c', 'exit', '3'] },
        { ps: 'Get-Service DrydockAgent' },
        { cmd: 'nonsense' },
      ],
    });
    expect(result.ok).toBe(true);
    const [host, who, exit3, ps, bad] = result.results!;
    expect(host).toEqual({ stdout: 'WIN-SIMULATED\r\n', stderr: '', code: 0 });
    expect(who!.stdout).toBe('drydock\\deployer\r\n');
    expect(exit3!.code).toBe(3);
    expect(ps!.stdout).toBe('ps:Get-Service DrydockAgent\r\n');
    expect(bad!.code).toBe(9009);
    expect(bad!.stderr).toMatch(/not recognized/);
    expect(server.authentications.slice(before)).toEqual([{ scheme: 'ntlm', user: USER, transport: 'http' }]);
    expect(server.commands.filter((c) => c.transport === 'http-encrypted').map((c) => c.command)).toEqual(
      expect.arrayContaining(['hostname', 'whoami', 'cmd', 'powershell', 'nonsense']),
    );
  });

  it('authenticates Basic over HTTPS (validating the listener certificate)', async () => {
    const before = server.authentications.length;
    const result = await pywinrm({
      url: `https://127.0.0.1:${server.httpsPort}/wsman`,
      transport: 'basic',
      ca: cert.certPath,
      user: USER,
      password: PASSWORD,
      steps: [{ cmd: 'echo', args: ['over', 'https'] }],
    });
    expect(result).toEqual({ ok: true, results: [{ stdout: 'over https\r\n', stderr: '', code: 0 }] });
    expect(
      server.authentications.slice(before).every((a) => a.scheme === 'basic' && a.transport === 'https'),
    ).toBe(true);
  });

  it('refuses a wrong password, and Basic or unencrypted SOAP over HTTP', async () => {
    const wrong = await pywinrm({
      url: `http://127.0.0.1:${server.httpPort}/wsman`,
      transport: 'ntlm',
      encryption: 'always',
      user: USER,
      password: 'not-it',
      steps: [{ cmd: 'hostname' }],
    });
    expect(wrong).toMatchObject({ ok: false, error: 'credentials' });
    const basicHttp = await pywinrm({
      url: `http://127.0.0.1:${server.httpPort}/wsman`,
      transport: 'basic',
      user: USER,
      password: PASSWORD,
      steps: [{ cmd: 'hostname' }],
    });
    expect(basicHttp).toMatchObject({ ok: false, error: 'credentials' });
    const plain = await pywinrm({
      url: `http://127.0.0.1:${server.httpPort}/wsman`,
      transport: 'ntlm',
      encryption: 'never',
      user: USER,
      password: PASSWORD,
      steps: [{ cmd: 'hostname' }],
    });
    expect(plain).toMatchObject({ ok: false, error: 'credentials' });
  });
});

describe('our WinRM client against the test WS-Man server', () => {
  const ntlmHttp = () =>
    new WinRmClient(
      {
        host: '127.0.0.1',
        port: server.httpPort,
        https: false,
        auth: { kind: 'ntlm', user: 'deployer', domain: 'DRYDOCK', password: PASSWORD },
      },
      { operationTimeoutSeconds: 1 },
    );

  it('runs commands and PowerShell over HTTP with NTLM message encryption, decoding output and exit codes', async () => {
    const client = ntlmHttp();
    try {
      expect(await client.run('hostname')).toEqual({ stdout: 'WIN-SIMULATED\r\n', stderr: '', exitCode: 0 });
      expect((await client.run('cmd', ['/c', 'exit', '5'])).exitCode).toBe(5);
      const ps = await client.runPowerShell("Write-Output 'héllo <&>'; exit 7");
      expect(ps).toEqual({ stdout: "ps:Write-Output 'héllo <&>'; exit 7\r\n", stderr: '', exitCode: 7 });
      const last = server.commands.at(-1)!;
      expect(last).toMatchObject({ command: 'powershell.exe', transport: 'http-encrypted', user: USER });
      expect(last.args.slice(0, 4)).toEqual(['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass']);
    } finally {
      client.close();
    }
  });

  it('heartbeats while a long command runs (Receive timeouts are retried), and stops it on timeout', async () => {
    const client = ntlmHttp();
    try {
      const beats: number[] = [];
      const result = await client.run('timeout', ['/t', '2'], {
        heartbeat: (p) => void beats.push(p.elapsedMs),
      });
      expect(result.stdout).toBe('done waiting\r\n');
      expect(beats.length).toBeGreaterThanOrEqual(3);

      const started = Date.now();
      const err = await client.run('timeout', ['/t', '30'], { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WinRmError);
      expect((err as WinRmError).kind).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      client.close();
    }
  });

  it('a heartbeat that throws (the activity was cancelled) terminates the command and deletes the shell', async () => {
    const client = ntlmHttp();
    try {
      const before = server.commands.length;
      const err = await client
        .run('timeout', ['/t', '30'], {
          heartbeat: () => {
            throw new Error('activity cancelled');
          },
        })
        .catch((e: Error) => e);
      expect((err as Error).message).toBe('activity cancelled');
      expect(server.commands.length).toBe(before + 1);
      expect(server.openShells()).toBe(0);
    } finally {
      client.close();
    }
  });

  it('authenticates again when the listener drops the connection', async () => {
    const client = ntlmHttp();
    try {
      await client.run('hostname');
      const before = server.authentications.length;
      server.dropConnections();
      expect((await client.run('whoami')).stdout).toBe('drydock\\deployer\r\n');
      expect(server.authentications.length).toBe(before + 1);
    } finally {
      client.close();
    }
  });

  it('speaks Basic and NTLM over HTTPS, with a CA or a pinned certificate', async () => {
    const basic = new WinRmClient({
      host: '127.0.0.1',
      port: server.httpsPort,
      https: true,
      auth: { kind: 'basic', user: USER, password: PASSWORD },
      tls: { ca: cert.cert },
    });
    const ntlm = new WinRmClient({
      host: '127.0.0.1',
      port: server.httpsPort,
      https: true,
      auth: { kind: 'ntlm', user: 'deployer', domain: 'DRYDOCK', password: PASSWORD },
      tls: { ca: cert.cert, pinSha256: cert.sha256 },
    });
    try {
      expect((await basic.run('echo', ['basic'])).stdout).toBe('basic\r\n');
      expect((await ntlm.run('echo', ['ntlm'])).stdout).toBe('ntlm\r\n');
      expect(server.commands.at(-1)).toMatchObject({ transport: 'https', user: USER });
    } finally {
      basic.close();
      ntlm.close();
    }
  });

  it('classifies failures: auth, network, TLS', async () => {
    const kind = (p: Promise<unknown>) =>
      p.then(
        () => 'none',
        (e: unknown) => (e instanceof WinRmError ? e.kind : String(e)),
      );
    const wrong = new WinRmClient({
      host: '127.0.0.1',
      port: server.httpPort,
      https: false,
      auth: { kind: 'ntlm', user: 'deployer', domain: 'DRYDOCK', password: 'wrong' },
    });
    const err = await wrong.run('hostname').catch((e: Error) => e);
    expect((err as WinRmError).kind).toBe('auth');
    expect((err as Error).message).not.toContain('wrong');
    wrong.close();

    const closed = new WinRmClient({
      host: '127.0.0.1',
      port: 1,
      https: false,
      auth: { kind: 'ntlm', user: 'u', domain: 'D', password: 'p' },
    });
    expect(await kind(closed.run('hostname'))).toBe('network');
    closed.close();

    const untrusted = new WinRmClient({
      host: '127.0.0.1',
      port: server.httpsPort,
      https: true,
      auth: { kind: 'basic', user: USER, password: PASSWORD },
    });
    expect(await kind(untrusted.run('hostname'))).toBe('tls');
    untrusted.close();

    const badPin = new WinRmClient({
      host: '127.0.0.1',
      port: server.httpsPort,
      https: true,
      auth: { kind: 'basic', user: USER, password: PASSWORD },
      tls: { ca: cert.cert, pinSha256: '00'.repeat(32) },
    });
    expect(await kind(badPin.run('hostname'))).toBe('tls');
    badPin.close();

    expect(
      () => new WinRmClient({ host: 'h', https: false, auth: { kind: 'basic', user: 'u', password: 'p' } }),
    ).toThrow(/only allowed over HTTPS/);
  });
});
