import { randomUUID } from 'node:crypto';
import { withTenant } from '../../infra/db/orm';
import { createMachineRun } from '../../infra/provisioning/machine-runs';
import { ensureRetentionSchedule } from '../../infra/temporal/schedules';
import type { PruneExpiredDataResult } from '../../workflows/maintenance/contracts';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { enrolledFleet, saveProfile } from '../helpers/provisioning';

/**
 * Retention (ADR 0039) on the real stack: the worker's schedule runs `pruneExpiredData`, which
 * deletes finished agent tasks of ended work after the retention days and stale enrollment throttle
 * rows — and keeps every task that could still be dispatched again.
 */
jest.setTimeout(180_000);

let stack: AgentStack;
// Its own schedule: worker processes of other test files create the default one on the shared server.
const SCHEDULE_ID = `drydock-retention-${randomUUID()}`;
beforeAll(async () => {
  stack = await startAgentStack();
});
afterAll(async () => {
  await stack.temporal.schedule
    .getHandle(SCHEDULE_ID)
    .delete()
    .catch(() => undefined);
  await stack.close();
});

const settings = (minutes: number) => ({
  TEMPORAL_TASK_QUEUE: stack.taskQueue,
  RETENTION_AGENT_TASK_DAYS: 30,
  RETENTION_INTERVAL_MINUTES: minutes,
  RETENTION_BATCH_SIZE: 2,
});

