import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { repoRoot } from '../../infra/config/env';
import { SimulatedCrash } from '../../agent/harness/faults';
import type { Harness } from '../../agent/harness/harness';
import {
  generateTenantKey,
  openEscrowSecret,
  wrapTenantKey,
  type EscrowKind,
  type TenantKey,
} from '../../infra/wire/escrow-envelope';
import { withTenant } from '../../infra/db/orm';
import { MAX_ESCROW_ROUNDS } from '../../workflows/escrow/escrow-before-change';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import {
  enrolledFleet,
  fleetMachineRuns,
  saveProfile,
  startFleetRun,
  waitForFleet,
} from '../helpers/provisioning';

/**
 * Acceptance 5 (issue 16): agents killed at every point of the local admin rotation and of the
 * BitLocker enable — right after the password is set, a recovery password is added, an old one is
 * removed or encryption starts (a power cut before the step is journaled), after a
 * step before its result is reported (crash or restart), and requests lost on the network — over a
 * fleet of simulated machines. However the kills fall, no machine ends with a password that is not
 * in escrow: each one's password is the latest confirmed escrowed version, and every version an
 * agent set is one the server stored before it was set. The fault draws are seeded (Math.random
 * replaced), though the interleaving of 20 concurrent machines is not.
 */

jest.setTimeout(600_000);

const SEED = Number(process.env.ESCROW_KILL_SEED ?? 16);
const MACHINES = Number(process.env.ESCROW_KILL_MACHINES ?? 20);
const ACCOUNT = 'DrydockAdmin';
let stack: AgentStack;
let fleet: Harness;
let key: TenantKey;
const realRandom = Math.random;

