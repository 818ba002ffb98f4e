import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Platform, StepContext } from '../../agent/platform/platform';
import { StepError } from '../../agent/platform/platform';
import { runStep } from '../../agent/steps';
import { StepFailure, StepKind, type WinRmInstallPayload } from '../../infra/wire/agent-steps';
import { SimulatedAgentTarget } from '../helpers/simulated-agent-target';
import { WsManTestServer } from '../helpers/wsman-test-server';

/**
 * The gateway's `winrm.install` step (ADR 0043) run by the agent's own step dispatcher against a
 * WS-Man test server whose simulated host acts out the download, the hash, msiexec and the service:
 * check-before-act (a running service is left alone; an install of ours still running is waited
 * for, never started twice; a stopped service is started), and every failure in its words — a
 * hash mismatch runs nothing, msiexec's codes read as Windows Installer documents them.
 */
jest.setTimeout(60_000);

const PASSWORD = 'Step-Passw0rd!';
const MSI = Buffer.from('a stand-in for the site MSI\n');
const SHA = createHash('sha256').update(MSI).digest('hex');
let downloads: http.Server;
let downloadBase: string;
let target: SimulatedAgentTarget;
let server: WsManTestServer;

beforeAll(async () => {
  downloads = http.createServer((req, res) => {
    if (req.url?.startsWith('/tampered')) res.end('something else');
    else res.end(MSI);
  });
  await new Promise<void>((resolve) => downloads.listen(0, '127.0.0.1', resolve));
  downloadBase = `http://127.0.0.1:${(downloads.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => downloads.close(r));
});
beforeEach(async () => {
  target = new SimulatedAgentTarget({ msiexecMs: 100 });
  server = await new WsManTestServer({
    users: { 'corp.example\\svc': PASSWORD },
    powershell: target.powershell,
  }).start();
});
afterEach(async () => server.stop());

const context = (installerUrl?: string): StepContext => ({
  idempotencyKey: randomUUID(),
  progress: async () => {},
  checkApi: async () => ({ ok: true, ms: 1, detail: '' }),
  signal: new AbortController().signal,
  credential: { domain: 'corp.example', user: 'svc', password: PASSWORD },
  ...(installerUrl ? { installerUrl } : {}),
});
const payload = (): WinRmInstallPayload => ({
  host: '127.0.0.1',
  httpPort: server.httpPort,
  https: false,
  credentialRef: randomUUID(),
  installerId: randomUUID(),
  fileName: 'Drydock-S-v1-ABCD.msi',
  sha256: SHA,
});
// The install step uses the network only: the platform is never asked for anything.
const noPlatform = {} as Platform;
const install = (ctx: StepContext) => runStep(noPlatform, StepKind.WinRmInstall, payload(), ctx);
const firstLines = () => server.commands.map((c) => c.script!.split('\r\n', 1)[0]);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the step succeeded');
    },
    (err: unknown) => err as StepError,
  );

it('installs, reports msiexec 3010 as a success that needs a restart, and leaves a running service alone next time', async () => {
  target.msiexecExitCode = 3010;
  expect(await install(context(`${downloadBase}/once`))).toEqual({
    exitCode: 3010,
    service: 'Running',
    restartRequired: true,
    outcome: 'msiexec exited with 3010: installed; a restart is required to finish',
  });
  expect(target.installs).toBe(1);
  server.commands.length = 0;
  // No link this time (a resumed step would have none): a running service needs none.
  expect(await install(context())).toMatchObject({ alreadyDone: true, exitCode: null, service: 'Running' });
  expect(firstLines()).toEqual(['# drydock:agent-state']);
  expect(target.installs).toBe(1);
});

it('waits for an install of ours that is still running instead of starting another', async () => {
  target.installing = true;
  setTimeout(() => {
    target.installing = false;
    target.service = 'Running';
  }, 4000);
  expect(await install(context(`${downloadBase}/once`))).toMatchObject({ alreadyDone: true });
  expect(target.installs).toBe(0);
  expect(firstLines().every((l) => l === '# drydock:agent-state')).toBe(true);
  expect(firstLines().length).toBeGreaterThan(1);
});

it('starts an installed service it finds stopped, without installing again', async () => {
  target.service = 'Stopped';
  expect(await install(context(`${downloadBase}/once`))).toMatchObject({
    exitCode: null,
    service: 'Running',
    outcome: 'the installed DrydockAgent service was Stopped; started it',
  });
  expect(firstLines()).toEqual(['# drydock:agent-state', '# drydock:agent-start', '# drydock:agent-state']);
  expect(target.installs).toBe(0);
});

it('names each failure: a tampered download, msiexec 1603, no link, a wrong password', async () => {
  const tampered = await failure(install(context(`${downloadBase}/tampered`)));
  expect(tampered).toMatchObject({ type: StepFailure.AgentHashMismatch, retryable: false });
  expect(target.installs).toBe(0);

  target.msiexecExitCode = 1603;
  const fatal = await failure(install(context(`${downloadBase}/once`)));
  expect(fatal).toMatchObject({ type: StepFailure.AgentInstallFailed, retryable: false });
  expect(fatal.message).toBe(
    'msiexec on 127.0.0.1 exited with 1603: a fatal error occurred during installation (see C:\\Windows\\Temp\\Drydock-agent-install.log on the host)',
  );

  target.msiexecExitCode = 1618;
  target.service = 'Absent';
  expect(await failure(install(context(`${downloadBase}/once`)))).toMatchObject({
    type: StepFailure.AgentInstallBusy,
    retryable: true,
  });

  expect(await failure(install(context()))).toMatchObject({
    type: StepFailure.InstallerLinkUnavailable,
    retryable: true,
  });

  const wrong = context(`${downloadBase}/once`);
  wrong.credential = { domain: 'corp.example', user: 'svc', password: 'Wrong-Passw0rd!' };
  const refused = await failure(install(wrong));
  expect(refused).toMatchObject({ type: StepFailure.WinRmAuthFailed, retryable: false });
  expect(refused.message).toMatch(/^WinRM to 127\.0\.0\.1: authentication failed: /);
  expect(refused.message).not.toContain('Wrong-Passw0rd!');
});
