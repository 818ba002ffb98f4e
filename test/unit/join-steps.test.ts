import { mkdtempSync, readFileSync, rmSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { StepError, type StepContext } from '../../agent/platform/platform';
import {
  newHostState,
  SimulatedPlatform,
  simulatedDownloadSha256,
} from '../../agent/platform/simulated/simulated-host';
import {
  simulatedPasswordHash,
  type SimulatedDirectory,
} from '../../agent/platform/simulated/simulated-join';
import { wrapScript } from '../../agent/platform/windows/powershell';
import { WindowsPlatform } from '../../agent/platform/windows/windows-platform';
import { runStep } from '../../agent/steps';
import { buildPlan } from '../../infra/provisioning/plan';
import { JoinProfileError, resolveProfile } from '../../infra/provisioning/profile';
import { StepFailure, StepKind, type StepPayloads } from '../../infra/wire/agent-steps';
import { checkStepPayload } from '../../infra/wire/step-payloads';
import { checkStepResult } from '../../infra/wire/step-results';
import { fakeRunner, json, ok } from '../helpers/powershell';
import { rejection } from '../helpers/rejection';

/**
 * The join phase (issue 16, ADR 0048): its profile validation and plan, its steps against the
 * simulated host (a domain with accounts, OUs and DCs; provisioning packages), and its Windows
 * scripts, pinned by golden files (test/fixtures/golden/join; `UPDATE_GOLDEN=1` rewrites them after
 * a reviewed change) and parsed by a real PowerShell grammar.
 */
const GOLDEN = path.join(__dirname, '../fixtures/golden/join');
const PASSWORD = "J0in-'$(calc)'-S3cret!";
const OU = 'OU=Laptops,OU=Computers,DC=corp,DC=contoso,DC=com';
const CREDENTIAL_ID = '3f1c2a9e-5b7d-4e21-9c8a-0d6f4b2e1a77';

const directory = (): SimulatedDirectory => ({
  domain: 'corp.contoso.com',
  netbios: 'CORP',
  defaultContainer: 'CN=Computers,DC=corp,DC=contoso,DC=com',
  ous: [OU],
  accounts: {
    'svc-join': { passwordSha256: simulatedPasswordHash(PASSWORD), mayJoin: true },
    reader: { passwordSha256: simulatedPasswordHash(PASSWORD), mayJoin: false },
  },
  controllers: ['dc1.corp.contoso.com'],
});

let dir: string;
let host: SimulatedPlatform;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-join-'));
  host = new SimulatedPlatform(path.join(dir, 'pc'), () => newHostState('pc', dir));
  host.mutate((s) => void (s.simulation.directory = directory()));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ctx = (credential?: StepContext['credential']): StepContext => ({
  idempotencyKey: 'wf:join',
  progress: async () => {},
  checkApi: async () => ({ ok: true, ms: 1, detail: 'ok' }),
  signal: new AbortController().signal,
  ...(credential ? { credential } : {}),
});
const joinCredential = (password = PASSWORD, user = 'svc-join') => ({
  domain: 'corp.contoso.com',
  user,
  password,
});
const join = (payload: Partial<StepPayloads[StepKind.JoinDomain]> = {}, c = ctx(joinCredential())) =>
  runStep(
    host,
    StepKind.JoinDomain,
    { domain: 'corp.contoso.com', ouPath: OU, credentialRef: CREDENTIAL_ID, newName: 'HQ-001', ...payload },
    c,
  );

describe('the join profile', () => {
  const layer = (join: unknown) => ({ phases: { join } });
  it('accepts a domain join by reference and an Entra join, and refuses the rest with stable codes', () => {
    expect(
      resolveProfile([
        layer({ enabled: true, domain: { name: 'corp.contoso.com', ouPath: OU, credential: 'site' } }),
      ]).ok,
    ).toBe(true);
    expect(resolveProfile([layer({ enabled: true, entra: { method: 'autopilot' } })]).ok).toBe(true);
    const codes = (join: unknown) => {
      const r = resolveProfile([layer(join)]);
      return r.ok ? [] : r.errors.map((e) => e.code);
    };
    expect(codes({ enabled: true })).toEqual([JoinProfileError.NoTarget]);
    expect(
      codes({
        enabled: true,
        domain: { name: 'CORP', ouPath: 'CN=Computers', credential: 'CORP\\admin:hunter2', server: 'a b' },
      }),
    ).toEqual([
      JoinProfileError.DomainName,
      JoinProfileError.OuPath,
      JoinProfileError.Credential,
      JoinProfileError.Server,
    ]);
    expect(codes({ enabled: true, entra: { method: 'provisioning-package' } })).toEqual([
      JoinProfileError.Package,
    ]);
    expect(
      codes({
        enabled: true,
        entra: {
          method: 'autopilot',
          package: { name: 'x', url: 'https://x/y.ppkg', sha256: 'a'.repeat(64) },
        },
      }),
    ).toEqual([JoinProfileError.Package]);
    expect(
      codes({ enabled: true, domain: { name: 'corp.contoso.com', credential: 'site', password: 'x' } }),
    ).toEqual([JoinProfileError.NoTarget]);
  });

  it('plans the join with the rename folded in, then its verification; the credential by id only', () => {
    const r = resolveProfile([
      layer({
        enabled: true,
        domain: { name: 'corp.contoso.com', ouPath: OU, credential: 'site', server: 'dc1.corp.contoso.com' },
      }),
    ]);
    if (!r.ok) throw new Error('invalid');
    expect(() => buildPlan(r.profile, { hostname: 'HQ-001' })).toThrow(/join credential/);
    const plan = buildPlan(r.profile, { hostname: 'HQ-001', joinCredentialId: CREDENTIAL_ID });
    expect(plan.map((s) => s.kind)).not.toContain(StepKind.Rename);
    const steps = plan.filter((s) => s.phase === 'join');
    expect(steps.map((s) => [s.key, s.payload])).toEqual([
      [
        'join.domain',
        {
          domain: 'corp.contoso.com',
          ouPath: OU,
          credentialRef: CREDENTIAL_ID,
          server: 'dc1.corp.contoso.com',
          newName: 'HQ-001',
        },
      ],
      ['join.verify', { domain: 'corp.contoso.com', ouPath: OU, name: 'HQ-001' }],
    ]);
    for (const s of steps) expect(checkStepPayload(s.kind, s.payload)).toBeNull();
    const entra = resolveProfile([
      layer({
        enabled: true,
        entra: {
          method: 'provisioning-package',
          package: { name: 'Bulk', url: 'https://files.example/bulk.ppkg', sha256: 'A'.repeat(64) },
        },
      }),
    ]);
    if (!entra.ok) throw new Error('invalid');
    const entraPlan = buildPlan(entra.profile, { hostname: 'HQ-001' });
    expect(entraPlan.map((s) => s.kind)).toContain(StepKind.Rename);
    expect(entraPlan.filter((s) => s.phase === 'join').map((s) => s.kind)).toEqual([
      StepKind.JoinEntra,
      StepKind.JoinVerify,
    ]);
  });
});

describe('join.domain on the simulated host', () => {
  it('joins into the OU with the new name after one restart, and verifies it', async () => {
    const joined = await join();
    expect(joined).toEqual({ domain: 'corp.contoso.com', renamed: true, reboot: true });
    expect(checkStepResult(StepKind.JoinDomain, joined)).toBeNull();
    // Redelivered before the restart: done, and the restart still due.
    expect(await join()).toEqual({
      alreadyDone: true,
      domain: 'corp.contoso.com',
      renamed: false,
      reboot: true,
    });
    expect(host.snapshot.effects['join:corp.contoso.com']).toBe(1);
    await expect(
      runStep(host, StepKind.JoinVerify, { domain: 'corp.contoso.com', ouPath: OU, name: 'HQ-001' }, ctx()),
    ).rejects.toMatchObject({ type: StepFailure.JoinNotVerified });
    host.reboot();
    const verified = await runStep(
      host,
      StepKind.JoinVerify,
      { domain: 'corp.contoso.com', ouPath: OU, name: 'HQ-001' },
      ctx(),
    );
    expect(verified).toEqual({
      name: 'HQ-001',
      domain: 'corp.contoso.com',
      distinguishedName: `CN=HQ-001,${OU}`,
      entraJoined: false,
    });
    expect(checkStepResult(StepKind.JoinVerify, verified)).toBeNull();
    expect(await join()).toEqual({
      alreadyDone: true,
      domain: 'corp.contoso.com',
      renamed: false,
      reboot: false,
    });
  });

  it('joins under a rename already waiting for its restart (JoinWithNewName), not renaming twice', async () => {
    await host.renameComputer('HQ-001');
    await join();
    host.reboot();
    expect((await host.joinState()).active).toBe('HQ-001');
  });

  it.each([
    [
      'a wrong password',
      joinCredential('wrong-password'),
      {},
      StepFailure.JoinAuthFailed,
      /user name or password is incorrect/,
      false,
    ],
    [
      'an account without the right',
      joinCredential(PASSWORD, 'reader'),
      {},
      StepFailure.JoinAuthFailed,
      /Access is denied/,
      false,
    ],
    [
      'a missing OU',
      joinCredential(),
      { ouPath: 'OU=Nowhere,DC=corp,DC=contoso,DC=com' },
      StepFailure.JoinOuNotFound,
      /cannot find the file/,
      false,
    ],
    [
      'an unknown domain',
      joinCredential(),
      { domain: 'other.example' },
      StepFailure.JoinDomainUnreachable,
      /does not exist or could not be contacted/,
      true,
    ],
    [
      'a DC not of the domain',
      joinCredential(),
      { server: 'dc9.elsewhere.example' },
      StepFailure.JoinDomainUnreachable,
      /could not be contacted/,
      true,
    ],
  ] as const)(
    'fails on %s with Windows’ words and a type',
    async (_, credential, payload, type, words, retryable) => {
      const err = await rejection(join(payload, ctx(credential)));
      expect(err).toBeInstanceOf(StepError);
      expect(err).toMatchObject({ type, retryable });
      expect((err as Error).message).toMatch(words);
      expect((err as Error).message).not.toContain(credential.password);
      expect(host.snapshot.domain).toBeNull();
    },
  );

  it('refuses a member of another domain, and a claim without the credential', async () => {
    await expect(join({}, ctx())).rejects.toMatchObject({ type: StepFailure.CredentialUnavailable });
    host.mutate((s) => void (s.domain = 'fabrikam.local'));
    await expect(join()).rejects.toMatchObject({
      type: StepFailure.JoinedToAnotherDomain,
      retryable: false,
      message: expect.stringContaining('fabrikam.local'),
    });
  });
});

describe('join.entra on the simulated host', () => {
  const url = 'https://files.example/bulk.ppkg';
  const sha256 = simulatedDownloadSha256(url);
  const ppkg = { method: 'provisioning-package' as const, package: { name: 'Bulk', url, sha256 } };

  it('applies a pinned provisioning package; the machine is Entra joined, verified after the restart', async () => {
    host.mutate((s) => void (s.simulation.provisioningPackages = { [sha256]: { tenantName: 'Contoso' } }));
    const applied = await runStep(host, StepKind.JoinEntra, ppkg, ctx());
    expect(applied).toMatchObject({ entraJoined: true, tenantName: 'Contoso', reboot: true });
    expect(checkStepResult(StepKind.JoinEntra, applied)).toBeNull();
    host.reboot();
    expect(await runStep(host, StepKind.JoinVerify, { entra: true }, ctx())).toMatchObject({
      entraJoined: true,
    });
    expect(await runStep(host, StepKind.JoinEntra, ppkg, ctx())).toMatchObject({ alreadyDone: true });
  });

  it('refuses a package that is not the pinned one, and an expired bulk token fails the verification', async () => {
    await expect(
      runStep(
        host,
        StepKind.JoinEntra,
        { ...ppkg, package: { ...ppkg.package, sha256: 'b'.repeat(64) } },
        ctx(),
      ),
    ).rejects.toMatchObject({ type: StepFailure.ProvisioningPackageUnavailable, retryable: false });
    host.mutate(
      (s) =>
        void (s.simulation.provisioningPackages = { [sha256]: { tenantName: 'Contoso', expired: true } }),
    );
    expect(await runStep(host, StepKind.JoinEntra, ppkg, ctx())).toMatchObject({
      entraJoined: false,
      reboot: true,
    });
    host.reboot();
    await expect(runStep(host, StepKind.JoinVerify, { entra: true }, ctx())).rejects.toMatchObject({
      type: StepFailure.JoinNotVerified,
    });
  });

  it('Autopilot runs nothing: it reports a joined machine and fails an unjoined one with the reason', async () => {
    await expect(runStep(host, StepKind.JoinEntra, { method: 'autopilot' }, ctx())).rejects.toMatchObject({
      type: StepFailure.EntraJoinFailed,
      message: expect.stringContaining('OOBE'),
    });
    host.mutate(
      (s) =>
        void (s.joined = {
          distinguishedName: null,
          pending: false,
          entraJoined: true,
          tenantName: 'Contoso',
          packages: [],
        }),
    );
    expect(await runStep(host, StepKind.JoinEntra, { method: 'autopilot' }, ctx())).toMatchObject({
      alreadyDone: true,
      entraJoined: true,
    });
    expect(Object.keys(host.snapshot.effects).filter((e) => e.startsWith('ppkg:'))).toEqual([]);
  });
});

// --- Windows ---------------------------------------------------------------------------------

let parser: Parser;
beforeAll(async () => {
  await Parser.init();
  parser = new Parser();
  parser.setLanguage(
    await Language.load(readFileSync(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'))),
  );
});
function parseProblems(script: string): string[] {
  const tree = parser.parse(script)!;
  const problems: string[] = [];
  const walk = (node: Node) => {
    if (node.isError || node.isMissing)
      problems.push(`${node.isMissing ? 'MISSING' : 'ERROR'} at ${node.startPosition.row + 1}`);
    if (node.hasError) for (const child of node.children) if (child) walk(child);
  };
  walk(tree.rootNode);
  tree.delete();
  return problems;
}

const workgroup = {
  active: 'DESKTOP-1',
  pending: 'DESKTOP-1',
  domain: null,
  joinPending: false,
  distinguishedName: null,
  entraJoined: false,
  tenantName: null,
};

/** Each Windows call with one answer; the scripts it ran, and how the password travelled. */
async function windowsScripts(values: { domain: string; ou: string; name: string }) {
  const out: Record<string, string> = {};
  const stdin: Record<string, string | undefined> = {};
  const record = async (
    label: string,
    answer: (script: string) => ReturnType<typeof ok>,
    call: (p: WindowsPlatform) => Promise<unknown>,
  ) => {
    const { run, calls } = fakeRunner(answer);
    await call(new WindowsPlatform({ run }));
    out[label] = calls.at(-1)!.script;
    stdin[label] = calls.at(-1)!.opts?.stdin;
  };
  await record(
    'join-state',
    () => json(workgroup),
    (p) => p.joinState(),
  );
  const credential = { user: 'CORP\\svc-join', password: PASSWORD };
  await record(
    'join-domain',
    () => ok('{"joined":true}'),
    (p) => p.joinDomain({ domain: values.domain, ouPath: values.ou, newName: values.name }, credential),
  );
  await record(
    'join-domain-server',
    () => ok('{"joined":true}'),
    (p) =>
      p.joinDomain({ domain: values.domain, ouPath: values.ou, server: 'dc1.corp.contoso.com' }, credential),
  );
  await record(
    'join-domain-rename-pending',
    () => ok('{"joined":true}'),
    (p) => p.joinDomain({ domain: values.domain, renamePending: true }, credential),
  );
  await record(
    'install-provisioning-package',
    () => ok('{"packageId":"x"}'),
    (p) => p.installProvisioningPackage('C:\\ProgramData\\Drydock\\downloads\\bulk.ppkg', 'A'.repeat(64)),
  );
  return { out, stdin };
}

describe('the Windows join scripts', () => {
  it('are pinned by their golden files', async () => {
    const { out } = await windowsScripts({ domain: 'corp.contoso.com', ou: OU, name: 'HQ-001' });
    mkdirSync(GOLDEN, { recursive: true });
    for (const [label, script] of Object.entries(out)) {
      const file = path.join(GOLDEN, `${label}.ps1`);
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, script);
      expect(`${label}:\n${script}`).toBe(`${label}:\n${readFileSync(file, 'utf8')}`);
    }
    expect(Object.keys(out)).toHaveLength(5);
  });

  it('take the password on stdin only: never in a script', async () => {
    const { out, stdin } = await windowsScripts({ domain: 'corp.contoso.com', ou: OU, name: 'HQ-001' });
    for (const script of Object.values(out)) {
      expect(script).not.toContain(PASSWORD);
      expect(script).not.toContain(Buffer.from(PASSWORD, 'utf8').toString('base64'));
    }
    expect(Buffer.from(stdin['join-domain']!, 'base64').toString('utf8')).toBe(PASSWORD);
    expect(out['join-domain']).toContain(
      "Add-Computer -DomainName 'corp.contoso.com' -OUPath 'OU=Laptops,OU=Computers,DC=corp,DC=contoso,DC=com' -Credential $credential -NewName 'HQ-001' -Options 'AccountCreate, JoinWithNewName' -Force -PassThru -ErrorAction Stop",
    );
    expect(out['join-domain-rename-pending']).toContain("-Options 'AccountCreate, JoinWithNewName' -Force");
    expect(out['join-domain-rename-pending']).not.toContain('-NewName');
    expect(out['join-domain-server']).toContain(
      "-Server 'dc1.corp.contoso.com' -Options 'AccountCreate' -Force",
    );
    expect(out['install-provisioning-package']).toContain(
      'Install-ProvisioningPackage -PackagePath $path -ForceInstall -QuietInstall',
    );
    expect(out['join-state']).toContain('dsregcmd.exe');
    expect(out['join-state']).toContain('Win32_ComputerSystem');
  });

  it.each([
    { domain: 'corp.contoso.com', ou: OU, name: 'HQ-001' },
    { domain: "corp'; Remove-Item C:\\ -Recurse; '", ou: "OU=O'Brien $(calc),DC=x", name: 'HQ-001' },
  ])('parse as PowerShell with no error and keep hostile values literal (%#)', async (values) => {
    const { out } = await windowsScripts(values);
    for (const [label, script] of Object.entries(out))
      expect({ label, problems: parseProblems(wrapScript(script)) }).toEqual({ label, problems: [] });
    if (values.ou.includes("'")) expect(out['join-domain']).toContain("-OUPath 'OU=O''Brien $(calc),DC=x'");
  });

  it('reports Add-Computer’s failure by type, with the password cut out of Windows’ message', async () => {
    const message = `Computer 'DESKTOP-1' failed to join domain 'corp.contoso.com' from its current workgroup 'WORKGROUP' with following error message: The user name or password is incorrect. (${PASSWORD})`;
    const report = Buffer.from(
      JSON.stringify({ message, type: 'System.InvalidOperationException', hresult: -2146233079 }),
      'utf8',
    ).toString('base64');
    const { run } = fakeRunner((script) =>
      script.includes('Add-Computer')
        ? { exitCode: 1, stdout: '', stderr: `DRYDOCK-ERROR:${report}` }
        : json(workgroup),
    );
    const err = await rejection(
      runStep(
        new WindowsPlatform({ run }),
        StepKind.JoinDomain,
        { domain: 'corp.contoso.com', credentialRef: CREDENTIAL_ID },
        ctx(joinCredential()),
      ),
    );
    expect(err).toMatchObject({ type: StepFailure.JoinAuthFailed, retryable: false });
    expect((err as Error).message).toContain('The user name or password is incorrect');
    expect((err as Error).message).not.toContain(PASSWORD);
    expect((err as Error).message).toContain('[redacted]');
  });
});
