import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Agent } from '../../agent/agent';
import { SimulatedCrash } from '../../agent/harness/faults';
import { SimulatedPlatform, newHostState } from '../../agent/platform/simulated/simulated-host';
import { MachineStatus } from '../../infra/db/entities';
import { noticeSql } from '../../infra/db/agent-notices';
import { withTenant } from '../../infra/db/orm';
import { computeMachineUid } from '../../infra/wire/machine-uid';
import { AgentTaskKind, type CollectInventoryResult } from '../../workflows/machines/contracts';
import { agentChannelSuite, describeCoreScenarios } from '../helpers/agent-channel-suite';
import { gql } from '../helpers/api';

jest.setTimeout(120_000);

// Agents in this process (hooks into the run loop need that); the core scenarios run here and,
// with the bundled agent as processes, in agent-channel-bundled.test.ts.
const suite = agentChannelSuite({ env: { ENROLL_LOCKOUT_SECONDS: '2', ENROLL_LOCKOUT_FAILURES: '3' } });
const { machines, harness, enrolledMachine, startInventory, taskRows, rawPoll } = suite;

describeCoreScenarios(suite, { fleetSize: 20 });

function agentFor(
  platform: SimulatedPlatform,
  dir: string,
  opts: Partial<ConstructorParameters<typeof Agent>[0]> = {},
) {
  return new Agent({
    config: {
      apiUrl: suite.stack.apiUrl,
      siteCode: suite.stack.tenant.siteCode,
      enrollmentKey: suite.key.key,
      stateDir: dir,
    },
    platform,
    pollSeconds: 2,
    ...opts,
  });
}

