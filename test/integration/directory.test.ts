import {
  DirectoryError,
  enumerateComputers,
  testBind,
  type DirectoryEndpoint,
} from '../../agent/gateway/directory/ad-directory';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Harness } from '../../agent/harness/harness';
import { withTenant } from '../../infra/db/orm';
import { generateKeyEntry } from '../../infra/secrets/server-secrets';
import { discoverSiteWorkflowId, enumerationScheduleId } from '../../workflows/directory/contracts';
import { gql } from '../helpers/api';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { runStep } from '../../agent/steps';
import { StepError, type Platform, type StepContext } from '../../agent/platform/platform';
import { StepFailure, StepKind } from '../../infra/wire/agent-steps';
import { checkStepResult } from '../../infra/wire/step-results';
import os from 'node:os';
import path from 'node:path';
import {
  candidateDomains,
  discoverDomain,
  systemSearchSuffixes,
} from '../../agent/gateway/directory/domain-discovery';
import {
  ADMIN_PASSWORD,
  DOMAIN,
  SAMBA_IP,
  sambaAvailable,
  startSambaDomain,
  SVC_PASSWORD,
  SVC_USER,
  WORKSTATIONS,
  type SambaDomain,
} from '../helpers/samba-domain';

/** The gateway's directory work against a real Samba AD DC: DNS discovery, binds, paged enumeration. */

const unavailable = sambaAvailable();
if (unavailable) process.stdout.write(`skipping the Samba AD DC tests: ${unavailable}\n`);
const describeSamba = unavailable ? describe.skip : describe;

jest.setTimeout(180_000);

describe('candidate domains from search suffixes', () => {
  it('walks each suffix up to two labels, without duplicates', () => {
    expect(candidateDomains(['Branch.Corp.Example.com.', 'corp.example.com', 'lan'])).toEqual([
      'branch.corp.example.com',
      'corp.example.com',
      'example.com',
    ]);
  });
});

describe("the gateway's own search suffixes", () => {
  it('come from resolv.conf (search and domain lines)', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'resolv-')), 'resolv.conf');
    writeFileSync(
      file,
      '# comment\nnameserver 10.0.0.1\nsearch branch.corp.example corp.example\ndomain lan.example\n',
    );
    expect(systemSearchSuffixes(file).slice(0, 3)).toEqual([
      'branch.corp.example',
      'corp.example',
      'lan.example',
    ]);
  });
});

