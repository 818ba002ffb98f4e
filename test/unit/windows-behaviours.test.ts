import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StepContext } from '../../agent/platform/platform';
import { StepError } from '../../agent/platform/platform';
import {
  newHostState,
  SimulatedPlatform,
  simulatedDownloadSha256,
  type HostOptions,
} from '../../agent/platform/simulated/simulated-host';
import { simulatedPasswordHash } from '../../agent/platform/simulated/simulated-join';
import { runStep } from '../../agent/steps';
import { envelopeDigest, PendingSecrets } from '../../agent/steps/escrow';
import { classifyWingetExit, WingetCode } from '../../agent/steps/winget-codes';
import { buildPlan } from '../../infra/provisioning/plan';
import { generateTenantKey, openEscrowSecret, publicPart } from '../../infra/wire/escrow-envelope';
import { standardProfile } from '../../infra/provisioning/profile';
import { StepKind, type StepPayloads, type TweaksPayload } from '../../infra/wire/agent-steps';
import { checkStepResult } from '../../infra/wire/step-results';
import { rejection } from '../helpers/rejection';

/**
 * The behaviours of real Windows 10/11 machines behind issue 12, on the simulated host (which models
 * each honestly), through the agent's real steps: winget without its runtime, a UCPD-blocked value,
 * a restart pending after an install, an installer that starts its app, no Wi-Fi adapter, a
 * domain-joined rename, editions and builds, and undo back to what the host had.
 */
let dir: string;
const hosts = (options: HostOptions = {}) => {
  const host = new SimulatedPlatform(path.join(dir, `pc-${Math.random()}`), () =>
    newHostState('pc', dir, options),
  );
  host.onRestart = () => host.reboot();
  return host;
};
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-behaviours-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ctx: StepContext = {
  idempotencyKey: 'wf:1',
  pendingSecrets: new PendingSecrets(),
  progress: async () => {},
  checkApi: async () => ({ ok: true, ms: 1, detail: 'ok' }),
  signal: new AbortController().signal,
};
/** Runs a step; what it answers must be what the API accepts (infra/wire/step-results.ts), or it would be refused. */
const run = async <K extends StepKind>(host: SimulatedPlatform, kind: K, payload: StepPayloads[K]) => {
  const result = await runStep(host, kind, payload, ctx);
  expect(checkStepResult(kind, result)).toBeNull();
  return result;
};
const tweaksPayload = (): TweaksPayload =>
  buildPlan(standardProfile, { hostname: 'PC-001' }).flatMap((s) =>
    s.kind === StepKind.Tweaks ? [s.payload] : [],
  )[0]!;

