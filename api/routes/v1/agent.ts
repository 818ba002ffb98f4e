import { ActivityNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serverSecret } from '../../../infra/config/env';
import {
  claimTask,
  finishTask,
  taskKind,
  taskForProgress,
  waitingWorkflows,
} from '../../../infra/db/agent-tasks';
import { MachineSchema } from '../../../infra/db/entities';
import { withTenant } from '../../../infra/db/orm';
import {
  CheckInRequestSchema,
  CheckInResponseSchema,
  ErrorResponseSchema,
  PollQuerySchema,
  PollResponseSchema,
  ProgressRequestSchema,
  ResultRequestSchema,
  ResultResponseSchema,
  TaskParamsSchema,
  WireErrorCode,
  type CheckInRequest,
  type AgentTaskMessage,
  type ProgressRequest,
  type ResultRequest,
} from '../../../infra/wire/agent-protocol';
import { checkStepResult } from '../../../infra/wire/step-results';
import { bootIdChangedSignal, stepFailure } from '../../../workflows/machines/contracts';
import { authenticateAgent, type AgentIdentity } from '../../agent-channel/agent-auth';
import type { AppDeps } from '../../app';
import { sendError, V1_BODY_LIMIT } from './reply';

declare module 'fastify' {
  interface FastifyRequest {
    agent?: AgentIdentity;
  }
}

const unauthorized = (reply: FastifyReply) =>
  sendError(reply, 401, WireErrorCode.Unauthorized, 'agent key missing, unknown or revoked');

const security = [{ agentKey: [] }];

const pollsThrottled = (reply: FastifyReply) => {
  reply.header('retry-after', '60');
  return sendError(
    reply,
    429,
    WireErrorCode.RateLimited,
    'this agent key keeps opening polls over its own open poll; poll one at a time',
  );
};

