import { AGENT_CHANNEL, type AgentNotice } from './agent-notices';
import { StepKind } from '../wire/agent-steps';
import { uuidPattern, withTenant, type Orm } from './orm';

/**
 * The agent channel's statements. The per-step ones are each one call of a function from migration
 * 0005, one round trip, with row-level security applying as in `withTenant` (the functions set the
 * tenant for their own statement). Every agent task passes through them three or four times, so
 * they skip the unit of work and the transaction a `withTenant` call costs (ADR 0012). The one per
 * reboot (`waitingWorkflows`) is an ordinary `withTenant` query.
 */

export interface TaskError {
  type: string;
  message: string;
  retryable: boolean;
}

/** A task row as the agent channel reads it back. */
export interface TaskState {
  /** `abandoned`: its run ended (or it was not delivered within the offline limit); it never runs. */
  status: 'queued' | 'delivered' | 'completed' | 'failed' | 'abandoned';
  result: Record<string, unknown> | null;
  error: TaskError | null;
  taskToken: Buffer | null;
}

export interface DispatchInput {
  tenantId: string;
  machineId: string;
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
  workflowId: string;
  /** The Temporal run that asked for it: a reset's new run never gets the old run's results. */
  runId: string;
  activityId: string;
  taskToken: Uint8Array;
  attempt: number;
  /** Not delivered by then (the step's offline limit): abandoned, the step fails as unreachable. */
  deliverBy: Date;
  /** Never handed out after this (the activity's schedule-to-close: nobody waits for it any more). */
  expiresAt: Date;
  /** The machine_runs row to mirror (status, phase, step, attempt), if the task belongs to a run. */
  run?: { runId: string; status: string; phase: string; step: string; attempt: number };
}

export type DispatchOutcome =
  | { machine: 'missing' | 'retired' }
  | {
      machine: 'active' | 'pending';
      task:
        | Pick<TaskState, 'status' | 'result' | 'error'>
        /** A row of this key but another kind exists; `undelivered`: the delivery deadline passed. */
        | { status: 'conflict' | 'undelivered'; result: null; error: null };
    };

function checkIds(...ids: string[]): void {
  for (const id of ids) if (!uuidPattern.test(id)) throw new Error(`not an id: ${JSON.stringify(id)}`);
}