describe('winget as SYSTEM', () => {
  it('starts on a fresh image only with the VCLibs framework on its PATH, and says why not otherwise', async () => {
    const host = hosts();
    await expect(run(host, StepKind.WingetReady, {})).resolves.toMatchObject({
      runtime: 'VCLibs framework folder on PATH',
    });
    host.mutate((s) => void (s.winget.vclibsFramework = false));
    const error = await rejection(run(host, StepKind.WingetReady, {}));
    expect(error).toMatchObject({ type: 'WingetUnavailable', retryable: false });
    expect((error as Error).message).toMatch(/VC\+\+ 2015-2022 runtime/);
    // An install step on such a machine fails permanently, not five times.
    await expect(rejection(run(host, StepKind.Winget, { id: 'Google.Chrome' }))).resolves.toMatchObject({
      type: 'WingetUnavailable',
      retryable: false,
    });
    expect(classifyWingetExit(WingetCode.DllNotFound)).toBe('permanent');
  });

  it('fails permanently where App Installer is missing (LTSC) or winget.exe is not signed by Microsoft', async () => {
    const ltsc = hosts({ editionId: 'EnterpriseS' });
    ltsc.mutate((s) => void (s.winget.appInstaller = null));
    expect(((await rejection(run(ltsc, StepKind.WingetReady, {}))) as Error).message).toMatch(/LTSC/);
    const unsigned = hosts();
    unsigned.mutate((s) => void (s.winget.microsoftSigned = false));
    expect(((await rejection(run(unsigned, StepKind.WingetReady, {}))) as Error).message).toMatch(
      /not signed by Microsoft/,
    );
  });

  it('fails permanently with winget older than 1.4 (no --disable-interactivity), and passes from 1.4 on', async () => {
    const old = hosts();
    old.mutate((s) => {
      s.winget.appInstaller = '1.18.2691.0';
      s.winget.version = '1.3.2691';
    });
    const error = await rejection(run(old, StepKind.WingetReady, {}));
    expect(error).toMatchObject({ type: 'WingetUnavailable', retryable: false });
    expect((error as Error).message).toMatch(/winget 1\.3\.2691 is older than 1\.4/);
    // Compared as numbers: 1.10 is newer than 1.4.
    for (const version of ['1.4.10173', '1.10.340']) {
      const recent = hosts();
      recent.mutate((s) => void (s.winget.version = version));
      await expect(run(recent, StepKind.WingetReady, {})).resolves.toMatchObject({ version });
    }
  });

  it('asks for the restart an install left pending although winget exited 0 (winget 1.7+)', async () => {
    const host = hosts();
    host.mutate((s) => void (s.simulation.wingetSilentRebootIds = ['Contoso.Vpn']));
    const result = await run(host, StepKind.Winget, { id: 'Contoso.Vpn' });
    expect(result).toMatchObject({ exitCode: 0, reboot: true });
    expect(result.outcome).toMatch(/PendingFileRenameOperations/);
    // The indicator stays until the restart; after it, a plain install asks for none.
    await expect(run(host, StepKind.Winget, { id: '7zip.7zip' })).resolves.toMatchObject({ reboot: true });
    host.reboot();
    await expect(run(host, StepKind.Winget, { id: 'Google.Chrome' })).resolves.toMatchObject({
      reboot: false,
    });
  });

  it('reports "restart before installing" as RebootRequiredFirst, and installs after the restart', async () => {
    const host = hosts();
    host.mutate((s) => void (s.simulation.wingetRebootFirstIds = ['Contoso.Driver']));
    await expect(rejection(run(host, StepKind.Winget, { id: 'Contoso.Driver' }))).resolves.toMatchObject({
      type: 'RebootRequiredFirst',
      retryable: true,
    });
    // Retrying without a restart cannot help…
    await expect(rejection(run(host, StepKind.Winget, { id: 'Contoso.Driver' }))).resolves.toBeInstanceOf(
      StepError,
    );
    host.reboot();
    await expect(run(host, StepKind.Winget, { id: 'Contoso.Driver' })).resolves.toMatchObject({
      exitCode: 0,
    });
  });

  it('preflight finds a restart Windows is already waiting for and asks for it first', async () => {
    const host = hosts();
    host.mutate((s) => void (s.rebootIndicators = ['CBS RebootPending']));
    const result = await run(host, StepKind.Preflight, {
      requireAcPower: false,
      minFreeDiskGb: 0,
      requireTpm: false,
      requireSecureBoot: false,
      minOsBuild: 10240,
    });
    expect(result).toMatchObject({ reboot: true, pendingReboot: ['CBS RebootPending'] });
  });
});

describe('installers', () => {
  it('waits for the installer alone: the app it starts does not hang the step and ends with it', async () => {
    const host = hosts();
    host.mutate((s) => void (s.simulation.installerStartsApp = true));
    const url = 'https://downloads.example.com/app-setup.exe';
    await expect(
      run(host, StepKind.Installer, {
        name: 'App',
        url,
        sha256: simulatedDownloadSha256(url),
        arguments: [],
      }),
    ).resolves.toMatchObject({ exitCode: 0 });
    expect(Object.keys(host.snapshot.effects).some((e) => e.startsWith('installer:'))).toBe(true);
    expect(host.snapshot.processes).toEqual([]);
  });
});

