import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readConfig } from '../../agent/config';
import { generateKey } from '../../infra/security/keys';
import { compileWindowsProgram, SERVICE_HOST_SOURCE } from '../../installer/build-service-host';
import { repoRoot } from '../../infra/config/env';
import { createWinePrefix, eventually, findWine, type WinePrefix } from '../helpers/wine';

jest.setTimeout(240_000);

/**
 * The service host under Wine's service control manager (Debian wine64). Wine cannot run the
 * Node 24 agent (docs/installers.md), so a small stand-in agent (test/fixtures/service-host/
 * agent-stub.c) takes its place: it records its starts and whether it saw its stdin close.
 * CI installs wine64; without it (a developer machine) these tests cannot run and are skipped.
 */
const describeWine = findWine() ? describe : describe.skip;

let work: string;
let hostExe: string;
let stubExe: string;
beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'drydock-service-host-'));
  hostExe = path.join(work, 'drydock-service.exe');
  stubExe = path.join(work, 'agent-stub.exe');
  await compileWindowsProgram(SERVICE_HOST_SOURCE, hostExe);
  await compileWindowsProgram(path.join(repoRoot, 'test/fixtures/service-host/agent-stub.c'), stubExe);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the service host build', () => {
  it('gives the same bytes for the same source, with no PE time stamp', async () => {
    const again = path.join(work, 'again.exe');
    await compileWindowsProgram(SERVICE_HOST_SOURCE, again);
    const a = readFileSync(hostExe);
    expect(readFileSync(again).equals(a)).toBe(true);
    const pe = a.readUInt32LE(0x3c);
    expect(a.subarray(pe, pe + 4).toString('latin1')).toBe('PE\0\0');
    expect(a.readUInt32LE(pe + 8)).toBe(0); // IMAGE_FILE_HEADER.TimeDateStamp
  });
});

