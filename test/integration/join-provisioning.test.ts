import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Harness } from '../../agent/harness/harness';
import {
  simulatedPasswordHash,
  type SimulatedDirectory,
} from '../../agent/platform/simulated/simulated-join';
import { repoRoot } from '../../infra/config/env';
import { claimTask, dispatchTask } from '../../infra/db/agent-tasks';
import { currentDomainCredential, resolveForJoin, setMachineRole } from '../../infra/db/domain-credentials';
import { withTenant } from '../../infra/db/orm';
import { generateKeyEntry, parseKeyring } from '../../infra/secrets/server-secrets';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import { databaseDump, filesUnder, historyText } from '../helpers/secret-scan';
import {
  enrolledFleet,
  fleetMachineRuns,
  saveProfile,
  startFleetRun,
  type MachineRunView,
} from '../helpers/provisioning';

/**
 * Issue 16's join phase end to end (acceptance 6, ADR 0048), with the real stack and simulated
 * machines: a provisioning with a domain join into an OU leaves the machine a member of the domain
 * under its reserved name after one restart; a machine whose domain refuses the join credential
 * fails the step with Windows' words and a stable code; the site's join credential reaches only a
 * `join.domain` claim of a machine of its site; and no table, history, machine disk, agent log or
 * API log holds the join password.
 */

jest.setTimeout(300_000);

const PASSWORD = 'Join-Passw0rd-For-Corp!';
const OU = 'OU=Laptops,OU=Computers,DC=corp,DC=contoso,DC=com';
const keyEntry = generateKeyEntry('join1');
let stack: AgentStack;
let fleet: Harness | undefined;
let branch: Harness | undefined;
const agentLogs: string[] = [];
const apiLog: string[] = [];

beforeAll(async () => {
  stack = await startAgentStack(
    {
      DRYDOCK_SECRET_KEYS: keyEntry,
      PROVISION_RETRY_BACKOFF_SECONDS: '1',
      PROVISION_OFFLINE_LIMIT_SECONDS: '120',
      PROVISION_FAILED_HOLD_SECONDS: '600',
      LOG_LEVEL: 'debug',
    },
    {
      logStream: new Writable({
        write(chunk: Buffer, _enc, done) {
          apiLog.push(chunk.toString('utf8'));
          done();
        },
      }),
    },
  );
});
afterAll(async () => {
  await fleet?.stop();
  await branch?.stop();
  await stack?.close();
});

/** The simulated domain the site's machines join; `passwordOf` the join account's password as the DC knows it. */
const directory = (passwordOf: string): SimulatedDirectory => ({
  domain: 'corp.contoso.com',
  netbios: 'CORP',
  defaultContainer: 'CN=Computers,DC=corp,DC=contoso,DC=com',
  ous: [OU],
  accounts: { 'svc-join': { passwordSha256: simulatedPasswordHash(passwordOf), mayJoin: true } },
  controllers: ['dc1.corp.contoso.com'],
});