describe('tweaks', () => {
  it('one value Windows refuses (UCPD) is a reported failure of its tweak; the rest are applied', async () => {
    const host = hosts({ windows: 11 });
    const payload: TweaksPayload = {
      tweaks: [
        {
          id: 'old-widgets',
          registry: [
            {
              path: 'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced',
              name: 'TaskbarDa',
              type: 'DWord',
              value: 0,
            },
          ],
        },
        {
          id: 'dark',
          registry: [
            {
              path: 'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize',
              name: 'AppsUseLightTheme',
              type: 'DWord',
              value: 0,
            },
          ],
        },
      ],
    };
    const result = await run(host, StepKind.Tweaks, payload);
    expect(result.failed).toEqual([{ id: 'old-widgets', message: expect.stringMatching(/not allowed/) }]);
    expect(result.changed).toEqual([
      'dark: HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize\\AppsUseLightTheme',
    ]);
  });

  it('takes the restore point before any other value or action changes the machine', async () => {
    const host = hosts({ windows: 10, editionId: 'Enterprise', desktop: true });
    const order: string[] = [];
    host.afterEffect = (effect) => void order.push(effect);
    await run(host, StepKind.Tweaks, tweaksPayload());
    const changes = order.filter((e) => !e.startsWith('record:'));
    expect(changes.slice(0, 2)).toEqual([
      'registry:HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SystemRestore\\SystemRestorePointCreationFrequency',
      'restore-point:1',
    ]);
    expect(changes).toContain('powercfg:hibernate-off');
    expect(changes.length).toBeGreaterThan(10);
  });

  it('a value that may be set on another try makes the step retryable; the next try finishes it', async () => {
    const host = hosts({ windows: 11 });
    const busy = 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\Dsh\\AllowNewsAndInterests';
    host.mutate((s) => void (s.simulation.flakyValues = { [busy]: 1 }));
    const error = await rejection(run(host, StepKind.Tweaks, tweaksPayload()));
    expect(error).toMatchObject({ type: 'SettingFailed', retryable: true });
    expect((error as Error).message).toContain('widgets-button-off');
    const again = await run(host, StepKind.Tweaks, tweaksPayload());
    expect(again.failed).toBeUndefined();
    expect(again.changed).toEqual(['create-restore-point: restore point', `widgets-button-off: ${busy}`]);
  });

  it('the power going in the middle ends the step (it is not a value Windows refused)', async () => {
    const host = hosts({ windows: 11 });
    host.afterEffect = (effect) => {
      if (effect.startsWith('registry:HKCU')) throw Object.assign(new Error('power lost'), { fatal: true });
    };
    await expect(rejection(run(host, StepKind.Tweaks, tweaksPayload()))).resolves.toMatchObject({
      fatal: true,
    });
  });

  it('Standard applies on Windows 11 Pro: restore point first, widgets by policy, Pro-only skips reported, restart asked', async () => {
    const host = hosts({ windows: 11 });
    const result = await run(host, StepKind.Tweaks, tweaksPayload());
    expect(result.failed).toBeUndefined();
    expect(result.changed[0]).toBe('create-restore-point: restore point');
    expect(result.changed).toContain(
      'widgets-button-off: HKLM:\\SOFTWARE\\Policies\\Microsoft\\Dsh\\AllowNewsAndInterests',
    );
    expect(result.skipped?.map((s) => s.id).sort()).toEqual([
      'disable-consumer-features',
      'disable-hibernation',
    ]);
    expect(result.reboot).toBe(true);
    expect(host.snapshot.hibernation).toBe(true); // a laptop keeps hibernation (Modern Standby)
  });

  it('Standard on a Windows 10 Enterprise desktop: hibernation off by powercfg, Windows 11-only tweaks skipped', async () => {
    const host = hosts({ windows: 10, editionId: 'Enterprise', desktop: true });
    const result = await run(host, StepKind.Tweaks, tweaksPayload());
    expect(result.changed).toContain('disable-hibernation: hibernation-off');
    expect(host.snapshot.hibernation).toBe(false);
    expect(result.skipped?.map((s) => s.id).sort()).toEqual(['center-taskbar', 'end-task-right-click']);
  });

  it('undo puts back exactly what the host had, absent values included, even after a second run', async () => {
    const host = hosts({ windows: 10, editionId: 'Enterprise', desktop: true });
    host.mutate((s) => {
      s.signedIn = ['S-1-5-21-1-2-3-1001'];
      s.registry['HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced'] = {
        HideFileExt: 1,
      };
      s.registry[
        'HKU:\\S-1-5-21-1-2-3-1001\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced'
      ] = { HideFileExt: 1 };
      s.registry['HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters'] = {
        DisabledComponents: 0,
      };
    });
    const before = structuredClone(host.snapshot.registry);
    await run(host, StepKind.Tweaks, tweaksPayload());
    await run(host, StepKind.Tweaks, tweaksPayload()); // a second run records nothing new
    expect(
      host.snapshot.registry['HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced']!
        .HideFileExt,
    ).toBe(0);
    const undo = await run(host, StepKind.TweaksUndo, {});
    expect(undo).toMatchObject({ failed: [], reboot: true });
    const after = structuredClone(host.snapshot.registry);
    delete after['HKLM:\\SOFTWARE\\Drydock\\TweakUndo'];
    // The tweaks step's own bookkeeping: the boot whose restart its tweaks are owed.
    delete after['HKLM:\\SOFTWARE\\Drydock\\Tweaks'];
    const drop = (r: typeof before) =>
      Object.fromEntries(Object.entries(r).filter(([, v]) => Object.keys(v).length > 0));
    expect(drop(after)).toEqual(drop(before));
    expect(host.snapshot.hibernation).toBe(true);
    await expect(run(host, StepKind.TweaksUndo, {})).resolves.toMatchObject({
      alreadyDone: true,
      restored: [],
    });
  });
});

