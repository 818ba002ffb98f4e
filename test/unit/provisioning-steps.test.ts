import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StepContext } from '../../agent/platform/platform';
import { StepError } from '../../agent/platform/platform';
import {
  newHostState,
  SimulatedPlatform,
  simulatedDownloadSha256,
} from '../../agent/platform/simulated/simulated-host';
import { runStep } from '../../agent/steps';
import { classifyWingetExit, describeExit, WingetCode } from '../../agent/steps/winget-codes';
import { buildPlan, isNetbiosName, renderName } from '../../infra/provisioning/plan';
import { resolveProfile, standardProfile } from '../../infra/provisioning/profile';
import { StepKind, type StepPayloads, type TweakSpec } from '../../infra/wire/agent-steps';
import { rejection } from '../helpers/rejection';

let dir: string;
let host: SimulatedPlatform;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-steps-'));
  host = new SimulatedPlatform(path.join(dir, 'pc'), () => newHostState('pc', dir));
  host.onRestart = () => host.reboot();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ctx = (key = 'wf:1', api = true): StepContext => ({
  idempotencyKey: key,
  progress: async () => {},
  checkApi: async () => ({ ok: api, ms: 3, detail: api ? 'API answered in 3 ms' : 'API unreachable' }),
  signal: new AbortController().signal,
});
const run = <K extends StepKind>(kind: K, payload: StepPayloads[K], c = ctx()) =>
  runStep(host, kind, payload, c);

describe('winget exit codes', () => {
  it.each([
    [0, 'installed'],
    [WingetCode.PackageAlreadyInstalled, 'already-installed'],
    [WingetCode.UpdateNotApplicable, 'already-installed'],
    [WingetCode.RebootRequiredToFinish, 'reboot-required'],
    [3010, 'reboot-required'],
    [WingetCode.DownloadFailed, 'retryable'],
    [WingetCode.InstallInProgress, 'retryable'],
    [WingetCode.NoApplicationsFound, 'permanent'],
    [WingetCode.InstallBlockedByPolicy, 'permanent'],
    [-1, 'retryable'],
  ])('%i is %s', (code, outcome) => expect(classifyWingetExit(code)).toBe(outcome));

  it('names codes as winget prints them', () => {
    expect(describeExit(WingetCode.NoApplicationsFound)).toBe('0x8A150014 (NoApplicationsFound)');
    expect(describeExit(1603)).toBe('1603');
  });
});

describe('names', () => {
  it('renders templates upper-case and NetBIOS-safe', () => {
    expect(renderName('{SITE}-{SEQ3}', { site: 'demo-hq', serial: 'x', seq: 7 })).toBe('DEMOHQ-007');
    expect(renderName('PC-{SERIAL4}', { site: 'S', serial: 'sim-ab12cd', seq: 0 })).toBe('PC-12CD');
    expect(isNetbiosName('DEMOHQ-007')).toBe(true);
    for (const bad of ['', '1234', '-PC', 'PC-', 'A'.repeat(16), 'PC_1', 'PC 1'])
      expect(isNetbiosName(bad)).toBe(false);
  });
});

