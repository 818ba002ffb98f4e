import { randomUUID } from 'node:crypto';
import { CompleteAsyncError } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client } from 'pg';
import { createAgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import { claimTask, finishTask } from '../../infra/db/agent-tasks';
import type { Orm } from '../../infra/db/orm';
import { StepKind, type TaskResult } from '../../infra/wire/agent-steps';
import { AgentChannelFailure } from '../../workflows/machines/contracts';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { rejection } from '../helpers/rejection';

/**
 * dispatchAgentTask hands its workflow a result typed by the step's kind. A result the agent posts
 * is held to its schema by the API before it is stored; one already stored when an activity attempt
 * reads it back is checked again, so the type the workflow reads it as is true: a row that does not
 * fit (stored before its schema, or altered in the database) is never handed on.
 */
let db: TestDatabase;
let orm: Orm;
let tenant: TenantFixture;
let machineId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  tenant = await createTenant(orm);
  machineId = randomUUID();
  const client = new Client({ connectionString: db.appUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(`select set_config('app.tenant_id', $1, true)`, [tenant.tenantId]);
    await client.query(
      `insert into machines (id, tenant_id, site_id, machine_uid, hostname) values ($1, $2, $3, $4, 'PC')`,
      [machineId, tenant.tenantId, tenant.siteId, randomUUID()],
    );
    await client.query('commit');
  } finally {
    await client.end();
  }
});
afterAll(() => db.drop());

/** One activity (its own workflow run and activity id): each call is another attempt of it. */
function rebootActivity() {
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId: `provision:${machineId}:${randomUUID()}`, runId: randomUUID() },
    activityId: '7',
    scheduledTimestampMs: Date.now(),
    scheduleToCloseTimeoutMs: 3600_000,
  });
  const { dispatchAgentTask } = createAgentChannelActivities({ orm });
  return (): Promise<TaskResult<StepKind.Reboot>> =>
    env.run(() =>
      dispatchAgentTask({
        tenantId: tenant.tenantId,
        machineId,
        kind: StepKind.Reboot,
        payload: { reason: 'rename' },
      }),
    );
}

/** The machine takes the task and its result is stored as given (no API in between). */
async function storeResult(result: Record<string, unknown>) {
  const task = await claimTask(orm, tenant.tenantId, machineId);
  expect(task).toMatchObject({ kind: StepKind.Reboot, payload: { reason: 'rename' } });
  await finishTask(orm, tenant.tenantId, machineId, task!.id, { ok: true, result });
}

describe('dispatchAgentTask reading back a stored result', () => {
  it('hands on a result that fits its kind, typed by it', async () => {
    const attempt = rebootActivity();
    expect(await rejection(attempt())).toBeInstanceOf(CompleteAsyncError);
    await storeResult({ bootId: 'boot-1' });
    const result = await attempt();
    // Typed as the reboot step's result: its boot id, and the flags every step may set.
    const { bootId, alreadyDone } = result;
    expect({ bootId, alreadyDone }).toEqual({ bootId: 'boot-1', alreadyDone: undefined });
  });

  it('refuses one that does not fit (a field no reboot step gives, a control character), for good', async () => {
    const attempt = rebootActivity();
    expect(await rejection(attempt())).toBeInstanceOf(CompleteAsyncError);
    await storeResult({ bootId: 'boot-1\r\n', admin: true });
    const error = await rejection(attempt());
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: AgentChannelFailure.ResultInvalid, nonRetryable: true });
    expect(error.message).toMatch(/system\.reboot result does not fit its schema/);
  });
});