describe('identity, Wi-Fi, locale', () => {
  it('refuses to rename a domain-joined machine without a domain credential, permanently', async () => {
    const host = hosts();
    host.mutate((s) => void (s.domain = 'corp.example'));
    await expect(rejection(run(host, StepKind.Rename, { name: 'WS-001' }))).resolves.toMatchObject({
      type: 'RenameNeedsDomainCredential',
      retryable: false,
    });
    expect(host.snapshot.pendingHostname).toBe('PC');
  });

  it('skips Wi-Fi with a reason on a machine without an adapter, and WPA3-Enterprise before Windows 11', async () => {
    const radius = { serverNames: ['radius.example.com'], trustedRootCaThumbprints: ['ab'.repeat(20)] };
    const desktop = hosts({ desktop: true });
    await expect(
      run(desktop, StepKind.Wifi, {
        networks: [{ ssid: 'Corp', authentication: 'wpa2-enterprise', autoConnect: true, radius }],
      }),
    ).resolves.toMatchObject({ added: [], skipped: [{ ssid: 'Corp', reason: 'no Wi-Fi adapter' }] });
    const win10 = hosts({ windows: 10 });
    const result = await run(win10, StepKind.Wifi, {
      networks: [
        { ssid: 'Corp3', authentication: 'wpa3-enterprise', autoConnect: true, radius },
        { ssid: 'Guest', authentication: 'open', autoConnect: true },
      ],
    });
    expect(result).toMatchObject({ added: ['Guest'], skipped: [{ ssid: 'Corp3' }] });
    const validation = await run(win10, StepKind.Validate, {
      apps: [],
      installers: [],
      registry: [],
      wifi: ['Corp3', 'Guest'],
      wifiWpa3Enterprise: ['Corp3'],
    });
    expect(validation.items.every((i) => i.pass)).toBe(true);
  });

  it('sets formats, keyboard and home location for new users, and validation checks what they get', async () => {
    const host = hosts({ windows: 10 });
    const locale = {
      timeZone: 'UTC',
      locale: 'en-US',
      keyboard: '0809:00000809',
      formats: 'en-GB',
      homeLocation: 242,
    };
    await run(host, StepKind.Locale, locale);
    expect(host.snapshot.newUser).toEqual({
      formats: 'en-GB',
      keyboards: ['0809:00000809', '0409:00000409'],
      homeLocation: 242,
    });
    const validation = await run(host, StepKind.Validate, {
      apps: [],
      installers: [],
      registry: [],
      wifi: [],
      locale,
    });
    const items = validation.items;
    expect(items.filter((i) => i.item.startsWith('new user')).map((i) => i.pass)).toEqual([true, true, true]);
  });
});

