import type { Harness } from '../../agent/harness/harness';
import { withTenant } from '../../infra/db/orm';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import { eventually } from '../helpers/fake-worker';
import { changeableState, seedMigrationUsers } from '../helpers/migration-host';
import { enrolledFleet } from '../helpers/provisioning';

jest.setTimeout(600_000);

/**
 * Issue 17 on the real stack (PostgreSQL, Temporal, the worker, the API on a real port, simulated
 * Windows hosts with real agents): a batch of 50 machines × 3 users through a window of 10 shows
 * each user's progress live in GraphQL, waits for the operator's decisions, and ends with every
 * profile re-assigned and every old account disabled; a single migration the operator rolls back
 * leaves its machine exactly as before; bad input is refused with stable codes.
 */
let stack: AgentStack;
let fleet: Harness;
const ids = new Map<string, string>(); // machine name → machine id

beforeAll(async () => {
  stack = await startAgentStack({
    PROVISION_RETRY_BACKOFF_SECONDS: '1',
    PROVISION_OFFLINE_LIMIT_SECONDS: '300',
  });
  fleet = await enrolledFleet(stack, 'migration', 51);
  for (const m of fleet.machines) m.platform.mutate((s) => seedMigrationUsers(s, 3));
  const rows = await withTenant(stack.orm, stack.tenant.tenantId, (em) =>
    em.execute<{ id: string; hostname: string }[]>('select id, hostname from machines'),
  );
  for (const m of fleet.machines)
    ids.set(m.name, rows.find((r) => r.hostname.toLowerCase() === m.name.toLowerCase())!.id);
});
afterAll(async () => {
  await fleet?.stop();
  await stack.close();
});

const call = async <T>(query: string, variables: Record<string, unknown> = {}) => {
  const res = await gql<T>(stack.app, stack.tenant.tenantId, query, variables);
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data;
};
const errorCode = async (query: string, variables: Record<string, unknown>) => {
  const res = await gql(stack.app, stack.tenant.tenantId, query, variables);
  return (res.errors?.[0]?.extensions as { code?: string } | undefined)?.code;
};

interface BatchView {
  status: string;
  running: number | null;
  counts: { status: string; count: number }[];
  migrations: {
    id: string;
    machineId: string;
    source: string;
    status: string;
    state: string;
    backupChecksum: string | null;
  }[];
}
const BATCH = `query($id: ID!) { profileMigrationBatch(id: $id) { status running counts { status count }
  migrations { id machineId source status state backupChecksum } } }`;
const batch = (id: string) =>
  call<{ profileMigrationBatch: BatchView }>(BATCH, { id }).then((d) => d.profileMigrationBatch);

const START_BATCH = `mutation($input: StartProfileMigrationBatchInput!) { startProfileMigrationBatch(input: $input) { id total concurrency } }`;
const DECIDE = `mutation($id: ID!, $d: String!) { decideProfileMigration(id: $id, decision: $d) { id } }`;