describe('enrollment', () => {
  it('an installer run again reuses the row on proof of the agent key', async () => {
    const machine = await enrolledMachine('repair');
    const rows = await machines();
    // The site installer runs again (a repair): the config carries an enrollment key and the agent
    // still has its key, which it presents as proof. Same row, new key.
    const oldKey = (await machine.platform.loadProtected('agent-key'))!;
    const again = agentFor(machine.platform, machine.dir);
    await again.ensureEnrolled();
    expect(again.state).toBe('enrolled');
    const after = await machines();
    expect(after).toHaveLength(rows.length);
    expect(again.machineId).toBe(
      rows.find((m) => m.machineUid === computeMachineUid(machine.platform.snapshot.hardware))!.id,
    );
    // The old key was replaced: byte-identical 401 to any unknown key.
    const revoked = await rawPoll(oldKey, 0);
    const unknown = await rawPoll(`dak_${'0'.repeat(16)}_${'A'.repeat(43)}`, 0);
    expect(revoked.status).toBe(401);
    expect(await revoked.text()).toBe(await unknown.text());
  });

  it('holds a re-enrollment of a live machine that cannot prove it is that install, until an operator approves it as the replacement', async () => {
    const m = await enrolledMachine('lost-key');
    const ownerId = m.agent.machineId!;
    const ownerKey = (await m.platform.loadProtected('agent-key'))!;
    // The agent was reinstalled and lost its key while the machine kept checking in: no proof.
    await m.platform.deleteProtected('agent-key');
    const again = agentFor(m.platform, path.join(m.dir, 'reinstalled'));
    await again.ensureEnrolled();
    expect(again.state).toBe('pending');
    expect(again.machineId).not.toBe(ownerId);
    const pendingRow = (await machines()).find((r) => r.id === again.machineId)!;
    expect(pendingRow).toMatchObject({
      status: 'pending',
      pendingKind: 'unverified',
      replacesMachineId: ownerId,
    });
    // The machine it claims to be keeps its key and its site: nothing was taken over.
    expect((await rawPoll(ownerKey, 0)).status).toBe(204);
    const alerts = await gql<{ alerts: { kind: string; machineId: string }[] }>(
      suite.stack.app,
      suite.stack.tenant.tenantId,
      '{ alerts { kind machineId } }',
    );
    expect(alerts.data!.alerts).toContainEqual({
      kind: 'MachineReenrollmentUnverified',
      machineId: pendingRow.id,
    });

    const approved = await gql<{ approveMachine: { id: string; status: string } }>(
      suite.stack.app,
      suite.stack.tenant.tenantId,
      'mutation($id: ID!) { approveMachine(id: $id, asReplacement: true) { id status } }',
      { id: pendingRow.id },
    );
    expect(approved.data).toEqual({ approveMachine: { id: ownerId, status: 'Active' } });
    // The new install now is the machine: its key speaks for the owner row; the old key is dead.
    const newKey = (await m.platform.loadProtected('agent-key'))!;
    expect((await rawPoll(ownerKey, 0)).status).toBe(401);
    expect((await rawPoll(newKey, 0)).status).toBe(204);
    await again.checkIn();
    expect(again.machineId).toBe(ownerId);
    expect((await machines()).find((r) => r.id === pendingRow.id)!.status).toBe('retired');
  });

  it('lands an enrollment whose answer was lost (the API committed, then died) on the machine it made, not on a second row', async () => {
    const dir = path.join(suite.stack.stateDir, 'lost-answer');
    const platform = new SimulatedPlatform(dir, () => newHostState('LOST-ANSWER', `${dir}:lost-answer`));
    let lost = 0;
    const agent = agentFor(platform, dir, {
      // The first enrollment reaches the API and commits; its answer never reaches the agent.
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        if (url.endsWith('/v1/enroll') && lost++ === 0) {
          await res.arrayBuffer();
          throw new TypeError('fetch failed: socket hang up');
        }
        return res;
      },
    });
    await expect(agent.ensureEnrolled()).rejects.toThrow(/socket hang up/);
    const uid = computeMachineUid(platform.snapshot.hardware);
    const first = (await machines()).filter((m) => m.machineUid === uid);
    expect(first).toMatchObject([{ status: 'active' }]);

    // The agent tries again at once (the machine counts as live): the same attempt proves it is
    // the install the first request enrolled. One row, active; the key it never saw is revoked.
    await agent.ensureEnrolled();
    expect(agent.state).toBe('enrolled');
    expect(agent.machineId).toBe(first[0]!.id);
    const rows = (await machines()).filter((m) => m.machineUid === uid);
    expect(rows).toHaveLength(1);
    const keys = await withTenant(suite.stack.orm, suite.stack.tenant.tenantId, (em) =>
      em.execute<{ revoked: boolean }[]>(
        `select revoked_at is not null as revoked from agent_keys where machine_id = ? order by created_at`,
        [first[0]!.id],
      ),
    );
    expect(keys).toEqual([{ revoked: true }, { revoked: false }]);
    expect((await rawPoll((await platform.loadProtected('agent-key'))!, 0)).status).toBe(204);
    // The attempt is forgotten once the key is stored: a later reinstall has to prove itself anew.
    expect(await platform.loadProtected('enroll-attempt')).toBeNull();
  });

  it('treats a re-image (new MachineGuid, machine not seen lately) as the same machine', async () => {
    const solo = harness('reimage', 1);
    solo.start();
    await solo.waitForEnrollment();
    await solo.stop();
    const m = solo.machines[0]!;
    const id = m.agent.machineId!;
    await suite.stack.db
      .adminClient()
      .then((c) =>
        c.query(`update machines set last_seen_at = now() - interval '30 days' where id = $1`, [id]),
      );
    m.platform.reimage();
    const fresh = agentFor(m.platform, path.join(m.dir, 'reinstalled'));
    await fresh.ensureEnrolled();
    expect(fresh.machineId).toBe(id);
    expect(fresh.state).toBe('enrolled');
  });

  it('keeps a machine in its site when it enrolls under another one, until an operator approves the move', async () => {
    const m = await enrolledMachine('mover');
    const machineId = m.agent.machineId!;
    const created = await gql<{ createSite: { id: string; code: string } }>(
      suite.stack.app,
      suite.stack.tenant.tenantId,
      'mutation($i: CreateSiteInput!) { createSite(input: $i) { id code } }',
      {
        i: {
          clientId: suite.stack.tenant.clientId,
          code: `MOVE-${randomUUID().slice(0, 6).toUpperCase()}`,
          name: 'Second site',
        },
      },
    );
    const site = created.data!.createSite;
    const otherKey = await suite.stack.issueEnrollmentKey(site.id);
    const otherSite = (dir: string) =>
      new Agent({
        config: {
          apiUrl: suite.stack.apiUrl,
          siteCode: site.code,
          enrollmentKey: otherKey.key,
          stateDir: dir,
        },
        platform: m.platform,
        pollSeconds: 2,
      });

    // Without its agent key (no proof): a pending request; the machine stays where it is.
    const stored = (await m.platform.loadProtected('agent-key'))!;
    await m.platform.deleteProtected('agent-key');
    const stranger = otherSite(path.join(m.dir, 'stranger'));
    await stranger.ensureEnrolled();
    expect(stranger.state).toBe('pending');
    let rows = await machines();
    expect(rows.find((r) => r.id === stranger.machineId)).toMatchObject({
      pendingKind: 'unverified',
      replacesMachineId: machineId,
      siteId: site.id,
    });
    expect(rows.find((r) => r.id === machineId)!.siteId).toBe(suite.stack.tenant.siteId);

    // With its agent key (the other site's installer ran on the machine): a move request. It stays
    // in its site and keeps working until approved.
    await m.platform.saveProtected('agent-key', stored);
    const moved = otherSite(path.join(m.dir, 'moved'));
    await moved.ensureEnrolled();
    expect(moved.machineId).toBe(machineId);
    expect(moved.state).toBe('enrolled');
    rows = await machines();
    expect(rows.find((r) => r.id === machineId)).toMatchObject({
      siteId: suite.stack.tenant.siteId,
      requestedSiteId: site.id,
      pendingKind: 'move',
    });
    const alerts = await gql<{ alerts: { kind: string; machineId: string }[] }>(
      suite.stack.app,
      suite.stack.tenant.tenantId,
      '{ alerts { kind machineId } }',
    );
    expect(alerts.data!.alerts).toContainEqual({ kind: 'MachineMoveRequested', machineId });
    const inventory = await startInventory(machineId);
    const stop = new AbortController();
    const running = moved.run(stop.signal);
    expect(((await inventory.result()) as CollectInventoryResult).hostname).toBe(
      m.platform.snapshot.hostname,
    );

    const approved = await gql<{ approveMachine: { siteId: string; requestedSiteId: string | null } }>(
      suite.stack.app,
      suite.stack.tenant.tenantId,
      'mutation($id: ID!) { approveMachine(id: $id) { siteId requestedSiteId } }',
      { id: machineId },
    );
    expect(approved.data).toEqual({ approveMachine: { siteId: site.id, requestedSiteId: null } });
    stop.abort();
    await running;
  });

  it('puts a clone in pending, gives it no task until approved, then delivers', async () => {
    const pair = harness('clones', 1, { clones: 1 });
    pair.start();
    expect(await pair.waitForEnrollment()).toMatchObject({ enrolled: 1, pending: 1, failed: 0 });
    const clone = pair.machines[1]!;
    const row = (await machines()).find((r) => r.id === clone.agent.machineId)!;
    expect(row.status).toBe(MachineStatus.Pending);
    expect(row.pendingKind).toBe('collision');
    expect(row.pendingReason).toMatch(/another MachineGuid/);
    const alerts = await gql<{ alerts: { kind: string; machineId: string }[] }>(
      suite.stack.app,
      suite.stack.tenant.tenantId,
      '{ alerts { kind machineId } }',
    );
    expect(alerts.data!.alerts).toContainEqual({ kind: 'MachineCollision', machineId: row.id });

    const handle = await startInventory(row.id);
    await new Promise((r) => setTimeout(r, 3000)); // more than one poll of the clone
    expect((await taskRows(row.id)).map((t) => t.status)).toEqual(['queued']);

    const approved = await gql(
      suite.stack.app,
      suite.stack.tenant.tenantId,
      'mutation($id: ID!) { approveMachine(id: $id) { status } }',
      { id: row.id },
    );
    expect(approved.data).toEqual({ approveMachine: { status: 'Active' } });
    const result = (await handle.result()) as CollectInventoryResult;
    expect(result.hostname).toBe(clone.platform.snapshot.hostname);
    await pair.stop();
  });
});