describe('every step kind', () => {
  it('answers on the simulated host with a result the API accepts (its kind’s schema)', async () => {
    const host = hosts({ windows: 11 });
    host.onRestart = () => undefined; // the restart itself is not what this checks
    const url = 'https://downloads.example.com/tool.msi';
    const answered = new Set<StepKind>();
    const step = async <K extends StepKind>(kind: K, payload: StepPayloads[K]) => {
      await run(host, kind, payload); // checks the result against the kind's schema
      answered.add(kind);
    };
    for (const s of buildPlan(standardProfile, { hostname: 'PC-001' })) await step(s.kind, s.payload);
    await step(StepKind.Installer, {
      name: 'Tool',
      url,
      sha256: simulatedDownloadSha256(url),
      arguments: [],
    });
    await step(StepKind.Wifi, { networks: [{ ssid: 'Guest', authentication: 'open', autoConnect: true }] });
    await step(StepKind.TweaksUndo, {});
    await step(StepKind.Inventory, {}); // as collectInventory asks: no Autopilot hash
    await step(StepKind.BootId, {});
    await step(StepKind.Reboot, { reason: 'every kind answered' });
    const escrowKey = await generateTenantKey({ tenantId: 'tenant-1', keyVersion: 1 });
    const sealed = await runStep(
      host,
      StepKind.LocalAdminEscrow,
      {
        account: 'DrydockAdmin',
        create: true,
        recipient: publicPart(escrowKey),
        machineId: 'machine-1',
        secretVersion: 1,
      },
      ctx,
    );
    expect(checkStepResult(StepKind.LocalAdminEscrow, sealed)).toBeNull();
    answered.add(StepKind.LocalAdminEscrow);
    await step(StepKind.LocalAdminApply, {
      account: 'DrydockAdmin',
      create: true,
      secretVersion: 1,
      envelopeDigest: envelopeDigest(sealed.envelope),
    });
    const recovery = await runStep(
      host,
      StepKind.BitLockerEscrow,
      { mountPoint: 'C:', recipient: publicPart(escrowKey), machineId: 'machine-1', secretVersion: 1 },
      ctx,
    );
    expect(checkStepResult(StepKind.BitLockerEscrow, recovery)).toBeNull();
    answered.add(StepKind.BitLockerEscrow);
    await step(StepKind.BitLockerApply, {
      mountPoint: 'C:',
      secretVersion: 1,
      envelopeDigest: envelopeDigest(recovery.envelope),
    });
    // The join kinds (ADR 0048): against the host's simulated domain, with a credential in the claim.
    const password = 'Join-Every-Kind-1!';
    const ppkgUrl = 'https://downloads.example.com/bulk.ppkg';
    host.mutate((s) => {
      s.simulation.directory = {
        domain: 'corp.example.com',
        netbios: 'CORP',
        defaultContainer: 'CN=Computers,DC=corp,DC=example,DC=com',
        ous: [],
        accounts: { 'svc-join': { passwordSha256: simulatedPasswordHash(password), mayJoin: true } },
        controllers: [],
      };
      s.simulation.provisioningPackages = { [simulatedDownloadSha256(ppkgUrl)]: { tenantName: 'Example' } };
    });
    const joined = await runStep(
      host,
      StepKind.JoinDomain,
      { domain: 'corp.example.com', credentialRef: '3f1c2a9e-5b7d-4e21-9c8a-0d6f4b2e1a77' },
      { ...ctx, credential: { domain: 'corp.example.com', user: 'svc-join', password } },
    );
    expect(checkStepResult(StepKind.JoinDomain, joined)).toBeNull();
    answered.add(StepKind.JoinDomain);
    await step(StepKind.JoinEntra, {
      method: 'provisioning-package',
      package: { name: 'Bulk', url: ppkgUrl, sha256: simulatedDownloadSha256(ppkgUrl) },
    });
    host.reboot();
    await step(StepKind.JoinVerify, { domain: 'corp.example.com', entra: true });
    // The profile.* kinds need a host with user profiles: test/helpers/migration-host.ts checks each
    // of their results against the same schemas (test/unit/profile-migration-host.test.ts). The
    // directory.* kinds run on a gateway against a real domain controller: directory.test.ts checks
    // the API accepts each of their results. The winrm.* kinds run on a gateway against a WinRM
    // listener: agent-deployment.test.ts posts their results to the real API, which holds them to
    // their schemas.
    expect([...answered].sort()).toEqual(
      Object.values(StepKind)
        .filter((k) => !k.startsWith('profile.') && !k.startsWith('directory.') && !k.startsWith('winrm.'))
        .sort(),
    );
  });
});