/** Check-in, long-poll, progress and result: every request authenticated by the machine's agent key. */
export async function agentRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { env, orm, temporal, hub } = deps;
  const secret = serverSecret(env);
  // Kinds of the tasks this process handed out: a result is checked against its kind's schema
  // without a lookup (a result that reaches another replica reads the kind from its row).
  const claimedKinds = new BoundedMap<string, string>(100_000);

  /**
   * The long-poll: the machine's next task as soon as one is queued, or null after `wait` seconds
   * (capped by AGENT_POLL_MAX_SECONDS) or when the client goes away; 'revoked' if its key is.
   */
  const waitForTask = async (
    request: FastifyRequest,
    reply: FastifyReply,
    wait: string | undefined,
  ): Promise<AgentTaskMessage | null | 'revoked' | 'throttled'> => {
    const agent = request.agent!;
    const waitMs =
      Math.min(wait === undefined ? env.AGENT_POLL_MAX_SECONDS : Number(wait), env.AGENT_POLL_MAX_SECONDS) *
      1000;
    const deadline = Date.now() + waitMs;
    // One poll per key: this one takes over from an older one still waiting (which answers 204).
    const poll = hub.beginPoll(agent.keyId);
    if (poll === null) return 'throttled';
    // The client going away ends the wait (reply.raw 'close' is the reliable signal).
    const gone = new AbortController();
    reply.raw.on('close', () => gone.abort());
    // Closed before the listener existed (during authentication): the event has already fired.
    // The socket tells (a request whose body was read is itself "destroyed" once read).
    const closed = () => gone.signal.aborted || request.raw.socket.destroyed || reply.raw.destroyed;
    try {
      for (;;) {
        // Never claim for a poll nobody is waiting on (the task would go into a dead socket), nor
        // for one a newer poll of the key replaced.
        if (closed() || !hub.isCurrent(agent.keyId, poll)) return null;
        // A pending (unapproved clone) or retired machine is offered nothing (claimTask checks).
        const task = await claimTask(orm, agent.tenantId, agent.machineId);
        if (task) {
          claimedKinds.set(task.id, task.kind);
          return task;
        }
        const left = deadline - Date.now();
        if (left <= 0 || closed()) return null;
        const reason = await hub.wait(agent.machineId, agent.keyId, left, gone.signal, poll);
        if (reason === 'revoked') return 'revoked';
        if (reason === 'closed' || reason === 'superseded' || reason === 'rekeyed') return null;
      }
    } finally {
      hub.endPoll(agent.keyId, poll);
    }
  };

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.url.startsWith('/v1/agent/')) return;
    const identity = await authenticateAgent(
      orm,
      secret,
      request.headers.authorization,
      request.log,
      hub.keys,
    );
    if (!identity) return unauthorized(reply);
    request.agent = identity;
  });

  app.post<{ Body: CheckInRequest }>(
    '/agent/check-in',
    {
      bodyLimit: V1_BODY_LIMIT,
      schema: {
        security,
        body: CheckInRequestSchema,
        response: { 200: CheckInResponseSchema, 401: ErrorResponseSchema },
      },
    },
    async (request) => {
      const agent = request.agent!;
      const body = request.body;
      const { machine, previousBootId, previousBootAt } = await withTenant(
        orm,
        agent.tenantId,
        async (em) => {
          const m = await em.findOneOrFail(MachineSchema, { id: agent.machineId });
          const previous = m.bootId ?? null;
          // When the previous boot began: its check-in time less the uptime it reported then.
          const previousBootAt = m.lastSeenAt
            ? new Date(m.lastSeenAt.getTime() - (m.uptimeSeconds ?? 0) * 1000)
            : null;
          m.bootId = body.bootId;
          m.uptimeSeconds = body.uptimeSeconds;
          m.agentVersion = body.agentVersion;
          m.lastSeenAt = new Date();
          if (body.hostname) m.hostname = body.hostname;
          await em.flush();
          return { machine: m, previousBootId: previous, previousBootAt };
        },
      );
      if (previousBootId !== null && previousBootId !== body.bootId) {
        await signalWaitingWorkflows(
          deps,
          agent,
          { bootId: body.bootId, previousBootId },
          previousBootAt,
          request,
        );
      }
      return {
        machineId: machine.id,
        status: machine.status,
        serverTime: new Date().toISOString(),
        pollSeconds: env.AGENT_POLL_MAX_SECONDS,
      };
    },
  );

  app.get<{ Querystring: { wait?: string } }>(
    '/agent/tasks',
    {
      schema: {
        security,
        description:
          'Long-poll for the next task: 200 with a task as soon as one is queued, 204 after `wait` seconds.',
        querystring: PollQuerySchema,
        response: { 200: PollResponseSchema, 401: ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const next = await waitForTask(request, reply, request.query.wait);
      if (next === 'revoked') return unauthorized(reply);
      if (next === 'throttled') return pollsThrottled(reply);
      return next ? { task: next } : reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string }; Body: ProgressRequest }>(
    '/agent/tasks/:id/progress',
    { bodyLimit: V1_BODY_LIMIT, schema: { security, params: TaskParamsSchema, body: ProgressRequestSchema } },
    async (request, reply) => {
      const agent = request.agent!;
      const task = await taskForProgress(orm, agent.tenantId, agent.machineId, request.params.id);
      if (!task) return sendError(reply, 404, WireErrorCode.NotFound, 'no such task for this machine');
      if (task.taskToken && task.status === 'delivered') {
        await temporal.activity.heartbeat(task.taskToken, request.body).catch((err) => {
          if (!(err instanceof ActivityNotFoundError)) throw err;
        });
      }
      return reply.code(202).send({});
    },
  );

  app.post<{ Params: { id: string }; Body: ResultRequest; Querystring: { wait?: string } }>(
    '/agent/tasks/:id/result',
    {
      bodyLimit: V1_BODY_LIMIT,
      schema: {
        security,
        description:
          'Stores the result and completes the activity. With `wait`, then long-polls for the next task as GET /agent/tasks does (one request per step instead of two).',
        params: TaskParamsSchema,
        querystring: PollQuerySchema,
        body: ResultRequestSchema,
        response: { 200: ResultResponseSchema, 401: ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const agent = request.agent!;
      const body = request.body;
      // 0. A result is stored only if it is what its step produces (ADR 0015, docs/SECURITY.md).
      if (body.ok) {
        const kind =
          claimedKinds.get(request.params.id) ??
          (await taskKind(orm, agent.tenantId, agent.machineId, request.params.id));
        if (kind === null)
          return sendError(reply, 404, WireErrorCode.NotFound, 'no such task for this machine');
        const problem = checkStepResult(kind, body.result);
        if (problem) {
          request.log.warn({ taskId: request.params.id, kind, problem }, 'step result refused');
          return sendError(
            reply,
            400,
            WireErrorCode.BadRequest,
            `invalid ${kind} result: ${problem}`.slice(0, 300),
          );
        }
      }
      // 1. Persist first: from here on the result survives an API or Temporal restart. The first
      // result of a task is the one kept; a repeat gets the stored one completed again.
      const task = await finishTask(
        orm,
        agent.tenantId,
        agent.machineId,
        request.params.id,
        body.ok ? { ok: true, result: body.result } : { ok: false, error: body.error },
      );
      if (!task) return sendError(reply, 404, WireErrorCode.NotFound, 'no such task for this machine');
      claimedKinds.delete(request.params.id);
      // 2. Then complete the waiting activity. Repeats are harmless: an activity that is already
      // done (or whose attempt timed out) is "not found", and the next attempt reads the row.
      if (task.taskToken) {
        try {
          if (task.status === 'completed')
            await temporal.activity.complete(task.taskToken, task.result ?? {});
          else if (task.error) {
            await temporal.activity.fail(task.taskToken, stepFailure(task.error));
          }
        } catch (err) {
          if (!(err instanceof ActivityNotFoundError)) {
            request.log.warn(
              { err: (err as Error).message, taskId: request.params.id },
              'could not complete the activity yet',
            );
            return sendError(
              reply,
              503,
              WireErrorCode.Internal,
              'result stored; the workflow engine is unavailable, send it again later',
            );
          }
        }
      }
      if (request.query.wait === undefined) return reply.code(200).send({ accepted: true });
      // The result is in; a revoked key is told so by its next request.
      const next = await waitForTask(request, reply, request.query.wait);
      return reply
        .code(200)
        .send(
          typeof next === 'object' && next !== null ? { accepted: true, task: next } : { accepted: true },
        );
    },
  );
}

/**
 * A new boot id: tell the workflows that may be waiting on it — those with a task still open on
 * this machine, and those that asked it to restart during the previous boot. Found in agent_tasks
 * (one indexed query), not by a visibility search, which costs the Temporal server a scan per
 * reboot. A workflow that has finished meanwhile is skipped.
 */
async function signalWaitingWorkflows(
  deps: AppDeps,
  agent: AgentIdentity,
  boot: { bootId: string; previousBootId: string },
  previousBootAt: Date | null,
  request: FastifyRequest,
) {
  try {
    const workflowIds = await waitingWorkflows(
      deps.orm,
      agent.tenantId,
      agent.machineId,
      previousBootAt ?? new Date(Date.now() - 24 * 3600_000),
    );
    for (const workflowId of workflowIds) {
      await deps.temporal.workflow
        .getHandle(workflowId)
        .signal(bootIdChangedSignal, boot)
        .catch((err: Error) => {
          if (!(err instanceof WorkflowNotFoundError))
            request.log.warn({ err: err.message, workflowId }, 'boot signal failed');
        });
    }
  } catch (err) {
    request.log.warn(
      { err: (err as Error).message, machineId: agent.machineId },
      'could not find the machine’s waiting workflows',
    );
  }
}

/** A Map that forgets its oldest entries beyond `max` (insertion order). */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    this.delete(key);
    if (this.size >= this.max) this.delete(this.keys().next().value!);
    return super.set(key, value);
  }
}