async function settledRuns(fleetRunId: string): Promise<MachineRunView[]> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const runs = await fleetMachineRuns(stack, fleetRunId);
    if (runs.length > 0 && runs.every((r) => r.status === 'passed' || r.status === 'failed')) return runs;
    if (Date.now() > deadline) throw new Error(`runs did not settle: ${JSON.stringify(runs)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function queueTask(machineId: string, kind: string, payload: Record<string, unknown>): Promise<string> {
  const id = randomUUID();
  await dispatchTask(stack.orm, {
    tenantId: stack.tenant.tenantId,
    machineId,
    id,
    kind,
    payload,
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

let credentialId: string;
let workflowIds: string[] = [];

describe('the join phase', () => {
  it('joins a machine into the OU under its reserved name with one restart; a refused credential fails with Windows’ words', async () => {
    const set = await gql<{ setJoinCredential: { version: number; domain: string; user: string } }>(
      stack.app,
      stack.tenant.tenantId,
      'mutation($i: SetJoinCredentialInput!) { setJoinCredential(input: $i) { version domain user } }',
      {
        i: {
          siteId: stack.tenant.siteId,
          domain: 'corp.contoso.com',
          user: 'CORP\\svc-join',
          password: PASSWORD,
        },
      },
    );
    expect(set.data?.setJoinCredential).toEqual({
      version: 1,
      domain: 'corp.contoso.com',
      user: 'CORP\\svc-join',
    });
    const stored = (await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      currentDomainCredential(em, stack.tenant.tenantId, stack.tenant.siteId, 'join'),
    ))!;
    credentialId = stored.id;
    fleet = await enrolledFleet(stack, 'join', 2, { log: (line) => agentLogs.push(line) });
    const [good, refused] = fleet.machines;
    good!.platform.mutate((s) => void (s.simulation.directory = directory(PASSWORD)));
    // This machine's DC knows another password for the join account (rotated in AD, not in Drydock).
    refused!.platform.mutate((s) => void (s.simulation.directory = directory('Rotated-In-AD-1!')));

    const profileId = await saveProfile(stack, 'Join corp', {
      phases: {
        join: { enabled: true, domain: { name: 'corp.contoso.com', ouPath: OU, credential: 'site' } },
        apps: { enabled: false },
        tweaks: { enabled: false },
        locale: { enabled: false },
        inventory: { enabled: false },
      },
    });
    const started = await startFleetRun(stack, { profileId, concurrency: 2, siteIds: [stack.tenant.siteId] });
    const runs = await settledRuns(started.id);
    workflowIds = runs.map((r) => r.workflowId);
    const runOf = (m: typeof good) => runs.find((r) => r.machineId === m!.agent.machineId)!;

    expect([runOf(good).status, runOf(good).lastError]).toEqual(['passed', null]);
    const state = await good!.platform.joinState();
    expect(state.active).toMatch(/^[A-Z0-9]+-\d{3}$/);
    expect(state).toEqual({
      active: state.active,
      pending: state.active,
      domain: 'corp.contoso.com',
      joinPending: false,
      distinguishedName: `CN=${state.active},${OU}`,
      entraJoined: false,
      tenantName: null,
    });
    // Renamed by the join itself (-NewName): no Rename-Computer, one restart for both.
    const effects = Object.keys(good!.platform.snapshot.effects);
    expect(effects.filter((e) => e.startsWith('rename:'))).toEqual([]);
    expect(effects.filter((e) => e.startsWith('restart:'))).toHaveLength(1);
    expect(good!.platform.snapshot.effects['join:corp.contoso.com']).toBe(1);

    const failed = runOf(refused);
    expect(failed.status).toBe('failed');
    expect(failed.lastError).toMatchObject({
      type: 'JoinAuthFailed',
      code: 'JOIN_AUTH_FAILED',
      step: 'join.domain',
    });
    expect(failed.lastError!.message).toContain('The user name or password is incorrect');
    expect(refused!.platform.snapshot.domain).toBeNull();

    if (process.env.DRYDOCK_RECORD_HISTORIES)
      writeFileSync(
        path.join(repoRoot, 'test', 'histories', 'provision-machine-join.json'),
        `${historyToJSON(await stack.temporal.workflow.getHandle(runOf(good).workflowId).fetchHistory())}\n`,
      );
  });

  it('hands the join credential to a join.domain claim of its site only: another site’s machine and another kind are refused', async () => {
    await fleet!.stop();
    // A machine of another site of the tenant.
    const created = await gql<{ createSite: { id: string; code: string } }>(
      stack.app,
      stack.tenant.tenantId,
      'mutation($i: CreateSiteInput!) { createSite(input: $i) { id code } }',
      {
        i: {
          clientId: stack.tenant.clientId,
          code: `BR-${randomUUID().slice(0, 6).toUpperCase()}`,
          name: 'Branch',
        },
      },
    );
    const site = created.data!.createSite;
    const key = await stack.issueEnrollmentKey(site.id);
    branch = new Harness({
      apiUrl: stack.apiUrl,
      siteCode: site.code,
      enrollmentKey: key.key,
      fingerprint: key.fingerprint,
      machines: 1,
      stateDir: path.join(stack.stateDir, 'join-branch'),
      pollSeconds: 2,
      log: (line) => agentLogs.push(line),
    });
    branch.start();
    await branch.waitForEnrollment();
    await branch.stop();

    const outsider = branch.machines[0]!;
    const [member] = fleet!.machines;
    const payload = { domain: 'corp.contoso.com', credentialRef: credentialId };
    const refusedId = await queueTask(outsider.agent.machineId!, 'join.domain', payload);
    expect((await poll((await outsider.platform.loadProtected('agent-key'))!)).status).toBe(204);

    // A gateway of the join credential's own site, for a directory step: not a join, refused too.
    await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      em.execute(`update agent_tasks set status = 'failed' where status in ('queued', 'delivered')`),
    );
    await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      setMachineRole(em, stack.tenant.tenantId, member!.agent.machineId!, 'gateway'),
    );
    const memberKey = (await member!.platform.loadProtected('agent-key'))!;
    const wrongKindId = await queueTask(member!.agent.machineId!, 'directory.test-bind', {
      ...payload,
      endpoint: { host: 'dc1.corp.contoso.com', security: 'ldaps' },
    });
    expect((await poll(memberKey)).status).toBe(204);

    // The same machine's join.domain claim carries it.
    const takenId = await queueTask(member!.agent.machineId!, 'join.domain', payload);
    const taken = await poll(memberKey);
    expect(taken.status).toBe(200);
    const body = (await taken.json()) as { task: { id: string; payload: unknown; credential?: unknown } };
    expect(body.task.id).toBe(takenId);
    expect(body.task.payload).toEqual(payload);
    expect(body.task.credential).toEqual({
      domain: 'corp.contoso.com',
      user: 'CORP\\svc-join',
      password: PASSWORD,
    });

    const rows = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      em.execute<{ id: string; status: string; error: { type: string; message: string } | null }[]>(
        `select id, status, error from agent_tasks where id in (?, ?)`,
        [refusedId, wrongKindId],
      ),
    );
    for (const id of [refusedId, wrongKindId])
      expect(rows.find((r) => r.id === id)).toMatchObject({
        status: 'failed',
        error: { type: 'CredentialUnavailable' },
      });
    // Two claims of one delivered task at once (a redelivery racing the first claim): both are
    // refused, the task fails once and is audited once.
    const racedId = await queueTask(outsider.agent.machineId!, 'join.domain', payload);
    expect((await claimTask(stack.orm, stack.tenant.tenantId, outsider.agent.machineId!))?.id).toBe(racedId);
    const ring = parseKeyring(keyEntry);
    const again = await Promise.all(
      [1, 2].map(() =>
        withTenant(stack.orm, stack.tenant.tenantId, (em) =>
          resolveForJoin(em, ring, {
            tenantId: stack.tenant.tenantId,
            machineId: outsider.agent.machineId!,
            credentialId,
            taskId: racedId,
          }),
        ),
      ),
    );
    expect(again).toEqual([
      { refused: 'CredentialNotForThisMachine' },
      { refused: 'CredentialNotForThisMachine' },
    ]);
    const [raced] = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      em.execute<{ status: string; type: string }[]>(
        `select status, error->>'type' as type from agent_tasks where id = ?`,
        [racedId],
      ),
    );
    expect(raced).toEqual({ status: 'failed', type: 'CredentialUnavailable' });
    const refusals = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      em.execute<{ actor: string; task_id: string }[]>(
        `select actor, data->>'taskId' as task_id from audit_events
          where action = 'domain-credential.refused' order by seq`,
      ),
    );
    // One refusal per task, by the machine that claimed it.
    expect(refusals).toEqual([
      { actor: `machine:${outsider.agent.machineId}`, task_id: refusedId },
      { actor: `machine:${member!.agent.machineId}`, task_id: wrongKindId },
      { actor: `machine:${outsider.agent.machineId}`, task_id: racedId },
    ]);
  });

  it('leaves the join password in no table, history, machine disk, agent log or API log', async () => {
    const places: [string, string][] = [
      ['database', await databaseDump(stack)],
      ...(await Promise.all(
        workflowIds.map(async (id): Promise<[string, string]> => [
          `history ${id}`,
          await historyText(stack, id),
        ]),
      )),
      ['machines’ disks', filesUnder(stack.stateDir)],
      ['agent logs', agentLogs.join('\n')],
      ['API log', apiLog.join('')],
    ];
    const forbidden = [PASSWORD, Buffer.from(PASSWORD, 'utf8').toString('base64')];
    for (const [place, text] of places) {
      expect({ place, length: text.length > 0 }).toEqual({ place, length: true });
      for (const secret of forbidden)
        if (text.includes(secret)) throw new Error(`the join password is in the ${place}`);
    }
    // Not vacuous: the credential is in the database, sealed, and the histories name it by id.
    expect(await databaseDump(stack)).toMatch(/v1\./);
    expect(await historyText(stack, workflowIds[0]!)).toContain(credentialId);
  });
});