it('a batch of 50 machines × 3 users runs through a window of 10, with per-user progress live in GraphQL', async () => {
  const machines = fleet.machines.slice(0, 50);
  const pairs = machines.flatMap((m) =>
    [0, 1, 2].map((i) => ({
      machineId: ids.get(m.name),
      source: `alice${i || ''}`,
      target: { kind: 'local', name: `carol${i || ''}` },
    })),
  );
  const before = new Map(machines.map((m) => [m.name, changeableState(m.platform)]));
  const { startProfileMigrationBatch: started } = await call<{
    startProfileMigrationBatch: { id: string; total: number; concurrency: number };
  }>(START_BATCH, { input: { mode: 'in-place', retire: 'disable', concurrency: 10, pairs } });
  expect(started).toMatchObject({ total: 150, concurrency: 10 });

  // Watch it live: states seen per user, and never more than 10 machines worked on at once.
  const seen = new Map<string, Set<string>>();
  let maxRunning = 0;
  const view = await eventually(
    async () => {
      const b = await batch(started.id);
      maxRunning = Math.max(maxRunning, b.running ?? 0);
      for (const m of b.migrations) (seen.get(m.id) ?? seen.set(m.id, new Set()).get(m.id)!).add(m.state);
      return b;
    },
    (b) => b.migrations.every((m) => m.status === 'awaiting-approval'),
    480_000,
  );
  expect(view.migrations).toHaveLength(150);
  expect(maxRunning).toBeGreaterThan(1);
  expect(maxRunning).toBeLessThanOrEqual(10);
  const states = new Set([...seen.values()].flatMap((s) => [...s]));
  expect(states).toContain('queued');
  expect(
    [...states].some((s) => ['checking', 'backing-up', 'migrating', 'repairing', 'verifying'].includes(s)),
  ).toBe(true);
  for (const m of view.migrations) expect(m.backupChecksum).toMatch(/^[0-9a-f]{64}$/);

  // The irreversible step waits for the operator, one decision per user.
  for (const m of view.migrations) await call(DECIDE, { id: m.id, d: 'retire' });
  const done = await eventually(
    () => batch(started.id),
    (b) => b.status === 'completed',
    240_000,
  );
  expect(done.counts).toEqual([{ status: 'passed', count: 150 }]);

  // Every machine, item by item.
  for (const m of machines) {
    const p = m.platform.snapshot.profiles;
    const b = before.get(m.name)!;
    for (const i of [0, 1, 2]) {
      const alice = b.accounts!.find((a) => a.name === `alice${i || ''}`)!.sid;
      const carol = b.accounts!.find((a) => a.name === `carol${i || ''}`)!.sid;
      const folder = b.profileList![alice]!.ProfileImagePath;
      expect(p.profileList[carol]).toEqual(b.profileList![alice]);
      expect(p.profileList[alice]).toBeUndefined();
      expect(p.files[`${folder}\\Documents\\budget.xlsx`]).toEqual({
        owner: carol,
        aces: [`${carol}:F`, 'S-1-5-18:F', 'S-1-5-32-544:F'],
      });
      expect(p.hives[`${folder}\\NTUSER.DAT`]).toEqual([`${carol}:F`, 'S-1-5-18:F', 'S-1-5-32-544:F']);
      expect(p.appx[carol]).toEqual(expect.arrayContaining(b.appx![alice]!));
      expect(p.groups.Administrators!.members).toContain(carol);
      expect(p.accounts.find((a) => a.sid === alice)!.enabled).toBe(false);
    }
  }
});

it('one migration, rolled back by the operator after verification, leaves its machine exactly as before', async () => {
  const m = fleet.machines[50]!;
  const before = changeableState(m.platform);
  const start = await call<{ startProfileMigration: { id: string } }>(
    `mutation($input: StartProfileMigrationInput!) { startProfileMigration(input: $input) { id } }`,
    {
      input: {
        machineId: ids.get(m.name),
        mode: 'in-place',
        source: 'CONTOSO\\bob',
        target: {
          kind: 'entra',
          objectId: '73d664e4-0886-4a73-b745-c694da45ddb4',
          tenantId: '7c0a1e55-1f2b-4c3d-8e9f-0a1b2c3d4e5f',
        },
      },
    },
  );
  const id = start.startProfileMigration.id;
  const one = (q = 'state status targetSid notMovable { item } restored') =>
    call<{ profileMigration: Record<string, unknown> }>(
      `query($id: ID!) { profileMigration(id: $id) { ${q} } }`,
      { id },
    ).then((d) => d.profileMigration);
  const waiting = await eventually(
    () => one(),
    (r) => r.status === 'awaiting-approval',
    120_000,
  );
  expect(waiting.targetSid).toBe('S-1-12-1-1943430372-1249052806-2496021943-3034400218');
  expect((waiting.notMovable as { item: string }[]).length).toBeGreaterThan(0);
  expect(await errorCode(DECIDE, { id, d: 'sideways' })).toBe('BAD_USER_INPUT');
  await call(DECIDE, { id, d: 'roll-back' });
  const ended = await eventually(
    () => one(),
    (r) => r.status === 'rolled-back',
    120_000,
  );
  expect((ended.restored as string[]).length).toBeGreaterThan(0);
  expect(changeableState(m.platform)).toEqual(before);
  expect(await errorCode(DECIDE, { id, d: 'retire' })).toBe('RUN_NOT_RUNNING');
});

