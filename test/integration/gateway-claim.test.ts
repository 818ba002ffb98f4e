import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Harness } from '../../agent/harness/harness';
import { dispatchTask } from '../../infra/db/agent-tasks';
import { listDiscoveredHosts } from '../../infra/db/discovered-hosts';
import {
  currentDomainCredential,
  setMachineRole,
  storeDomainCredential,
} from '../../infra/db/domain-credentials';
import { withTenant } from '../../infra/db/orm';
import { generateKeyEntry, parseKeyring } from '../../infra/secrets/server-secrets';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';

/**
 * Credential pull through the real agent channel (ADR 0026): a task names the site's credential by
 * id; the claim response of the site's gateway carries it resolved, the task row never does, and
 * any other machine's claim fails the task as CredentialUnavailable without handing it over.
 */

jest.setTimeout(120_000);

const PASSWORD = 'Claim-Passw0rd!';
const keyEntry = generateKeyEntry('test1');
const ring = parseKeyring(keyEntry);
let stack: AgentStack;
let harness: Harness;

beforeAll(async () => {
  stack = await startAgentStack({ DRYDOCK_SECRET_KEYS: keyEntry });
  const key = await stack.issueEnrollmentKey();
  harness = new Harness({
    apiUrl: stack.apiUrl,
    siteCode: stack.tenant.siteCode,
    enrollmentKey: key.key,
    fingerprint: key.fingerprint,
    machines: 2,
    stateDir: path.join(stack.stateDir, 'gateway-claim'),
    pollSeconds: 2,
  });
  harness.start();
  await harness.waitForEnrollment();
  await harness.stop();
});
afterAll(async () => {
  await harness?.stop();
  await stack?.close();
});

async function queueTask(machineId: string, credentialRef: string | null, kind = 'discoverDomain') {
  const id = randomUUID();
  await dispatchTask(stack.orm, {
    tenantId: stack.tenant.tenantId,
    machineId,
    id,
    kind,
    payload: credentialRef ? { credentialRef } : {},
    idempotencyKey: `test:${id}`,
    workflowId: `test-${id}`,
    runId: randomUUID(),
    activityId: '1',
    taskToken: new Uint8Array([1, 2, 3]),
    attempt: 1,
    deliverBy: new Date(Date.now() + 60_000),
    expiresAt: new Date(Date.now() + 120_000),
  });
  return id;
}

const poll = (agentKey: string) =>
  fetch(`${stack.apiUrl}/v1/agent/tasks?wait=0`, { headers: { authorization: `Bearer ${agentKey}` } });

it("hands the credential to the site's gateway in the claim response only, and refuses every other machine", async () => {
  const [gw, other] = harness.machines;
  const gatewayId = gw!.agent.machineId!;
  const otherId = other!.agent.machineId!;
  const credential = await withTenant(stack.orm, stack.tenant.tenantId, async (em) => {
    await setMachineRole(em, stack.tenant.tenantId, gatewayId, 'gateway');
    return storeDomainCredential(em, ring, {
      tenantId: stack.tenant.tenantId,
      siteId: stack.tenant.siteId,
      domain: 'drydock.test',
      user: 'drydock-svc',
      password: PASSWORD,
      actor: 'user:test',
    });
  });

  const gatewayKey = (await gw!.platform.loadProtected('agent-key'))!;
  const taskId = await queueTask(gatewayId, credential.id);
  const res = await poll(gatewayKey);
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    task: { id: string; payload: Record<string, unknown>; credential?: unknown };
  };
  expect(body.task.id).toBe(taskId);
  expect(body.task.payload).toEqual({ credentialRef: credential.id });
  expect(body.task.credential).toEqual({ domain: 'drydock.test', user: 'drydock-svc', password: PASSWORD });

  const otherKey = (await other!.platform.loadProtected('agent-key'))!;
  const refusedId = await queueTask(otherId, credential.id);
  const refused = await poll(otherKey);
  expect(refused.status).toBe(204);
  const rows = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ id: string; status: string; error: { type: string } | null; payload: unknown }[]>(
      `select id, status, error, payload from agent_tasks`,
    ),
  );
  expect(rows.find((r) => r.id === refusedId)).toMatchObject({
    status: 'failed',
    error: { type: 'CredentialUnavailable' },
  });
  expect(JSON.stringify(rows)).not.toContain(PASSWORD);

  const audit = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ action: string; data: unknown }[]>(
      `select action, data from audit_events where action like 'domain-credential.%' order by seq`,
    ),
  );
  expect(audit.map((a) => a.action)).toEqual([
    'domain-credential.stored',
    'domain-credential.used',
    'domain-credential.refused',
  ]);
  expect(JSON.stringify(audit)).not.toContain(PASSWORD);
});