it('prunes what expired and keeps what may still be dispatched, in batches, from its schedule', async () => {
  const fleet = await enrolledFleet(stack, 'retention', 1);
  await fleet.stop();
  const machineId = fleet.machines[0]!.agent.machineId!;
  const tenantId = stack.tenant.tenantId;
  const profileId = await saveProfile(stack, 'Retention', {});
  const openRun = await withTenant(stack.orm, tenantId, (em) =>
    createMachineRun(em, { tenantId, machineId, siteId: stack.tenant.siteId, profileId, createdBy: 'test' }),
  );
  const task = (name: string, workflowId: string, status: string, daysAgo: number | null) =>
    withTenant(stack.orm, tenantId, (em) =>
      em.execute(
        `insert into agent_tasks (id, tenant_id, machine_id, kind, idempotency_key, workflow_id, activity_id, status, finished_at)
         values (?, ?, ?, 'inventory.collect', ?, ?, '1', ?, case when ?::int is null then null else now() - make_interval(days => ?::int) end)`,
        [randomUUID(), tenantId, machineId, name, workflowId, status, daysAgo, daysAgo],
      ),
    );
  // Ended long ago: five tasks of three workflows, more than one batch of two.
  for (const [i, wf] of ['old-a', 'old-a', 'old-b', 'old-c', 'old-c'].entries())
    await task(`old-${i}`, `retention:${wf}`, i % 2 ? 'failed' : 'completed', 40);
  await task('abandoned', 'retention:old-d', 'abandoned', 31);
  // Kept: its run is open (failed and waiting, say); recent; a sibling still open or recent.
  await task('open-run', openRun.workflowId, 'completed', 60);
  await task('recent', 'retention:recent', 'completed', 3);
  await task('sibling-old', 'retention:busy', 'completed', 50);
  await task('sibling-open', 'retention:busy', 'queued', null);
  await task('sibling-old-2', 'retention:fresh', 'completed', 50);
  await task('sibling-recent', 'retention:fresh', 'completed', 1);
  // An open profile migration (waiting weeks for its decision, say) keeps its old step's task.
  const migrationWorkflow = `migrate-profile:${machineId}:${randomUUID()}`;
  await withTenant(stack.orm, tenantId, (em) =>
    em.execute(
      `insert into profile_migrations (id, tenant_id, machine_id, workflow_id, mode, source, target, copy_groups, retire, status, created_by)
       values (?, ?, ?, ?, 'in-place', 'olduser', '{"kind":"local","name":"newuser"}'::jsonb, false, 'keep', 'awaiting-approval', 'test')`,
      [randomUUID(), tenantId, machineId, migrationWorkflow],
    ),
  );
  await task('open-migration', migrationWorkflow, 'completed', 45);
  // Enrollment throttle rows: a source quiet for two days goes, a locked one stays.
  const quiet = `203.0.113.${Math.floor(Math.random() * 200)}`;
  const locked = `198.51.100.${Math.floor(Math.random() * 200)}`;
  const owner = await stack.db.adminClient();
  await owner.query(
    `insert into enrollment_guard (source, failures, updated_at, locked_until) values
       ($1, 3, now() - interval '2 days', null), ($2, 10, now() - interval '2 days', now() + interval '1 hour')`,
    [quiet, locked],
  );

  // Portal sessions: expired two days ago and revoked two days ago go; live and just-expired stay.
  const [user] = (
    await owner.query<{ tenant_id: string; id: string }>(`select tenant_id, id from users limit 1`)
  ).rows;
  const session = (label: string, expires: string, revoked: string | null) =>
    owner.query(
      `insert into sessions (id, tenant_id, user_id, id_hash, expires_at, revoked_at)
       values ($1, $2, $3, encode(sha256($4::bytea), 'hex'), now() + $5::interval, now() + $6::interval)`,
      [randomUUID(), user!.tenant_id, user!.id, `${label}-${randomUUID()}`, expires, revoked],
    );
  await session('expired', '-2 days', null);
  await session('revoked', '+5 days', '-2 days');
  await session('live', '+5 days', null);
  await session('just-expired', '-1 hour', null);
  const sessionsBefore = Number((await owner.query(`select count(*) as n from sessions`)).rows[0].n);

  expect(await ensureRetentionSchedule(stack.temporal, settings(60), SCHEDULE_ID)).toBe('created');
  expect(await ensureRetentionSchedule(stack.temporal, settings(60), SCHEDULE_ID)).toBe('unchanged');
  expect(await ensureRetentionSchedule(stack.temporal, settings(30), SCHEDULE_ID)).toBe('updated');
  const schedule = stack.temporal.schedule.getHandle(SCHEDULE_ID);
  await schedule.trigger();
  let result: PruneExpiredDataResult | undefined;
  for (let i = 0; i < 300 && !result; i++) {
    const d = await schedule.describe();
    const ran = d.info.recentActions.at(-1);
    if (ran) {
      const handle = stack.temporal.workflow.getHandle(
        ran.action.workflow.workflowId,
        ran.action.workflow.firstExecutionRunId,
      );
      result = (await handle.result()) as PruneExpiredDataResult;
    } else await new Promise((r) => setTimeout(r, 200));
  }
  expect(result!.deleted.agent_tasks).toBe(6);
  expect(result!.batches).toBeGreaterThanOrEqual(4);
  expect(result!.deleted.enrollment_guard).toBeGreaterThanOrEqual(1);
  expect(result!.deleted.sessions).toBe(2);
  expect(Number((await owner.query(`select count(*) as n from sessions`)).rows[0].n)).toBe(
    sessionsBefore - 2,
  );

  const left = await withTenant(stack.orm, tenantId, (em) =>
    em.execute<{ idempotency_key: string }[]>(
      `select idempotency_key from agent_tasks where machine_id = ? order by idempotency_key`,
      [machineId],
    ),
  );
  expect(left.map((r) => r.idempotency_key).filter((k) => !k.startsWith('enroll'))).toEqual(
    expect.arrayContaining([
      'open-migration',
      'open-run',
      'recent',
      'sibling-old',
      'sibling-open',
      'sibling-old-2',
      'sibling-recent',
    ]),
  );
  expect(left.some((r) => r.idempotency_key.startsWith('old-') || r.idempotency_key === 'abandoned')).toBe(
    false,
  );
  const guard = await owner.query<{ source: string }>(
    `select source from enrollment_guard where source in ($1, $2)`,
    [quiet, locked],
  );
  expect(guard.rows.map((r) => r.source)).toEqual([locked]);
});

it('refuses nonsense settings with a stable SQL state', async () => {
  await expect(
    stack.orm.em.getConnection().execute(`select * from drydock_prune(0, 10)`),
  ).rejects.toMatchObject({ code: '22023' });
});