/** mulberry32: a small seeded generator for the fault draws. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

beforeAll(async () => {
  stack = await startAgentStack({
    PROVISION_RETRY_BACKOFF_SECONDS: '1',
    PROVISION_OFFLINE_LIMIT_SECONDS: '120',
    PROVISION_FAILED_HOLD_SECONDS: '600',
  });
});
afterAll(async () => {
  Math.random = realRandom;
  await fleet?.stop();
  await stack?.close();
});

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

it(`never leaves a machine with a password escrow cannot give back (${MACHINES} machines, seed ${SEED})`, async () => {
  key = await generateTenantKey({ tenantId: stack.tenant.tenantId, keyVersion: 1 });
  const setup = await gql(
    stack.app,
    stack.tenant.tenantId,
    `mutation($i: SetupEscrowKeyInput!) { setupEscrowKey(input: $i) { keyVersion } }`,
    {
      i: {
        publicKey: key.publicKey,
        wrappedPrivateKey: await wrapTenantKey(key, 'kill test passphrase'),
        keyVersion: 1,
      },
    },
  );
  expect(setup.errors).toBeUndefined();
  fleet = await enrolledFleet(stack, 'escrow-kill', MACHINES, {
    faults: { crash: 0.15, network: 0.05, slowMs: 0, reboot: 0.05, midstep: 0, winget: 0 },
  });
  // By machine id, now: a restarted agent learns its id again only when it checks in.
  const byId = new Map(fleet.machines.map((m) => [m.agent.machineId!, m]));
  const random = seeded(SEED);
  Math.random = random;
  // A power cut right after Windows took the new password, before the agent journaled its step.
  // At each cut, what the machine holds at that instant: each must have been escrowed before it.
  const cuts: { name: string; at: number; password: string | null; recovery: string[] }[] = [];
  for (const machine of fleet.machines)
    machine.platform.afterEffect = (effect) => {
      if (
        /^(local-password|bitlocker-protector|bitlocker-remove|bitlocker-enable)/.test(effect) &&
        random() < 0.2
      ) {
        cuts.push({
          name: machine.name,
          at: Date.now(),
          password: machine.platform.localPasswordHash(ACCOUNT),
          recovery: machine.platform.recoveryPasswordHashes(),
        });
        throw new SimulatedCrash(true);
      }
    };
  const originals = new Map(
    fleet.machines.map((m) => [m.name, m.platform.localPasswordHash('Administrator')]),
  );
  const profileId = await saveProfile(stack, 'Kill', {
    phases: {
      security: { enabled: true, localAdmin: { account: ACCOUNT, create: true }, bitlocker: {} },
      apps: { enabled: false },
      tweaks: { enabled: false },
      locale: { enabled: false },
      inventory: { enabled: false },
    },
  });
  const started = await startFleetRun(stack, {
    profileId,
    concurrency: MACHINES,
    siteIds: [stack.tenant.siteId],
  });
  await waitForFleet(stack, started.id, (f) => f.status === 'completed');
  Math.random = realRandom;
  const runs = await fleetMachineRuns(stack, started.id);

  let gaveUp = 0;
  /** Escrow before change, at every cut: what the machine held then was stored before then. */
  const checkCuts = (name: string, of: (kind: EscrowKind) => { hash: string; created: string }[]) => {
    const storedBy = (hash: string, kind: EscrowKind, at: number) =>
      of(kind).some((o) => o.hash === hash && Number(o.created) <= at);
    for (const cut of cuts.filter((c) => c.name === name)) {
      expect({
        cut: cut.at,
        password: cut.password === null || storedBy(cut.password, 'local-admin-password', cut.at),
        recovery: cut.recovery.every((h) => storedBy(h, 'bitlocker-recovery-password', cut.at)),
      }).toEqual({ cut: cut.at, password: true, recovery: true });
      checkedCuts++;
    }
  };
  let recorded = !process.env.DRYDOCK_RECORD_HISTORIES;
  let versions = 0;
  let checkedCuts = 0;
  for (const run of runs) {
    const machine = byId.get(run.machineId)!;
    const stored = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
      em.execute<
        { kind: EscrowKind; secret_version: number; envelope: string; confirmed: boolean; created: string }[]
      >(
        `select kind, secret_version, envelope, confirmed_at is not null as confirmed,
                (extract(epoch from created_at) * 1000)::text as created from escrowed_secrets
          where machine_id = ? order by kind, secret_version`,
        [run.machineId],
      ),
    );
    versions += stored.length;
    const opened = await Promise.all(
      stored.map(async (s) => ({
        ...s,
        hash: sha256(
          await openEscrowSecret(
            key,
            { machineId: run.machineId, kind: s.kind, secretVersion: s.secret_version },
            s.envelope,
          ),
        ),
      })),
    );
    const of = (kind: EscrowKind) => opened.filter((o) => o.kind === kind);
    const password = machine.platform.localPasswordHash(ACCOUNT);
    const recovery = machine.platform.recoveryPasswordHashes();
    // The invariant, whatever happened: every password and recovery password on the machine is escrowed.
    expect({
      machine: machine.name,
      password: password === null || of('local-admin-password').some((o) => o.hash === password),
      recovery: recovery.every((h) => of('bitlocker-recovery-password').some((o) => o.hash === h)),
    }).toEqual({ machine: machine.name, password: true, recovery: true });
    // The image's Administrator was not touched, whatever the end.
    expect(machine.platform.localPasswordHash('Administrator')).toBe(originals.get(machine.name));
    // A kill between the escrow and the apply of a round costs the round, and a BitLocker apply has
    // three effects to cut after (add, remove the old protector, enable): at these rates a round is
    // lost about half the time, so now and then one machine of 20 loses all MAX_ESCROW_ROUNDS of
    // one secret. The run then fails as EscrowPendingLost, with that many versions stored, none
    // confirmed, and nothing on the machine that escrow cannot give back (checked above).
    const exhausted = (['local-admin-password', 'bitlocker-recovery-password'] as const).find(
      (kind) => of(kind).length === MAX_ESCROW_ROUNDS && !of(kind).some((o) => o.confirmed),
    );
    if (run.status === 'failed' && run.lastError?.type === 'EscrowPendingLost' && exhausted) {
      gaveUp++;
      checkCuts(machine.name, of);
      continue;
    }
    // Otherwise the run passed, each secret's one confirmed version the latest, and what the machine holds.
    expect({ machine: machine.name, status: run.status, error: run.lastError }).toEqual({
      machine: machine.name,
      status: 'passed',
      error: null,
    });
    for (const kind of ['local-admin-password', 'bitlocker-recovery-password'] as const) {
      const confirmed = of(kind).filter((o) => o.confirmed);
      expect(confirmed).toHaveLength(1);
      expect(confirmed[0]!.secret_version).toBe(of(kind).at(-1)!.secret_version);
    }
    expect(password).toBe(of('local-admin-password').find((o) => o.confirmed)!.hash);
    expect(recovery).toEqual([of('bitlocker-recovery-password').find((o) => o.confirmed)!.hash]);
    expect((await machine.platform.bitlockerVolume('C:')).volumeStatus).toBe('FullyEncrypted');
    expect(machine.platform.snapshot.effects['bitlocker-enable']).toBe(1);
    // A run that needed more than one round, for the replay test (DRYDOCK_RECORD_HISTORIES=1).
    if (!recorded && of('local-admin-password').length > 1 && of('bitlocker-recovery-password').length > 1) {
      const history = await stack.temporal.workflow.getHandle(run.workflowId).fetchHistory();
      writeFileSync(
        path.join(repoRoot, 'test', 'histories', 'provision-machine-escrow-rounds.json'),
        `${historyToJSON(history)}\n`,
      );
      recorded = true;
    }
    checkCuts(machine.name, of);
  }
  // Giving up is the rare end, not the usual one.
  expect(gaveUp).toBeLessThanOrEqual(Math.ceil(runs.length / 10));
  // The kills did land where they matter: some machines needed more than one version.
  expect(cuts.length).toBeGreaterThan(0);
  expect(checkedCuts).toBe(cuts.length);
  expect(versions).toBeGreaterThan(2 * runs.length);
  expect(fleet.machines.reduce((n, m) => n + m.crashes, 0)).toBeGreaterThan(0);
});