describe('agent keys', () => {
  it('revoking a key answers 401 and ends the long-poll in flight within one poll timeout', async () => {
    const m = await enrolledMachine('revoke');
    const agentKey = (await m.platform.loadProtected('agent-key'))!;
    const machineId = m.agent.machineId!;
    const started = Date.now();
    const polling = rawPoll(agentKey, 5);
    await new Promise((r) => setTimeout(r, 500));
    const res = await gql(
      suite.stack.app,
      suite.stack.tenant.tenantId,
      'mutation($m: ID!) { revokeAgentKey(machineId: $m) }',
      { m: machineId },
    );
    expect(res.data).toEqual({ revokeAgentKey: 1 });
    const answer = await polling;
    expect(answer.status).toBe(401);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await rawPoll(agentKey, 0)).status).toBe(401);
  });

  it('a key revoked by another API replica stops working here as soon as its notice arrives', async () => {
    const m = await enrolledMachine('replica');
    const agentKey = (await m.platform.loadProtected('agent-key'))!;
    // Known (and cached) here: answered without a lookup from now on.
    expect((await rawPoll(agentKey, 0)).status).toBe(204);
    // Another process revokes it: its own transaction and NOTIFY, nothing said to this one directly.
    await withTenant(suite.stack.orm, suite.stack.tenant.tenantId, async (em) => {
      const rows = await em.execute<{ key_id: string }[]>(
        `update agent_keys set revoked_at = now(), revoked_reason = 'test' where machine_id = ? returning key_id`,
        [m.agent.machineId],
      );
      for (const row of rows) {
        const n = noticeSql({ t: 'revoked', k: row.key_id });
        await em.execute(n.sql, n.params);
      }
    });
    let status = 0;
    for (let i = 0; i < 40 && status !== 401; i++) {
      status = (await rawPoll(agentKey, 0)).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
  });
});