describe('the local admin password, escrow before change (issue 16)', () => {
  const account = 'DrydockAdmin';
  const escrowPayload = (
    key: { tenantId: string; keyVersion: number; publicKey: string },
    secretVersion: number,
  ) => ({
    account,
    create: true,
    recipient: key,
    machineId: 'machine-1',
    secretVersion,
  });
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  it('changes nothing when escrowing; sets exactly the escrowed password when applying; the key holder opens it', async () => {
    const host = hosts();
    const key = await generateTenantKey({ tenantId: 'tenant-1', keyVersion: 1 });
    const before = host.snapshot.localPasswords;
    const sealed = await run(host, StepKind.LocalAdminEscrow, escrowPayload(publicPart(key), 1));
    expect(host.snapshot.localPasswords).toEqual(before);
    expect(host.localPasswordHash(account)).toBeNull();
    const applied = await run(host, StepKind.LocalAdminApply, {
      account,
      create: true,
      secretVersion: 1,
      envelopeDigest: envelopeDigest(sealed.envelope),
    });
    expect(applied).toEqual({ account, secretVersion: 1, created: true });
    const password = await openEscrowSecret(
      key,
      { machineId: 'machine-1', kind: 'local-admin-password', secretVersion: 1 },
      sealed.envelope,
    );
    expect(host.localPasswordHash(account)).toBe(sha256(password));
    expect(password).toMatch(/[A-Z]/);
    expect(password).toMatch(/[a-z]/);
    expect(password).toMatch(/[0-9]/);
    expect(JSON.stringify(applied) + JSON.stringify(sealed)).not.toContain(password);
  });

  it('refuses to set a password whose envelope the server did not store, or after a restart, and changes nothing', async () => {
    const host = hosts();
    const key = await generateTenantKey({ tenantId: 'tenant-1', keyVersion: 1 });
    const sealed = await run(host, StepKind.LocalAdminEscrow, escrowPayload(publicPart(key), 1));
    // A second seal of the same version (a redelivery whose first result the server kept): the
    // server's digest names the first envelope, which this agent no longer holds.
    const again = await run(host, StepKind.LocalAdminEscrow, escrowPayload(publicPart(key), 1));
    expect(again.envelope).not.toBe(sealed.envelope);
    const refused = await rejection(
      runStep(
        host,
        StepKind.LocalAdminApply,
        { account, create: true, secretVersion: 1, envelopeDigest: envelopeDigest(sealed.envelope) },
        ctx,
      ),
    );
    expect(refused).toBeInstanceOf(StepError);
    expect((refused as StepError).type).toBe('EscrowPendingLost');
    // A restarted agent (a fresh process's memory) holds nothing at all.
    const restarted = await rejection(
      runStep(
        host,
        StepKind.LocalAdminApply,
        { account, create: true, secretVersion: 1, envelopeDigest: envelopeDigest(again.envelope) },
        { ...ctx, pendingSecrets: new PendingSecrets() },
      ),
    );
    expect((restarted as StepError).type).toBe('EscrowPendingLost');
    expect(host.localPasswordHash(account)).toBeNull();
    expect(Object.keys(host.snapshot.effects).filter((e) => e.startsWith('local-password:'))).toEqual([]);
  });

  it('does not create an account it was not asked to', async () => {
    const host = hosts();
    const key = await generateTenantKey({ tenantId: 'tenant-1', keyVersion: 1 });
    const sealed = await run(host, StepKind.LocalAdminEscrow, {
      ...escrowPayload(publicPart(key), 1),
      create: false,
    });
    const error = await rejection(
      runStep(
        host,
        StepKind.LocalAdminApply,
        { account, secretVersion: 1, envelopeDigest: envelopeDigest(sealed.envelope) },
        ctx,
      ),
    );
    expect((error as Error).message).toContain('was not found');
    // The image's built-in Administrator is rotated in place.
    const builtIn = await run(host, StepKind.LocalAdminEscrow, {
      ...escrowPayload(publicPart(key), 2),
      account: 'Administrator',
      create: false,
    });
    await expect(
      run(host, StepKind.LocalAdminApply, {
        account: 'Administrator',
        secretVersion: 2,
        envelopeDigest: envelopeDigest(builtIn.envelope),
      }),
    ).resolves.toEqual({ account: 'Administrator', secretVersion: 2, created: false });
  });
});