/** The pool's own client, as far as these statements need it (node-postgres). */
interface PgClient {
  query(config: { text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}
interface KnexPoolClient {
  acquireConnection(): Promise<PgClient>;
  releaseConnection(connection: PgClient): Promise<void>;
}

/**
 * One function call on a connection of the ORM's own pool, straight through node-postgres: at one
 * call per step per process, the ORM's and the query builder's layers cost several times the
 * driver's work (profiles, ADR 0012). Placeholders are node-postgres's: `$1`, `$2`, …
 */
async function call<T>(orm: Orm, sql: string, params: unknown[]): Promise<T[]> {
  const pool = (orm.em.getConnection().getKnex() as unknown as { client: KnexPoolClient }).client;
  const connection = await pool.acquireConnection();
  try {
    return (await connection.query({ text: sql, values: params })).rows as T[];
  } finally {
    await pool.releaseConnection(connection);
  }
}

/** Stores the task for this activity attempt (or re-arms it), mirrors the run, wakes the long-polls. */
export async function dispatchTask(orm: Orm, input: DispatchInput): Promise<DispatchOutcome> {
  checkIds(input.tenantId, input.machineId, ...(input.run ? [input.run.runId] : []));
  const notice: AgentNotice = { t: 'task', m: input.machineId };
  const [row] = await call<{
    machine_status: string;
    status: TaskState['status'] | 'conflict' | 'undelivered' | null;
    result: TaskState['result'];
    error: TaskState['error'];
  }>(
    orm,
    `select * from agent_dispatch_task($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
    [
      input.tenantId,
      input.machineId,
      input.id,
      input.kind,
      JSON.stringify(input.payload),
      input.idempotencyKey,
      input.workflowId,
      input.runId,
      input.activityId,
      Buffer.from(input.taskToken),
      input.attempt,
      input.deliverBy,
      input.expiresAt,
      input.run?.runId ?? null,
      input.run?.status ?? null,
      input.run?.phase ?? null,
      input.run?.step ?? null,
      input.run?.attempt ?? null,
      AGENT_CHANNEL,
      JSON.stringify(notice),
    ],
  );
  const machine = row!.machine_status as 'missing' | 'retired' | 'active' | 'pending';
  if (machine === 'missing' || machine === 'retired') return { machine };
  const status = row!.status!;
  if (status === 'conflict' || status === 'undelivered')
    return { machine, task: { status, result: null, error: null } };
  return { machine, task: { status, result: row!.result, error: row!.error } };
}

/**
 * Claims the oldest open task of an active machine (a pending clone or a retired machine gets
 * nothing); SKIP LOCKED keeps two concurrent polls from taking the same one. A task delivered
 * earlier and not finished is offered again at once: an agent polls only when it holds nothing (it
 * finishes, journals and reports every task before it polls again), so that delivery went to a poll
 * that died with its agent — a restart, a crash, a power cut the server could not see. The agent's
 * journal keeps a task it did get from running twice.
 */
export async function claimTask(orm: Orm, tenantId: string, machineId: string): Promise<ClaimedTask | null> {
  const claimed = await claimTaskOrBusy(orm, tenantId, machineId);
  return claimed === 'busy' ? null : claimed;
}

export interface ClaimedTask {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
}

/**
 * As `claimTask`, telling "nothing" from "nothing I could take now": 'busy' when the machine has an
 * open task all the same, whose row another transaction held (a progress report, a trace being
 * recorded on a fresh task). No notice follows that lock's release, so a long-poll must look again
 * soon rather than wait for one (migration 0033, ADR 0051).
 */
export async function claimTaskOrBusy(
  orm: Orm,
  tenantId: string,
  machineId: string,
): Promise<ClaimedTask | 'busy' | null> {
  checkIds(tenantId, machineId);
  const [row] = await call<{
    id: string | null;
    kind: string;
    payload: Record<string, unknown>;
    idempotency_key: string;
    busy: boolean;
  }>(orm, `select * from agent_claim_next($1, $2)`, [tenantId, machineId]);
  if (!row) return null;
  if (row.busy || row.id === null) return 'busy';
  return { id: row.id, kind: row.kind, payload: row.payload, idempotencyKey: row.idempotency_key };
}

/**
 * Records the machine's result unless one is recorded already; the task as it stands, or null.
 * `othersOpen`: whether the machine has another open task it could claim now (migration 0034) —
 * false lets a poll that follows the result wait for a notice instead of claiming (ADR 0051).
 */
export async function finishTask(
  orm: Orm,
  tenantId: string,
  machineId: string,
  taskId: string,
  outcome: { ok: true; result: Record<string, unknown> } | { ok: false; error: TaskError },
): Promise<(TaskState & { othersOpen: boolean }) | null> {
  checkIds(tenantId, machineId, taskId);
  const [row] = await call<{
    status: TaskState['status'];
    result: TaskState['result'];
    error: TaskState['error'];
    task_token: Buffer | null;
    more: boolean;
  }>(orm, `select * from agent_finish_task_next($1, $2, $3, $4, $5::jsonb, $6::jsonb)`, [
    tenantId,
    machineId,
    taskId,
    outcome.ok,
    outcome.ok ? JSON.stringify(outcome.result) : null,
    outcome.ok ? null : JSON.stringify(outcome.error),
  ]);
  return row
    ? {
        status: row.status,
        result: row.result,
        error: row.error,
        taskToken: row.task_token,
        othersOpen: row.more,
      }
    : null;
}

/**
 * For a progress report: the task's status and current activity attempt's token, or null if the
 * machine has no such task. An open task is marked delivered (the machine is working on it).
 */
export async function taskForProgress(
  orm: Orm,
  tenantId: string,
  machineId: string,
  taskId: string,
): Promise<Pick<TaskState, 'status' | 'taskToken'> | null> {
  checkIds(tenantId, machineId, taskId);
  const [row] = await call<{ status: TaskState['status']; task_token: Buffer | null }>(
    orm,
    `select * from agent_task_state($1, $2, $3)`,
    [tenantId, machineId, taskId],
  );
  return row ? { status: row.status, taskToken: row.task_token } : null;
}

/** A task's kind, or null if the machine has no such task (read where a result arrives unannounced). */
export async function taskKind(
  orm: Orm,
  tenantId: string,
  machineId: string,
  taskId: string,
): Promise<string | null> {
  checkIds(tenantId, machineId, taskId);
  const rows = await withTenant(orm, tenantId, (em) =>
    em.execute<{ kind: string }[]>(
      `select kind from agent_tasks where tenant_id = ? and machine_id = ? and id = ?`,
      [tenantId, machineId, taskId],
    ),
  );
  return rows[0]?.kind ?? null;
}

export interface AgentKeyRow {
  tenantId: string;
  machineId: string;
  keyHash: string;
  revokedAt: Date | null;
}

/** The agent_keys row of a key id (before the tenant is known), or null. */
export async function lookupAgentKey(orm: Orm, keyId: string): Promise<AgentKeyRow | null> {
  const [row] = await call<{
    tenant_id: string;
    machine_id: string;
    key_hash: string;
    revoked_at: Date | null;
  }>(orm, `select * from agent_key_lookup($1)`, [keyId]);
  return row
    ? { tenantId: row.tenant_id, machineId: row.machine_id, keyHash: row.key_hash, revokedAt: row.revoked_at }
    : null;
}

/**
 * The workflows a machine's new boot id matters to: those with a task still open on it, and those
 * whose restart request it finished since `since` (the start of the boot that just ended).
 */
export async function waitingWorkflows(
  orm: Orm,
  tenantId: string,
  machineId: string,
  since: Date,
): Promise<string[]> {
  checkIds(tenantId, machineId);
  const rows = await withTenant(orm, tenantId, (em) =>
    em.execute<{ workflow_id: string }[]>(
      `select distinct workflow_id from agent_tasks
        where tenant_id = ? and machine_id = ?
          and (status in ('queued', 'delivered') or (kind = '${StepKind.Reboot}' and finished_at >= ?))`,
      [tenantId, machineId, since],
    ),
  );
  return rows.map((r) => r.workflow_id);
}

/**
 * Tracing on (ADR 0040): the trace of the activity that dispatched a step (a W3C `traceparent`),
 * kept once on its task, so the API can put the machine's work into that trace when it reports.
 */
export async function recordTaskTrace(
  orm: Orm,
  tenantId: string,
  idempotencyKey: string,
  traceParent: string,
): Promise<void> {
  checkIds(tenantId);
  await withTenant(orm, tenantId, (em) =>
    em.execute(
      `update agent_tasks set trace_parent = ?
        where tenant_id = ? and idempotency_key = ? and trace_parent is null`,
      [traceParent, tenantId, idempotencyKey],
    ),
  );
}

/** A task's trace, kind and first delivery, for the span of the machine's work; null if untraced. */
export async function taskTrace(
  orm: Orm,
  tenantId: string,
  machineId: string,
  taskId: string,
): Promise<{ traceParent: string; kind: string; deliveredAt: Date | null; deliveries: number } | null> {
  checkIds(tenantId, machineId, taskId);
  const [row] = await withTenant(orm, tenantId, (em) =>
    em.execute<
      { trace_parent: string | null; kind: string; delivered_at: Date | null; deliveries: number }[]
    >(
      `select trace_parent, kind, delivered_at, deliveries from agent_tasks
        where tenant_id = ? and machine_id = ? and id = ?`,
      [tenantId, machineId, taskId],
    ),
  );
  return row?.trace_parent
    ? {
        traceParent: row.trace_parent,
        kind: row.kind,
        deliveredAt: row.delivered_at ? new Date(row.delivered_at) : null,
        deliveries: row.deliveries,
      }
    : null;
}