describeWine('the service host under Wine', () => {
  let wine: WinePrefix;
  let programDir: string;
  let dataDir: string;
  const host = 'C:\\Program Files\\Drydock\\drydock-service.exe';
  const log = () => readFileSync(path.join(dataDir, 'logs', 'agent.log'), 'utf8');
  const starts = () =>
    existsSync(path.join(dataDir, 'started.txt'))
      ? readFileSync(path.join(dataDir, 'started.txt'), 'utf8').trim().split('\n').length
      : 0;
  const query = async () => (await wine.run(['sc', 'query', 'DrydockAgent'])).stdout;
  const reset = (mode: string) => {
    for (const f of ['started.txt', 'stopped.txt', 'logs/agent.log'])
      rmSync(path.join(dataDir, f), { force: true });
    writeFileSync(path.join(dataDir, 'agent.json'), `${mode}\n`);
  };

  beforeAll(async () => {
    wine = await createWinePrefix();
    programDir = path.join(wine.driveC, 'Program Files', 'Drydock');
    dataDir = path.join(wine.driveC, 'ProgramData', 'Drydock');
    mkdirSync(programDir, { recursive: true });
    mkdirSync(dataDir, { recursive: true });
    copyFileSync(hostExe, path.join(programDir, 'drydock-service.exe'));
    copyFileSync(stubExe, path.join(programDir, 'drydock-agent.exe'));
    const installed = await wine.run([host, 'install']);
    expect(installed).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('service DrydockAgent installed'),
    });
  });
  afterAll(async () => {
    await wine?.close();
  });

  it('registers an automatic SYSTEM service that runs the host', async () => {
    const reg = (await wine.run(['reg', 'query', 'HKLM\\System\\CurrentControlSet\\Services\\DrydockAgent']))
      .stdout;
    expect(reg).toMatch(/ImagePath\s+REG_SZ\s+"C:\\Program Files\\Drydock\\drydock-service.exe"/);
    expect(reg).toMatch(/ObjectName\s+REG_SZ\s+LocalSystem/);
    expect(reg).toMatch(/Start\s+REG_DWORD\s+0x2/); // SERVICE_AUTO_START
  });

  it('starts the agent beside it with the ProgramData config, and stops it by closing its stdin', async () => {
    reset('run');
    expect(await wine.run([host, 'start'])).toMatchObject({ code: 0 });
    await eventually(() => starts() === 1, 30_000, 'the agent to start');
    expect(readFileSync(path.join(dataDir, 'started.txt'), 'utf8')).toContain(
      '"C:\\Program Files\\Drydock\\drydock-agent.exe" --config "C:\\ProgramData\\Drydock\\agent.json" --stop-on-stdin-close',
    );
    expect(await query()).toMatch(/STATE\s+:\s+4\s+RUNNING/);
    expect((await wine.run([host, 'stop'])).code).toBe(0);
    expect(readFileSync(path.join(dataDir, 'stopped.txt'), 'utf8')).toContain('stdin closed');
    expect(log()).toContain('[service] the agent stopped (exit 0)');
    expect(await query()).toMatch(/STATE\s+:\s+1\s+STOPPED/);
    expect(starts()).toBe(1);
  });

  it('restarts an agent that fails, waiting longer each time', async () => {
    reset('crash');
    expect((await wine.run([host, 'start'])).code).toBe(0);
    // Back-off of 1 s, then 2 s: three starts within a few seconds, not a tight loop.
    await eventually(() => starts() >= 3, 30_000, 'three starts');
    expect((await wine.run([host, 'stop'])).code).toBe(0);
    const restarts = log().match(/the agent exited \(code 7\); restarting after back-off/g) ?? [];
    expect(restarts.length).toBeGreaterThanOrEqual(2);
    const times = log()
      .split('\n')
      .filter((l) => l.includes('[service] started'))
      .map((l) => Date.parse(l.slice(0, 24)));
    // Each pause at least as long as the one before (1 s, 2 s, 4 s…).
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(900);
    expect(gaps[1]).toBeGreaterThanOrEqual(gaps[0]!);
  });

  it('stops the service for good when the agent says it cannot go on (revoked, rejected)', async () => {
    reset('give-up');
    await wine.run([host, 'start']);
    await eventually(() => starts() >= 1, 30_000, 'the agent to start');
    let state = '';
    await eventually(async () => /STOPPED/.test((state = await query())), 30_000, 'the service to stop');
    expect(state).toMatch(/SERVICE_EXIT_CODE\s+:\s+3/);
    expect(log()).toContain('the agent stopped for good (exit 3)');
    expect(starts()).toBe(1);
  });

  it('writes the agent config that the agent reads, and refuses values that are not what they claim', async () => {
    const key = generateKey('dek').key;
    const target = 'C:\\ProgramData\\Drydock\\configured.json';
    const ok = await wine.run([
      host, 'configure', '--config', target, '--api-url', 'https://drydock.example.com:8443',
      '--site-code', 'BRANCH-2', '--enroll-key', key, '--fingerprint', 'v3 (7F2A)',
    ]); // prettier-ignore
    expect(ok.code).toBe(0);
    const file = path.join(dataDir, 'configured.json');
    expect(readConfig(file)).toEqual({
      apiUrl: 'https://drydock.example.com:8443',
      siteCode: 'BRANCH-2',
      enrollmentKey: key,
      fingerprint: 'v3 (7F2A)',
      stateDir: path.join(dataDir, 'state'),
    });
    const before = readFileSync(file, 'utf8');
    for (const [flag, value] of [
      ['--enroll-key', 'dek_"}, "apiUrl": "http://evil'],
      ['--site-code', 'branch 2'],
      ['--api-url', 'file:///etc'],
      ['--api-url', 'http://drydock.example.com'],
    ]) {
      const args = {
        '--api-url': 'https://a.example',
        '--site-code': 'ABC',
        '--enroll-key': key,
        [flag!]: value!,
      };
      const refused = await wine.run([host, 'configure', '--config', target, ...Object.entries(args).flat()]);
      expect(refused.code).toBe(1);
    }
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect((await wine.run([host, 'configure', '--config', target])).code).toBe(1);
  });

  it('creates the private config folder, and refuses a usage it does not know', async () => {
    const made = await wine.run([host, 'secure-dir', 'C:\\ProgramData\\DrydockSecured']);
    expect(made).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('SYSTEM and Administrators only'),
    });
    expect(existsSync(path.join(wine.driveC, 'ProgramData', 'DrydockSecured'))).toBe(true);
    expect((await wine.run([host, 'frobnicate'])).code).toBe(2);
  });

  it('uninstalls the service', async () => {
    expect((await wine.run([host, 'uninstall'])).code).toBe(0);
    const reg = await wine.run(['reg', 'query', 'HKLM\\System\\CurrentControlSet\\Services\\DrydockAgent']);
    expect(reg.code).not.toBe(0);
  });
});