describe('BitLocker, the recovery password escrowed before encryption (issue 16)', () => {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const escrowed = async (
    host: SimulatedPlatform,
    key: Awaited<ReturnType<typeof generateTenantKey>>,
    v: number,
  ) => {
    const sealed = await run(host, StepKind.BitLockerEscrow, {
      mountPoint: 'C:',
      recipient: publicPart(key),
      machineId: 'machine-1',
      secretVersion: v,
    });
    const password = await openEscrowSecret(
      key,
      { machineId: 'machine-1', kind: 'bitlocker-recovery-password', secretVersion: v },
      sealed.envelope,
    );
    return { sealed, password };
  };

  it('touches nothing when escrowing; then adds exactly that recovery password, and only then encrypts with the TPM', async () => {
    const host = hosts();
    const key = await generateTenantKey({ tenantId: 'tenant-1', keyVersion: 1 });
    const { sealed, password } = await escrowed(host, key, 1);
    expect(password).toMatch(/^([0-9]{6}-){7}[0-9]{6}$/);
    for (const group of password.split('-')) expect(Number(group) % 11).toBe(0);
    expect(host.snapshot.bitlocker).toEqual({ protectionOn: false });
    const order: string[] = [];
    host.afterEffect = (effect) => void order.push(effect.split(':')[0]!);
    const applied = await run(host, StepKind.BitLockerApply, {
      mountPoint: 'C:',
      secretVersion: 1,
      envelopeDigest: envelopeDigest(sealed.envelope),
    });
    expect(order).toEqual(['bitlocker-protector', 'bitlocker-enable']);
    expect(applied).toMatchObject({
      enabled: true,
      removed: [],
      volumeStatus: 'FullyEncrypted',
      protectionStatus: 'On',
      encryptionPercentage: 100,
    });
    expect(host.recoveryPasswordHashes()).toEqual([sha256(password)]);
    expect(JSON.stringify(applied)).not.toContain(password);
  });

  it('rotates the recovery password of an encrypted volume instead of decrypting it', async () => {
    const host = hosts();
    const key = await generateTenantKey({ tenantId: 'tenant-1', keyVersion: 1 });
    const first = await escrowed(host, key, 1);
    await run(host, StepKind.BitLockerApply, {
      mountPoint: 'C:',
      secretVersion: 1,
      envelopeDigest: envelopeDigest(first.sealed.envelope),
    });
    const oldId = (await host.bitlockerVolume('C:')).protectors.find(
      (p) => p.type === 'RecoveryPassword',
    )!.id;
    const second = await escrowed(host, key, 2);
    const applied = await run(host, StepKind.BitLockerApply, {
      mountPoint: 'C:',
      secretVersion: 2,
      envelopeDigest: envelopeDigest(second.sealed.envelope),
    });
    expect(applied).toMatchObject({ enabled: false, removed: [oldId], volumeStatus: 'FullyEncrypted' });
    expect(host.recoveryPasswordHashes()).toEqual([sha256(second.password)]);
    expect(host.snapshot.effects['bitlocker-enable']).toBe(1);
    expect((await host.bitlockerVolume('C:')).protectors.map((p) => p.type).sort()).toEqual([
      'RecoveryPassword',
      'Tpm',
    ]);
  });

  it('changes nothing for a recovery password it no longer holds; without a ready TPM the escrowed password is on the volume and encryption is refused', async () => {
    const host = hosts();
    const key = await generateTenantKey({ tenantId: 'tenant-1', keyVersion: 1 });
    const { sealed, password } = await escrowed(host, key, 1);
    const lost = await rejection(
      runStep(
        host,
        StepKind.BitLockerApply,
        { mountPoint: 'C:', secretVersion: 1, envelopeDigest: envelopeDigest(sealed.envelope) },
        { ...ctx, pendingSecrets: new PendingSecrets() },
      ),
    );
    expect((lost as StepError).type).toBe('EscrowPendingLost');
    expect(host.snapshot.bitlocker).toEqual({ protectionOn: false });
    host.mutate((s) => void (s.tpm.ready = false));
    const refused = await rejection(
      runStep(
        host,
        StepKind.BitLockerApply,
        { mountPoint: 'C:', secretVersion: 1, envelopeDigest: envelopeDigest(sealed.envelope) },
        ctx,
      ),
    );
    expect((refused as Error).message).toContain('TPM');
    expect(host.snapshot.bitlocker.volumeStatus ?? 'FullyDecrypted').toBe('FullyDecrypted');
    expect(host.recoveryPasswordHashes()).toEqual([sha256(password)]);
  });
});