it('refuses bad input with stable codes', async () => {
  const START = `mutation($input: StartProfileMigrationInput!) { startProfileMigration(input: $input) { id } }`;
  const machineId = ids.get(fleet.machines[0]!.name);
  const base = { machineId, mode: 'in-place', source: 'alice', target: { kind: 'local', name: 'carol' } };
  expect(await errorCode(START, { input: { ...base, mode: 'teleport' } })).toBe('BAD_USER_INPUT');
  expect(await errorCode(START, { input: { ...base, source: 'a"b' } })).toBe('BAD_USER_INPUT');
  expect(
    await errorCode(START, {
      input: { ...base, target: { kind: 'entra', objectId: 'nope', tenantId: 'x' } },
    }),
  ).toBe('BAD_USER_INPUT');
  expect(await errorCode(START, { input: { ...base, target: { kind: 'domain', name: 'no-domain' } } })).toBe(
    'BAD_USER_INPUT',
  );
  expect(await errorCode(START, { input: { ...base, mode: 'cloud' } })).toBe('BAD_USER_INPUT');
  expect(
    await errorCode(START, { input: { ...base, machineId: '00000000-0000-4000-8000-000000000000' } }),
  ).toBe('NOT_FOUND');
});

it('agents that crash after steps and machines that lose power between changes still end every migration fully migrated', async () => {
  const faulty = await enrolledFleet(stack, 'migration-faults', 8, {
    faults: { crash: 0.2, network: 0.03, slowMs: 0, reboot: 0, midstep: 0.05, winget: 0 },
  });
  try {
    for (const m of faulty.machines) m.platform.mutate((s) => seedMigrationUsers(s, 1));
    const pairs = faulty.machines.map((m) => ({
      machineId: m.agent.machineId!,
      source: 'CONTOSO\\bob',
      target: { kind: 'domain', name: 'CONTOSO\\alice.new' },
    }));
    const { startProfileMigrationBatch: started } = await call<{
      startProfileMigrationBatch: { id: string };
    }>(START_BATCH, { input: { mode: 'in-place', retire: 'keep', concurrency: 8, pairs } });
    const view = await eventually(
      () => batch(started.id),
      (b) => b.migrations.every((m) => m.status !== 'queued' && m.status !== 'running'),
      300_000,
    );
    expect(view.migrations.map((m) => m.status)).toEqual(Array(8).fill('awaiting-approval'));
    for (const m of view.migrations) await call(DECIDE, { id: m.id, d: 'keep' });
    await eventually(
      () => batch(started.id),
      (b) => b.status === 'completed',
      120_000,
    );
    expect(faulty.machines.reduce((n, m) => n + m.crashes, 0)).toBeGreaterThan(0);
    for (const m of faulty.machines) {
      const p = m.platform.snapshot.profiles;
      const bob = p.accounts.find((a) => a.name === 'CONTOSO\\bob')!.sid;
      const alice = p.accounts.find((a) => a.name === 'CONTOSO\\alice.new')!.sid;
      expect(p.profileList[alice]?.ProfileImagePath).toBe('C:\\Users\\bob');
      expect(p.profileList[bob]).toBeUndefined();
      expect(p.hives['C:\\Users\\bob\\NTUSER.DAT']).toEqual([`${alice}:F`, 'S-1-5-18:F', 'S-1-5-32-544:F']);
      expect(Object.values(p.files).filter((f) => f.owner === bob)).toEqual([]);
    }
  } finally {
    await faulty.stop();
  }
});