describe('lockout', () => {
  it('trips after repeated failures with a clear 429 and clears after the lockout period', async () => {
    const body = (enrollmentKey: string) => ({
      siteCode: suite.stack.tenant.siteCode,
      enrollmentKey,
      machineUid: computeMachineUid({ smbiosUuid: '4C4C4544-0042-3510-8052-B4C04F4B4E31' }),
      hostname: 'LOCKOUT-TEST',
      hardware: { smbiosUuid: '4C4C4544-0042-3510-8052-B4C04F4B4E31' },
      os: { name: 'Windows', version: '10.0', build: '26100' },
      agentVersion: '0.1.0',
    });
    const post = (b: unknown, ip: string) =>
      suite.stack.app.inject({ method: 'POST', url: '/v1/enroll', payload: b as object, remoteAddress: ip });
    const wrong = `dek_${'1'.repeat(16)}_${'B'.repeat(43)}`;
    for (let i = 0; i < 3; i++) expect((await post(body(wrong), '10.9.9.9')).statusCode).toBe(401);
    const locked = await post(body(suite.key.key), '10.9.9.9');
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toMatchObject({ error: { code: 'LOCKED_OUT' } });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not locked out.
    expect((await post(body(suite.key.key), '10.9.9.10')).statusCode).toBe(201);
    // Once the lockout is over (2 s here) the address enrolls again: poll for it, no fixed sleep.
    const deadline = Date.now() + 30_000;
    let after = await post(body(suite.key.key), '10.9.9.9');
    while (after.statusCode === 429 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      after = await post(body(suite.key.key), '10.9.9.9');
    }
    expect(after.statusCode).toBe(201);
  });
});

describe('the task channel', () => {
  it('does not run a step twice when the agent is killed after the step and restarted', async () => {
    const m = await enrolledMachine('crash');
    const machineId = m.agent.machineId!;
    const handle = await startInventory(machineId);
    let crashed = false;
    const dying = agentFor(m.platform, m.dir, {
      afterStep: async () => {
        crashed = true;
        throw new SimulatedCrash();
      },
    });
    await expect(dying.run(new AbortController().signal)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(crashed).toBe(true);
    const [task] = await taskRows(machineId);
    expect(task!.status).toBe('delivered'); // the result never reached the API

    const restarted = agentFor(m.platform, m.dir);
    const controller = new AbortController();
    const running = restarted.run(controller.signal);
    await handle.result();
    controller.abort();
    await running;
    expect(m.platform.snapshot.executions[`${task!.kind} ${task!.idempotencyKey}`]).toBe(1);
  });

  it('answers a result sent with ?wait with the next task queued meanwhile: one request per step', async () => {
    const m = await enrolledMachine('chained');
    const machineId = m.agent.machineId!;
    const requests: string[] = [];
    const agent = agentFor(m.platform, m.dir, {
      fetch: (url, init) => {
        requests.push(`${init.method} ${new URL(url).pathname}${new URL(url).search}`);
        return fetch(url, init);
      },
    });
    await agent.ensureEnrolled();
    const first = await startInventory(machineId);
    const task = await agent.api.poll(5);
    expect(task).toMatchObject({ kind: AgentTaskKind.CollectInventory });

    // The next task is queued while the report of the first one waits.
    const second = new Promise<Awaited<ReturnType<typeof startInventory>>>((resolve) =>
      setTimeout(() => resolve(startInventory(machineId)), 500),
    );
    const next = await agent.handle(task!, new AbortController().signal);
    expect(next).toMatchObject({ kind: AgentTaskKind.CollectInventory });
    expect(next!.id).not.toBe(task!.id);
    await first.result();
    // Reported outside the poll loop (no signal): no waiting, no task in the answer.
    expect(await agent.handle(next!)).toBeNull();
    await (await second).result();

    expect(requests.filter((r) => r.startsWith('GET /v1/agent/tasks'))).toHaveLength(1);
    expect(requests.filter((r) => r.includes('/result?wait=2'))).toHaveLength(1);
    expect((await taskRows(machineId)).map((t) => [t.status, t.deliveries])).toEqual([
      ['completed', 1],
      ['completed', 1],
    ]);
  });

  it('loses no result when the API restarts between the step and its report', async () => {
    const m = await enrolledMachine('api-restart');
    const machineId = m.agent.machineId!;
    const handle = await startInventory(machineId);
    let restarting: Promise<void> | undefined;
    const agent = agentFor(m.platform, m.dir, {
      afterStep: async () => {
        restarting = suite.stack.restartApi(1500); // the report that follows finds no API
        await new Promise((r) => setTimeout(r, 100));
      },
    });
    const controller = new AbortController();
    const running = agent.run(controller.signal);
    const result = (await handle.result()) as CollectInventoryResult;
    await restarting;
    controller.abort();
    await running;
    expect(result.hostname).toBe(m.platform.snapshot.hostname);
    const [task] = await taskRows(machineId);
    expect(task).toMatchObject({ status: 'completed', deliveries: 1 });
  });
});