describe('the plan', () => {
  it('follows the phase order and skips disabled phases', () => {
    const plan = buildPlan(standardProfile, { hostname: 'DEMOHQ-007' });
    expect(plan.map((s) => s.key)).toEqual([
      'preflight',
      'identity.rename',
      'apps.winget-ready',
      'apps.winget:Google.Chrome',
      'apps.winget:7zip.7zip',
      'apps.winget:Adobe.Acrobat.Reader.64-bit',
      'tweaks',
      'locale',
      'inventory',
      'validation',
    ]);
    const resolved = resolveProfile([{ phases: { apps: { enabled: false }, identity: { enabled: false } } }]);
    if (!resolved.ok) throw new Error('invalid');
    const lean = buildPlan(resolved.profile);
    expect(lean.map((s) => s.phase)).not.toContain('apps');
    expect(lean.find((s) => s.key === 'validation')!.payload).toMatchObject({ apps: [], installers: [] });
  });

  it('puts the escrow steps in the security phase, sealed to the tenant key it is given, and refuses without one', () => {
    const resolved = resolveProfile([
      {
        phases: {
          identity: { enabled: false },
          security: { enabled: true, localAdmin: { account: 'DrydockAdmin', create: true }, bitlocker: {} },
        },
      },
    ]);
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.errors));
    const recipient = { tenantId: 'tenant-1', keyVersion: 3, publicKey: 'B'.repeat(87) };
    const plan = buildPlan(resolved.profile, { escrow: { machineId: 'machine-1', recipient } });
    const security = plan.filter((s) => s.phase === 'security');
    expect(security.map((s) => [s.key, s.kind])).toEqual([
      ['security.local-admin', StepKind.LocalAdminEscrow],
      ['security.bitlocker', StepKind.BitLockerEscrow],
    ]);
    expect(security[0]!.payload).toEqual({
      account: 'DrydockAdmin',
      create: true,
      recipient,
      machineId: 'machine-1',
      secretVersion: 1,
    });
    expect(plan.findIndex((s) => s.phase === 'security')).toBe(
      plan.findIndex((s) => s.key === 'preflight') + 1,
    );
    expect(() => buildPlan(resolved.profile)).toThrow('tenant escrow key');
    // A bad account name is the profile's error, not the machine's.
    const bad = resolveProfile([{ phases: { security: { enabled: true, localAdmin: { account: 'a/b' } } } }]);
    expect(bad.ok).toBe(false);
  });
});

