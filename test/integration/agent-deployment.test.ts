import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Harness } from '../../agent/harness/harness';
import { installScript, stateScript } from '../../agent/gateway/winrm/agent-push';
import { setMachineRole, storeDomainCredential } from '../../infra/db/domain-credentials';
import { withTenant } from '../../infra/db/orm';
import { generateKeyEntry, parseKeyring } from '../../infra/secrets/server-secrets';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import { freePort } from '../helpers/shared';
import { seedSiteMsi, SimulatedAgentTarget } from '../helpers/simulated-agent-target';
import { WsManTestServer } from '../helpers/wsman-test-server';
import { deployAgentWorkflowId } from '../../workflows/deployment/contracts';

/**
 * Agent push over WinRM end to end (issue 15 acceptance 2, ADR 0043): the real API, worker,
 * Temporal and PostgreSQL; a simulated gateway agent (agent/harness) running the real winrm.*
 * steps over real NTLM-encrypted WS-Management to WS-Man test servers that model the target hosts;
 * each target downloads the site's MSI through its one-time link from the API, and "installing" it
 * starts a simulated machine with the host's name, which enrolls through the real API. No Samba:
 * the site's credential is stored directly, and the test servers check NTLM against it.
 */

jest.setTimeout(240_000);

const PASSWORD = 'Deploy-Passw0rd!';
const DOMAIN = 'drydock.test';
const USER = 'drydock-svc';
const keyEntry = generateKeyEntry('deploy1');
const ring = parseKeyring(keyEntry);

let stack: AgentStack;
let gateway: Harness;
let port: number;
const servers: WsManTestServer[] = [];
const installed: Harness[] = [];
let msi: { id: string; fileName: string; sha256: string };
let enrollment: { key: string; fingerprint: string; version: number };

const graphql = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) =>
  gql<T>(stack.app, stack.tenant.tenantId, query, variables, 'operator');

/** A host the gateway reaches at `address` (a loopback address of its own, on the shared port). */
async function targetHost(address: string, opts: { password?: string; msiexecMs?: number } = {}) {
  const target = new SimulatedAgentTarget({ msiexecMs: opts.msiexecMs ?? 300 });
  const server = await new WsManTestServer({
    users: { [`${DOMAIN}\\${USER}`]: opts.password ?? PASSWORD },
    computer: 'WIN-TARGET',
    domain: 'DRYDOCK',
    host: address,
    httpPort: port,
    powershell: target.powershell,
  }).start();
  servers.push(server);
  return { target, server };
}

/** The simulated machine that "is" the host once its agent is installed: it enrolls with its name. */
function installedMachine(prefix: string): Harness {
  const h = new Harness({
    apiUrl: stack.apiUrl,
    siteCode: stack.tenant.siteCode,
    enrollmentKey: enrollment.key,
    fingerprint: enrollment.fingerprint,
    machines: 1,
    namePrefix: prefix,
    stateDir: path.join(stack.stateDir, `host-${prefix}`),
    pollSeconds: 1,
  });
  installed.push(h);
  return h;
}

async function addHost(name: string, dnsName: string): Promise<string> {
  const res = await graphql<{ addManualHost: { id: string } }>(
    'mutation($i: AddManualHostInput!) { addManualHost(input: $i) { id } }',
    { i: { siteId: stack.tenant.siteId, name, dnsName } },
  );
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.addManualHost.id;
}

type Deployment = {
  workflowId: string;
  running: boolean;
  deployed: number;
  skipped: number;
  failed: number;
  hosts: { hostId: string; outcome: string; reason: string; machineId: string | null }[];
};
const DEPLOYMENT_FIELDS =
  'workflowId running deployed skipped failed hosts { hostId outcome reason machineId }';