it('hands a gateway step (directory.discover) to an active gateway only: any other machine fails it as NotAGateway', async () => {
  const [gw, other] = harness.machines;
  const gatewayId = gw!.agent.machineId!;
  const otherId = other!.agent.machineId!;
  await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    setMachineRole(em, stack.tenant.tenantId, gatewayId, 'gateway'),
  );
  const refusedId = await queueTask(otherId, null, 'directory.discover');
  const refused = await poll((await other!.platform.loadProtected('agent-key'))!);
  expect(refused.status).toBe(204);
  const takenId = await queueTask(gatewayId, null, 'directory.discover');
  // The earlier test's task (delivered, never reported) would be handed out again first.
  await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute(
      `update agent_tasks set status = 'failed' where machine_id = ? and id <> ? and status = 'delivered'`,
      [gatewayId, takenId],
    ),
  );
  const taken = await poll((await gw!.platform.loadProtected('agent-key'))!);
  expect(taken.status).toBe(200);
  expect(((await taken.json()) as { task: { id: string } }).task.id).toBe(takenId);

  const [row] = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ status: string; error: { type: string; retryable: boolean } | null }[]>(
      `select status, error from agent_tasks where id = ?`,
      [refusedId],
    ),
  );
  expect(row).toMatchObject({ status: 'failed', error: { type: 'NotAGateway', retryable: false } });
});

it("stores a gateway's enumeration (larger than other results) in the site's discovered hosts when it posts it", async () => {
  const [gw] = harness.machines;
  const gatewayId = gw!.agent.machineId!;
  const credential = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    currentDomainCredential(em, stack.tenant.tenantId, stack.tenant.siteId),
  );
  await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute(`update agent_tasks set status = 'failed' where machine_id = ? and status = 'delivered'`, [
      gatewayId,
    ]),
  );
  const id = randomUUID();
  await dispatchTask(stack.orm, {
    tenantId: stack.tenant.tenantId,
    machineId: gatewayId,
    id,
    kind: 'directory.enumerate',
    payload: {
      credentialRef: credential!.id,
      domain: 'drydock.test',
      endpoint: { host: 'dc1', security: 'ldaps' },
    },
    idempotencyKey: `test:${id}`,
    workflowId: `test-${id}`,
    runId: randomUUID(),
    activityId: '1',
    taskToken: new Uint8Array([1, 2, 3]),
    attempt: 1,
    deliverBy: new Date(Date.now() + 60_000),
    expiresAt: new Date(Date.now() + 120_000),
  });
  const gatewayKey = (await gw!.platform.loadProtected('agent-key'))!;
  const claimed = await poll(gatewayKey);
  expect(((await claimed.json()) as { task: { id: string } }).task.id).toBe(id);

  const computers = Array.from({ length: 600 }, (_, i) => ({
    objectGuid: randomUUID(),
    name: `WS-${String(i).padStart(4, '0')}`,
    dnsHostName: `ws-${String(i).padStart(4, '0')}.drydock.test`,
    operatingSystem: 'Windows 11 Enterprise',
    operatingSystemVersion: '10.0 (22631)',
    distinguishedName: `CN=WS-${i},OU=Workstations,DC=drydock,DC=test`,
    ou: 'OU=Workstations,DC=drydock,DC=test',
    enabled: true,
    lastLogonAt: null,
    role: 'workstation',
  }));
  const body = JSON.stringify({ ok: true, result: { domain: 'drydock.test', pages: 2, computers } });
  expect(body.length).toBeGreaterThan(64 * 1024);
  const posted = await fetch(`${stack.apiUrl}/v1/agent/tasks/${id}/result`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gatewayKey}`, 'content-type': 'application/json' },
    body,
  });
  // Stored and merged; the made-up task token names no activity Temporal knows, so the API answers
  // 503 (stored, the engine did not take it), as for any such task.
  expect(posted.status).toBe(503);
  const hosts = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    listDiscoveredHosts(em, stack.tenant.tenantId, stack.tenant.siteId),
  );
  expect(hosts).toHaveLength(600);
  expect(hosts.every((h) => h.source === 'directory' && h.role === 'workstation')).toBe(true);
});