describeSamba('a site gateway against a Samba AD DC', () => {
  let samba: SambaDomain;
  let ldaps: DirectoryEndpoint;

  beforeAll(async () => {
    samba = await startSambaDomain();
    // The DC's name resolves through Samba's own DNS only, so tests reach it by its address (which
    // its certificate names too).
    ldaps = { host: SAMBA_IP, security: 'ldaps', caPem: samba.caPem };
  });

  afterAll(async () => {
    await samba?.stop();
  });

  it('discovers the domain, its DC, site and LDAPS certificate from DNS alone', async () => {
    const found = await discoverDomain({
      resolvers: [SAMBA_IP],
      searchSuffixes: ['example.invalid', 'branch.drydock.test'],
    });
    expect(found).not.toBeNull();
    expect(found!.domain).toBe(DOMAIN);
    expect(found!.tried).toEqual(['example.invalid', 'branch.drydock.test', 'drydock.test']);
    expect(found!.domainControllers).toEqual([
      { host: 'dc1.drydock.test', port: 389, priority: 0, weight: 100, addresses: [SAMBA_IP] },
    ]);
    expect(found!.kerberos).toEqual([{ host: 'dc1.drydock.test', port: 88 }]);
    expect(found!.baseDn).toBe('DC=drydock,DC=test');
    expect(found!.site).toBe('Default-First-Site-Name');
    expect(found!.certificate?.sha256).toBe(samba.certSha256);

    expect(await discoverDomain({ resolvers: [SAMBA_IP], searchSuffixes: ['elsewhere.invalid'] })).toBeNull();
  });

  it('accepts the right credential over LDAPS and StartTLS, with the private CA and a pin', async () => {
    await testBind(ldaps, { user: SVC_USER, password: SVC_PASSWORD }, DOMAIN);
    await testBind(
      { ...ldaps, security: 'starttls' },
      { user: `DRYDOCK\\${SVC_USER}`, password: SVC_PASSWORD },
      DOMAIN,
    );
    await testBind(
      { ...ldaps, pinSha256: samba.certSha256 },
      { user: 'Administrator', password: ADMIN_PASSWORD },
      DOMAIN,
    );
  });

  it('refuses a wrong password, an untrusted certificate or a wrong pin, in words and without the password', async () => {
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e as DirectoryError,
      );
    const wrong = await failure(testBind(ldaps, { user: SVC_USER, password: 'Guessed-Passw0rd' }, DOMAIN));
    expect(wrong).toBeInstanceOf(DirectoryError);
    expect(wrong!.kind).toBe('auth');
    expect(wrong!.message).toMatch(/refused the credential/);
    expect(wrong!.message).not.toContain('Guessed');

    const untrusted = await failure(
      testBind({ ...ldaps, caPem: undefined }, { user: SVC_USER, password: SVC_PASSWORD }, DOMAIN),
    );
    expect(untrusted!.kind).toBe('tls');
    const pinned = await failure(
      testBind({ ...ldaps, pinSha256: 'ab'.repeat(32) }, { user: SVC_USER, password: SVC_PASSWORD }, DOMAIN),
    );
    expect(pinned!.kind).toBe('tls');
    const empty = await failure(testBind(ldaps, { user: SVC_USER, password: '' }, DOMAIN));
    expect(empty!.kind).toBe('auth');
    const closed = await failure(
      testBind({ ...ldaps, port: 1 }, { user: SVC_USER, password: SVC_PASSWORD }, DOMAIN),
    );
    expect(closed!.kind).toBe('network');
  });

  it(`lists every computer page by page (${WORKSTATIONS} workstations), with role, enabled flag, OU and last logon`, async () => {
    const pages: number[] = [];
    const { computers, pages: pageCount } = await enumerateComputers(
      ldaps,
      { user: SVC_USER, password: SVC_PASSWORD },
      DOMAIN,
      { pageSize: 100, onPage: (p) => void pages.push(p.entries) },
    );
    // 500 workstations, 3 servers, 1 computer in OU=Disabled, and the DC.
    expect(computers).toHaveLength(WORKSTATIONS + 5);
    expect(pageCount).toBeGreaterThanOrEqual(6);
    expect(Math.max(...pages)).toBeLessThanOrEqual(100);
    expect(new Set(computers.map((c) => c.objectGuid)).size).toBe(computers.length);
    for (const c of computers)
      expect(c.objectGuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const byName = new Map(computers.map((c) => [c.name, c]));
    expect(byName.get('DC1')).toMatchObject({
      role: 'domain-controller',
      enabled: true,
      ou: 'OU=Domain Controllers,DC=drydock,DC=test',
    });
    expect(byName.get('SRV-FILE01')).toMatchObject({
      role: 'server',
      enabled: true,
      dnsHostName: 'srv-file01.drydock.test',
      operatingSystem: 'Windows Server 2022 Datacenter',
      operatingSystemVersion: '10.0 (20348)',
      ou: 'OU=Servers,DC=drydock,DC=test',
    });
    expect(byName.get('SRV-OLD01')).toMatchObject({ role: 'server', enabled: false });
    expect(byName.get('WS-GONE01')).toMatchObject({ enabled: false, ou: 'OU=Disabled,DC=drydock,DC=test' });
    expect(byName.get('WS-0049')).toMatchObject({
      role: 'workstation',
      enabled: true,
      dnsHostName: 'ws-0049.drydock.test',
    });
    expect(byName.get('WS-0050')).toMatchObject({ role: 'workstation', enabled: false });
    expect(computers.filter((c) => c.role === 'workstation' && !c.enabled)).toHaveLength(
      WORKSTATIONS / 50 + 1,
    );

    const daysAgo = (iso: string | null) => (Date.now() - Date.parse(iso!)) / 86_400_000;
    expect(daysAgo(byName.get('WS-0001')!.lastLogonAt)).toBeGreaterThan(700);
    expect(daysAgo(byName.get('WS-0004')!.lastLogonAt)).toBeLessThan(10);
    expect(byName.get('WS-GONE01')!.lastLogonAt).toBeNull();
  });

  describe('as gateway steps (what the agent runs for a directory.* task)', () => {
    // The gateway's steps use the network, never the machine: no platform call is made.
    const noPlatform = {} as Platform;
    const progress: string[] = [];
    const ctx = (credential?: StepContext['credential']): StepContext => ({
      idempotencyKey: 'test',
      signal: new AbortController().signal,
      progress: async (_percent, message) => void progress.push(message),
      checkApi: async () => ({ ok: true, ms: 0, detail: '' }),
      ...(credential ? { credential } : {}),
    });
    const bind = { credentialRef: '00000000-0000-4000-8000-000000000001', domain: DOMAIN };
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e as StepError,
      );

    it('directory.discover reports the domain, in a result the API accepts', async () => {
      const result = await runStep(
        noPlatform,
        StepKind.DirectoryDiscover,
        { resolvers: [SAMBA_IP], searchSuffixes: ['branch.drydock.test'] },
        ctx(),
      );
      expect(result.found?.domain).toBe(DOMAIN);
      expect(result.found?.certificate?.sha256).toBe(samba.certSha256);
      expect(result.tried).toEqual(['branch.drydock.test', 'drydock.test']);
      expect(checkStepResult(StepKind.DirectoryDiscover, result)).toBeNull();

      const none = await runStep(
        noPlatform,
        StepKind.DirectoryDiscover,
        { resolvers: [SAMBA_IP], searchSuffixes: ['elsewhere.invalid'] },
        ctx(),
      );
      expect(none).toEqual({ found: null, tried: [] });
      expect(checkStepResult(StepKind.DirectoryDiscover, none)).toBeNull();
    });

    it('directory.enumerate lists every computer with the credential from the claim, in a result the API accepts', async () => {
      progress.length = 0;
      const result = await runStep(
        noPlatform,
        StepKind.DirectoryEnumerate,
        { ...bind, endpoint: { host: SAMBA_IP, security: 'ldaps', caPem: samba.caPem }, pageSize: 200 },
        ctx({ domain: DOMAIN, user: SVC_USER, password: SVC_PASSWORD }),
      );
      expect(result.computers).toHaveLength(WORKSTATIONS + 5);
      expect(result.pages).toBeGreaterThanOrEqual(3);
      expect(checkStepResult(StepKind.DirectoryEnumerate, result)).toBeNull();
      expect(JSON.stringify(result)).not.toContain(SVC_PASSWORD);
      expect(progress.join('\n')).not.toContain(SVC_PASSWORD);
    });

    it('directory.test-bind refuses a wrong password as DirectoryAuthFailed (permanent, no password in it), and runs nothing without a credential', async () => {
      const endpoint = { host: SAMBA_IP, security: 'ldaps' as const, caPem: samba.caPem };
      const ok = await runStep(
        noPlatform,
        StepKind.DirectoryTestBind,
        { ...bind, endpoint },
        ctx({ domain: DOMAIN, user: SVC_USER, password: SVC_PASSWORD }),
      );
      expect(ok).toEqual({ domain: DOMAIN, user: SVC_USER });
      expect(checkStepResult(StepKind.DirectoryTestBind, ok)).toBeNull();

      const wrong = await failure(
        runStep(
          noPlatform,
          StepKind.DirectoryTestBind,
          { ...bind, endpoint },
          ctx({ domain: DOMAIN, user: SVC_USER, password: 'Guessed-Passw0rd' }),
        ),
      );
      expect(wrong).toBeInstanceOf(StepError);
      expect(wrong).toMatchObject({ type: StepFailure.DirectoryAuthFailed, retryable: false });
      expect(wrong!.message).not.toContain('Guessed');

      const closed = await failure(
        runStep(
          noPlatform,
          StepKind.DirectoryEnumerate,
          { ...bind, endpoint: { ...endpoint, port: 1 } },
          ctx({ domain: DOMAIN, user: SVC_USER, password: SVC_PASSWORD }),
        ),
      );
      expect(closed).toMatchObject({ type: StepFailure.DirectoryUnreachable, retryable: true });

      const without = await failure(
        runStep(noPlatform, StepKind.DirectoryEnumerate, { ...bind, endpoint }, ctx()),
      );
      expect(without).toMatchObject({ type: StepFailure.CredentialUnavailable, retryable: false });

      const badPayload = await failure(
        runStep(noPlatform, StepKind.DirectoryEnumerate, { ...bind, endpoint: { host: SAMBA_IP } }, ctx()),
      );
      expect(badPayload).toMatchObject({ type: StepFailure.InvalidPayload });
    });
  });
  describe('the discoverSite and enumerateDirectory workflows, through a gateway agent', () => {
    // The real stack (API, worker, Temporal, PostgreSQL) and one simulated machine as the site's
    // gateway: its directory steps reach this Samba DC over the network, as a real gateway's would.
    const keyEntry = generateKeyEntry('dir1');
    let stack: AgentStack;
    let harness: Harness;
    const apiLog: string[] = [];
    let gatewayId: string;
    const graphql = <T = Record<string, unknown>>(
      query: string,
      variables: Record<string, unknown> = {},
      role?: 'viewer' | 'operator' | 'engineer' | 'admin',
    ) => gql<T>(stack.app, stack.tenant.tenantId, query, variables, role);
    type Discovery = {
      state: string;
      running: boolean;
      reminders: number;
      lastRefusal: string | null;
      credentialVersion: number | null;
      domain: {
        domain: string;
        certificateSha256: string | null;
        domainControllers: { host: string; addresses: string[] }[];
      } | null;
      enumeration: { computers: number; added: number | null } | null;
    };
    const discovery = async () =>
      (
        await graphql<{ siteDiscovery: Discovery | null }>(
          `
            query ($s: ID!) {
              siteDiscovery(siteId: $s) {
                state
                running
                reminders
                lastRefusal
                credentialVersion
                domain {
                  domain
                  certificateSha256
                  domainControllers {
                    host
                    addresses
                  }
                }
                enumeration {
                  computers
                  added
                }
              }
            }
          `,
          { s: stack.tenant.siteId },
        )
      ).data!.siteDiscovery;
    const until = async (what: string, ok: (d: Discovery | null) => boolean, ms = 90_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const d = await discovery();
        if (ok(d)) return d!;
        if (Date.now() > deadline) throw new Error(`discovery never ${what}: ${JSON.stringify(d)}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    const setCredential = (password: string) =>
      graphql<{ setDomainCredential: { version: number; domain: string; user: string } }>(
        `
          mutation ($i: SetDomainCredentialInput!) {
            setDomainCredential(input: $i) {
              version
              domain
              user
            }
          }
        `,
        { i: { siteId: stack.tenant.siteId, user: SVC_USER, password, caPem: samba.caPem } },
        'engineer',
      );

    beforeAll(async () => {
      // The API's log at debug level is kept: the password must not be in it either.
      stack = await startAgentStack(
        { DRYDOCK_SECRET_KEYS: keyEntry, DIRECTORY_REMINDER_HOURS: '0.001', LOG_LEVEL: 'debug' },
        {
          logStream: new Writable({
            write(chunk: Buffer, _enc, done) {
              apiLog.push(chunk.toString());
              done();
            },
          }),
        },
      );
      const key = await stack.issueEnrollmentKey();
      harness = new Harness({
        apiUrl: stack.apiUrl,
        siteCode: stack.tenant.siteCode,
        enrollmentKey: key.key,
        fingerprint: key.fingerprint,
        machines: 1,
        stateDir: path.join(stack.stateDir, 'gateway'),
        pollSeconds: 1,
      });
      harness.start();
      await harness.waitForEnrollment();
      gatewayId = harness.machines[0]!.agent.machineId!;
    });
    afterAll(async () => {
      await harness?.stop();
      await stack?.close();
    });

    it('refuses to start without a gateway, then finds the domain from DNS alone once a machine is made the gateway', async () => {
      const role = (r: 'GATEWAY' | 'ENDPOINT', as: 'operator' | 'engineer') =>
        graphql(
          `
            mutation ($m: ID!, $r: MachineRole!) {
              setMachineRole(machineId: $m, role: $r) {
                id
                role
              }
            }
          `,
          { m: gatewayId, r },
          as,
        );
      const early = await graphql(
        `
          mutation ($s: ID!) {
            startSiteDiscovery(siteId: $s) {
              state
            }
          }
        `,
        { s: stack.tenant.siteId },
        'engineer',
      );
      expect(early.errors).toBeUndefined();
      // It ends failed (after raising its alert): a discovery needs the site's gateway.
      await until('failed', (d) => d?.state === 'failed' && !d.running);
      const noGateway = await graphql<{ alerts: { kind: string }[] }>('{ alerts(last: 20) { kind } }');
      expect(noGateway.data!.alerts.map((a) => a.kind)).toContain('DirectoryNoGateway');
      expect((await role('GATEWAY', 'operator')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await role('GATEWAY', 'engineer')).data).toEqual({
        setMachineRole: { id: gatewayId, role: 'gateway' },
      });
      const started = await graphql<{ startSiteDiscovery: { state: string } }>(
        `
          mutation ($s: ID!, $r: [String!], $q: [String!]) {
            startSiteDiscovery(siteId: $s, resolvers: $r, searchSuffixes: $q) {
              state
            }
          }
        `,
        { s: stack.tenant.siteId, r: [SAMBA_IP], q: ['branch.drydock.test'] },
        'engineer',
      );
      expect(started.errors).toBeUndefined();
      const again = await graphql(
        `
          mutation ($s: ID!) {
            startSiteDiscovery(siteId: $s) {
              state
            }
          }
        `,
        { s: stack.tenant.siteId },
        'engineer',
      );
      expect(again.errors?.[0]?.extensions?.code).toBe('RUN_IN_PROGRESS');
      const found = await until('found the domain', (d) => d?.state === 'awaiting-credential');
      expect(found.domain).toMatchObject({
        domain: DOMAIN,
        certificateSha256: samba.certSha256,
        domainControllers: [{ host: 'dc1.drydock.test', addresses: [SAMBA_IP] }],
      });
      // The alert asks for the credential, and reminds while none is accepted.
      await until('reminded', (d) => (d?.reminders ?? 0) >= 1, 30_000);
      // The count moves before its alert is written: wait for the reminder's alert itself.
      let asked: { kind: string; message: string }[] = [];
      for (const deadline = Date.now() + 30_000; asked.length < 2 && Date.now() < deadline;) {
        const alerts = await graphql<{ alerts: { kind: string; message: string }[] }>(
          '{ alerts(last: 20) { kind message } }',
        );
        asked = alerts.data!.alerts.filter((a) => a.kind === 'DirectoryCredentialNeeded');
        if (asked.length < 2) await new Promise((r) => setTimeout(r, 300));
      }
      expect(asked.length).toBeGreaterThanOrEqual(2);
      expect(asked.at(-1)!.message).toContain(`Domain ${DOMAIN} found`);
    });

    it('refuses a wrong credential at entry with the reason, accepts the right one, enumerates and keeps manual hosts', async () => {
      const manual = await graphql(
        `
          mutation ($i: AddManualHostInput!) {
            addManualHost(input: $i) {
              id
            }
          }
        `,
        { i: { siteId: stack.tenant.siteId, name: 'Hand-entered', dnsName: 'ws-0007.drydock.test' } },
        'operator',
      );
      expect(manual.errors).toBeUndefined();
      const wrong = await setCredential('Guessed-Passw0rd!');
      expect(wrong.errors?.[0]?.extensions?.code).toBe('CREDENTIAL_REFUSED');
      expect(wrong.errors?.[0]?.message).toMatch(/refused the credential \(invalid user name or password\)/);
      expect(wrong.errors?.[0]?.message).not.toContain('Guessed');
      expect((await discovery())!).toMatchObject({ state: 'awaiting-credential', credentialVersion: null });

      const right = await setCredential(SVC_PASSWORD);
      expect(right.errors).toBeUndefined();
      expect(right.data!.setDomainCredential).toMatchObject({ domain: DOMAIN, user: SVC_USER });
      // 'done' is its last state; the run closes just after it.
      const done = await until('enumerated and closed', (d) => d?.state === 'done' && !d.running, 120_000);
      const direct = await enumerateComputers(ldaps, { user: SVC_USER, password: SVC_PASSWORD }, DOMAIN);
      expect(done.enumeration).toMatchObject({
        computers: direct.computers.length,
        added: direct.computers.length - 1,
      });

      const hosts = await graphql<{
        discoveredHosts: {
          name: string;
          source: string;
          dnsName: string | null;
          role: string | null;
          enabled: boolean | null;
        }[];
      }>(
        `
          query ($s: ID!) {
            discoveredHosts(siteId: $s) {
              name
              source
              dnsName
              role
              enabled
            }
          }
        `,
        { s: stack.tenant.siteId },
      );
      const list = hosts.data!.discoveredHosts;
      expect(list).toHaveLength(direct.computers.length);
      // The operator's entry kept its name and source, and is filled in from AD.
      expect(list.find((h) => h.dnsName === 'ws-0007.drydock.test')).toMatchObject({
        name: 'Hand-entered',
        source: 'manual',
        role: 'workstation',
        enabled: true,
      });
      expect(list.find((h) => h.name === 'WS-0050')).toMatchObject({ enabled: false });
      expect(list.find((h) => h.name === 'DC1')).toMatchObject({ role: 'domain-controller' });
    });

    it('re-enumerates on demand through the site schedule, and no history, table row or agent file holds the password', async () => {
      const schedule = stack.temporal.schedule.getHandle(
        enumerationScheduleId(stack.tenant.tenantId, stack.tenant.siteId),
      );
      expect((await schedule.describe()).action).toMatchObject({
        type: 'startWorkflow',
        workflowType: 'enumerateDirectory',
      });
      const viewer = await graphql(
        `
          mutation ($s: ID!) {
            enumerateDirectoryNow(siteId: $s)
          }
        `,
        { s: stack.tenant.siteId },
        'viewer',
      );
      expect(viewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const now = await graphql(
        `
          mutation ($s: ID!) {
            enumerateDirectoryNow(siteId: $s)
          }
        `,
        { s: stack.tenant.siteId },
        'operator',
      );
      expect(now.errors).toBeUndefined();
      let workflowId = '';
      for (const deadline = Date.now() + 30_000; !workflowId;) {
        const action = (await schedule.describe()).info.recentActions.at(-1)?.action;
        if (action && 'workflow' in action) workflowId = action.workflow.workflowId;
        else if (Date.now() > deadline) throw new Error('the schedule started nothing');
        else await new Promise((r) => setTimeout(r, 300));
      }
      const summary = (await stack.temporal.workflow.getHandle(workflowId).result()) as {
        computers: number;
        added?: number;
        updated?: number;
      };
      expect(summary).toMatchObject({ added: 0 });
      expect(summary.computers).toBeGreaterThan(WORKSTATIONS);

      const histories = await Promise.all(
        [discoverSiteWorkflowId(stack.tenant.tenantId, stack.tenant.siteId), workflowId].map(async (id) =>
          JSON.stringify(await stack.temporal.workflow.getHandle(id).fetchHistory()),
        ),
      );
      const rows = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
        em.execute(`select (select json_agg(t) from agent_tasks t)::text as tasks,
                           (select json_agg(c) from domain_credentials c)::text as credentials,
                           (select json_agg(a) from audit_events a)::text as audit,
                           (select json_agg(a) from alerts a)::text as alerts`),
      );
      // Every row of every table, as the database's owner sees them (no RLS): a dump's content.
      const owner = await stack.db.adminClient();
      const dump: string[] = [];
      try {
        const { rows: tables } = await owner.query<{ name: string }>(
          `select quote_ident(table_name) as name from information_schema.tables
            where table_schema = 'public' and table_type = 'BASE TABLE'`,
        );
        for (const { name } of tables)
          dump.push(
            ...(await owner.query<{ row: string }>(`select t::text as row from ${name} t`)).rows.map(
              (r) => r.row,
            ),
          );
      } finally {
        await owner.end();
      }
      expect(dump.length).toBeGreaterThan(WORKSTATIONS);
      // And what the gateway agent wrote to disk (journal, logs, state).
      const files: string[] = [];
      const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const full = path.join(dir, entry.name);
          if (entry.isDirectory()) walk(full);
          else files.push(readFileSync(full, 'latin1'));
        }
      };
      walk(stack.stateDir);
      expect(files.length).toBeGreaterThan(0);
      expect(apiLog.join('')).toContain('/v1/agent/tasks');
      for (const text of [...histories, JSON.stringify(rows), dump.join('\n'), ...files, apiLog.join('')]) {
        expect(text).not.toContain(SVC_PASSWORD);
        expect(text).not.toContain('Guessed-Passw0rd!');
      }
      expect(histories[0]).not.toContain('WS-0049');
      // DRYDOCK_RECORD_HISTORIES=test/histories records these two for the replay test (test/histories/README.md).
      const record = process.env.DRYDOCK_RECORD_HISTORIES;
      if (record)
        for (const [id, file] of [
          [discoverSiteWorkflowId(stack.tenant.tenantId, stack.tenant.siteId), 'discover-site-done.json'],
          [workflowId, 'enumerate-directory-scheduled.json'],
        ] as const)
          writeFileSync(
            path.join(record, file),
            execFileSync(process.env.DRYDOCK_TEST_TEMPORAL_CLI!, [
              'workflow',
              'show',
              '-w',
              id,
              '-o',
              'json',
              '--address',
              process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS!,
            ]),
          );
    });
  });
});