async function deploy(hostIds: string[], concurrency = 2): Promise<Deployment> {
  const started = await graphql<{ deployAgents: Deployment }>(
    `mutation($i: DeployAgentsInput!) { deployAgents(input: $i) { ${DEPLOYMENT_FIELDS} } }`,
    { i: { siteId: stack.tenant.siteId, hostIds, concurrency, port } },
  );
  if (!started.data) throw new Error(JSON.stringify(started.errors));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await graphql<{ agentDeployment: Deployment | null }>(
      `query($w: String!) { agentDeployment(workflowId: $w) { ${DEPLOYMENT_FIELDS} } }`,
      { w: started.data.deployAgents.workflowId },
    );
    const d = res.data?.agentDeployment;
    if (d && !d.running) return d;
    if (Date.now() > deadline) throw new Error(`the deployment did not finish: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

type Host = { id: string; machineId: string | null; deployState: string | null; deployReason: string | null };
async function hosts(): Promise<Map<string, Host>> {
  const res = await graphql<{ discoveredHosts: Host[] }>(
    'query($s: ID!) { discoveredHosts(siteId: $s) { id machineId deployState deployReason } }',
    { s: stack.tenant.siteId },
  );
  return new Map(res.data!.discoveredHosts.map((h) => [h.id, h]));
}

beforeAll(async () => {
  port = await freePort();
  stack = await startAgentStack({
    DRYDOCK_SECRET_KEYS: keyEntry,
    DEPLOY_ENROLLMENT_CHECK_SECONDS: '2',
    DEPLOY_ENROLLMENT_WAIT_SECONDS: '90',
  });
  enrollment = await stack.issueEnrollmentKey();
  gateway = new Harness({
    apiUrl: stack.apiUrl,
    siteCode: stack.tenant.siteCode,
    enrollmentKey: enrollment.key,
    fingerprint: enrollment.fingerprint,
    machines: 1,
    namePrefix: 'gw',
    stateDir: path.join(stack.stateDir, 'gateway'),
    pollSeconds: 1,
  });
  gateway.start();
  await gateway.waitForEnrollment();
  const gatewayId = gateway.machines[0]!.agent.machineId!;
  msi = await seedSiteMsi(stack.orm, {
    tenantId: stack.tenant.tenantId,
    siteId: stack.tenant.siteId,
    siteCode: stack.tenant.siteCode,
    dir: path.join(stack.stateDir, 'installers'),
    key: enrollment,
  });
  await withTenant(stack.orm, stack.tenant.tenantId, async (em) => {
    await setMachineRole(em, stack.tenant.tenantId, gatewayId, 'gateway');
    await storeDomainCredential(em, ring, {
      tenantId: stack.tenant.tenantId,
      siteId: stack.tenant.siteId,
      domain: DOMAIN,
      user: USER,
      password: PASSWORD,
      actor: 'user:test',
    });
  });
});

afterAll(async () => {
  for (const h of installed) await h.stop();
  await gateway?.stop();
  for (const s of servers) await s.stop();
  await stack?.close();
});

it('installs over WinRM with the exact PowerShell, through a one-time link, waits for the enrollment and links the host', async () => {
  const { target, server } = await targetHost('127.0.24.1');
  const machine = installedMachine('ws');
  target.onInstalled = () => machine.start();
  const hostId = await addHost('WS-0000', '127.0.24.1');

  const done = await deploy([hostId], 1);
  expect({ ...done, hosts: done.hosts.map((h) => h.reason) }).toMatchObject({
    deployed: 1,
    skipped: 0,
    failed: 0,
  });
  await machine.waitForEnrollment();
  const machineId = machine.machines[0]!.agent.machineId!;
  expect(done.hosts).toEqual([expect.objectContaining({ hostId, outcome: 'deployed', machineId })]);
  const row = (await hosts()).get(hostId)!;
  expect(row).toMatchObject({ machineId, deployState: 'deployed' });
  expect(row.deployReason).toContain('msiexec exited with 0');

  // The PowerShell the host ran, exactly: the state, the install (with the link the claim carried),
  // and the state again (waiting for the service), all authenticated by NTLM with encryption.
  const scripts = server.commands.map((c) => c.script);
  expect(scripts).toHaveLength(3);
  const url = /-Uri '([^']+)'/.exec(scripts[1]!)![1]!;
  expect(url).toMatch(
    new RegExp(
      `^${stack.apiUrl}/installers/once/${stack.tenant.tenantId}/[0-9a-f-]{36}/${msi.fileName}\\?token=`,
    ),
  );
  expect(scripts).toEqual([
    stateScript(),
    installScript({ url, sha256: msi.sha256, fileName: msi.fileName }),
    stateScript(60),
  ]);
  expect(
    server.commands.every((c) => c.command === 'powershell.exe' && c.transport === 'http-encrypted'),
  ).toBe(true);
  expect(server.authentications.map((a) => a.user)).toContain(`${DOMAIN}\\${USER}`);
  expect(target.installs).toBe(1);
  expect(target.downloads).toEqual([{ url, status: 200 }]);

  // The link was for one download: a second is refused.
  const again = await fetch(url);
  expect(again.status).toBe(410);
  expect(await again.json()).toMatchObject({ error: { code: 'LINK_USED' } });
  const audited = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ action: string }[]>(
      `select action from audit_events where action in ('installer.one-time-link-used', 'discovered-host.linked', 'domain-credential.used')`,
    ),
  );
  expect(audited.filter((a) => a.action === 'installer.one-time-link-used')).toHaveLength(1);
  expect(audited.map((a) => a.action)).toEqual(
    expect.arrayContaining(['discovered-host.linked', 'domain-credential.used']),
  );

  // Neither the link's token nor the password is in the task rows.
  const tasks = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ payload: unknown }[]>(`select payload from agent_tasks where kind like 'winrm.%'`),
  );
  const stored = JSON.stringify(tasks);
  expect(stored).not.toContain(PASSWORD);
  expect(stored).not.toContain(new URL(url).searchParams.get('token')!);

  // The enrollment path told the waiting run (a signal in its history), besides its periodic check.
  const history = await stack.temporal.workflow
    .getHandle(deployAgentWorkflowId(stack.tenant.tenantId, hostId))
    .fetchHistory();
  const signals = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes);
  expect(signals.map((e) => e.workflowExecutionSignaledEventAttributes!.signalName)).toEqual([
    'hostEnrolled',
  ]);

  // DRYDOCK_RECORD_HISTORIES=test/histories records this run for the replay test (test/histories/README.md).
  const record = process.env.DRYDOCK_RECORD_HISTORIES;
  if (record)
    for (const [id, file] of [
      [deployAgentWorkflowId(stack.tenant.tenantId, hostId), 'deploy-agent-deployed.json'],
      [done.workflowId, 'deploy-agents-one-host.json'],
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

  // Deploying it again changes nothing: it is linked to its machine.
  const repeat = await deploy([hostId], 1);
  expect(repeat).toMatchObject({ deployed: 1 });
  expect(server.commands).toHaveLength(3);
  expect(target.installs).toBe(1);
});

it('skips an unreachable host and fails a refused credential as an authentication failure, in words', async () => {
  const { target, server } = await targetHost('127.0.24.2', { password: 'Another-Passw0rd!' });
  const refused = await addHost('WS-REFUSED', '127.0.24.2');
  const unreachable = await addHost('WS-OFF', '127.0.24.3'); // nothing listens there

  const done = await deploy([refused, unreachable], 2);
  expect(done).toMatchObject({ deployed: 0, skipped: 1, failed: 1 });
  const byHost = new Map(done.hosts.map((h) => [h.hostId, h]));
  expect(byHost.get(unreachable)).toMatchObject({ outcome: 'skipped' });
  expect(byHost.get(unreachable)!.reason).toMatch(
    /^unreachable: the WinRM HTTP listener does not answer .*ECONNREFUSED/,
  );
  expect(byHost.get(refused)).toMatchObject({ outcome: 'failed' });
  expect(byHost.get(refused)!.reason).toMatch(/authentication failed.*\(WinRmAuthFailed\)/);
  expect(byHost.get(refused)!.reason).not.toContain(PASSWORD);

  const rows = await hosts();
  expect(rows.get(unreachable)).toMatchObject({ deployState: 'skipped', machineId: null });
  expect(rows.get(refused)).toMatchObject({ deployState: 'failed', machineId: null });
  expect(rows.get(refused)!.deployReason).toMatch(/authentication failed/);
  // Refused at authentication: nothing ran, nothing was downloaded.
  expect(server.commands).toHaveLength(0);
  expect(target.downloads).toHaveLength(0);
});