describe('steps on the simulated host: check, then act', () => {
  it('preflight lists every failing check with its reason, and fails permanently', async () => {
    host.mutate((s) => {
      s.power.onAc = false;
      s.tpm.ready = false;
      s.freeDiskGb = 5;
    });
    const err = await rejection(
      run(StepKind.Preflight, {
        requireAcPower: true,
        minFreeDiskGb: 20,
        requireTpm: true,
        requireSecureBoot: true,
        minOsBuild: 19045,
      }),
    );
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).retryable).toBe(false);
    expect(err.message).toContain('ac-power: on battery');
    expect(err.message).toContain('free-disk: 5 GB free');
    expect(err.message).toContain('tpm: TPM 2.0 present but not ready');
    expect(err.message).not.toContain('secure-boot');
  });

  it('preflight that failed only on the network may be retried', async () => {
    const err = await rejection(
      run(
        StepKind.Preflight,
        { requireAcPower: true, minFreeDiskGb: 1, requireTpm: true, requireSecureBoot: true, minOsBuild: 1 },
        ctx('k', false),
      ),
    );
    expect((err as StepError).retryable).toBe(true);
  });

  it('rename sets the name for the next boot once; after the reboot it is done', async () => {
    expect(await run(StepKind.Rename, { name: 'DEMO-001' })).toEqual({ reboot: true });
    expect(await run(StepKind.Rename, { name: 'DEMO-001' })).toEqual({ alreadyDone: true, reboot: true });
    host.reboot();
    expect(await run(StepKind.Rename, { name: 'demo-001' })).toEqual({ alreadyDone: true, reboot: false });
    expect(host.snapshot.effects).toEqual({ 'rename:DEMO-001': 1 });
  });

  it('winget: transient failures are retryable, unknown ids permanent, a second run installs nothing', async () => {
    host.mutate((s) => {
      s.simulation.wingetTransientFailures['Google.Chrome'] = 1;
      s.simulation.wingetUnknownIds.push('No.Such');
      s.simulation.wingetRebootIds.push('Needs.Reboot');
    });
    const transient = await rejection(run(StepKind.Winget, { id: 'Google.Chrome' }));
    expect((transient as StepError).retryable).toBe(true);
    expect(transient.message).toContain('0x8A150008 (DownloadFailed)');
    expect(await run(StepKind.Winget, { id: 'Google.Chrome' })).toMatchObject({ outcome: 'installed' });
    expect(await run(StepKind.Winget, { id: 'Google.Chrome' })).toMatchObject({ alreadyDone: true });
    expect(await run(StepKind.Winget, { id: 'Needs.Reboot' })).toMatchObject({ reboot: true });
    const unknown = await rejection(run(StepKind.Winget, { id: 'No.Such' }));
    expect(unknown).toMatchObject({ type: 'WingetPackageNotFound', retryable: false });
    expect(host.snapshot.effects).toEqual({ 'winget:Google.Chrome': 1, 'winget:Needs.Reboot': 1 });
  });

  it('a direct installer runs only when its SHA-256 matches the pin, and only once', async () => {
    const url = 'https://downloads.example.com/tool.msi';
    const payload = { name: 'Tool', url, sha256: simulatedDownloadSha256(url), arguments: [] };
    const bad = await rejection(run(StepKind.Installer, { ...payload, sha256: '0'.repeat(64) }));
    expect(bad).toMatchObject({ type: 'InstallerHashMismatch', retryable: false });
    expect(Object.keys(host.snapshot.effects)).toEqual([]);
    expect(await run(StepKind.Installer, payload)).toMatchObject({ exitCode: 0 });
    expect(await run(StepKind.Installer, payload)).toEqual({ alreadyDone: true });
    expect(Object.keys(host.snapshot.effects).filter((e) => e.startsWith('installer:'))).toHaveLength(1);
  });

  it('tweaks owe their restart until the machine restarts, whichever run of the step set them', async () => {
    const tweaks: TweakSpec[] = [
      {
        id: 'r',
        needs: 'restart',
        registry: [{ path: 'HKLM:\\SOFTWARE\\X', name: 'R', type: 'DWord', value: 1 }],
      },
    ];
    expect(await run(StepKind.Tweaks, { tweaks })).toMatchObject({
      changed: ['r: HKLM:\\SOFTWARE\\X\\R'],
      reboot: true,
    });
    // Run again before the restart (a retry, a redelivery, a restored run): nothing to change, the
    // restart still owed.
    expect(await run(StepKind.Tweaks, { tweaks }, ctx('wf:2'))).toMatchObject({
      changed: [],
      alreadyDone: true,
      reboot: true,
    });
    host.reboot();
    expect(await run(StepKind.Tweaks, { tweaks }, ctx('wf:3'))).toMatchObject({ changed: [], reboot: false });
  });

  it('tweaks write only values that differ; validation reports PASS/FAIL per item', async () => {
    const tweaks: TweakSpec[] = [
      { id: 't', registry: [{ path: 'HKLM:\\SOFTWARE\\X', name: 'A', type: 'DWord', value: 0 }] },
    ];
    expect(await run(StepKind.Tweaks, { tweaks })).toMatchObject({ changed: ['t: HKLM:\\SOFTWARE\\X\\A'] });
    expect(await run(StepKind.Tweaks, { tweaks })).toMatchObject({ changed: [], alreadyDone: true });
    const result = await run(StepKind.Validate, {
      hostname: 'NOT-THIS',
      apps: ['Missing.App'],
      installers: [],
      registry: tweaks[0]!.registry,
      wifi: [],
    });
    expect(result.items.map((i) => [i.item, i.pass])).toEqual([
      ['name NOT-THIS', false],
      ['app Missing.App', false],
      ['setting HKLM:\\SOFTWARE\\X\\A', true],
    ]);
  });

  it('reboot restarts once per request, even when the request is delivered again after the restart', async () => {
    const before = host.snapshot.bootId;
    const first = await run(StepKind.Reboot, { reason: 'rename' }, ctx('wf:reboot'));
    expect(first).toEqual({ bootId: before });
    await new Promise((r) => setTimeout(r, 100)); // the restart happens a moment later
    expect(host.snapshot.bootId).not.toBe(before);
    const again = await run(StepKind.Reboot, { reason: 'rename' }, ctx('wf:reboot'));
    expect(again).toEqual({ bootId: before, alreadyDone: true });
    expect(Object.keys(host.snapshot.effects).filter((e) => e.startsWith('restart:'))).toHaveLength(1);
  });

  it('an unknown step is a permanent failure', async () => {
    expect(await rejection(runStep(host, 'nope', {}, ctx()))).toMatchObject({
      type: 'UnknownStep',
      retryable: false,
    });
  });
});
