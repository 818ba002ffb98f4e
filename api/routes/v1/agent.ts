import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serverSecret } from '../../../infra/config/env';
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
import {
  checkIn,
  mayPostLargeResult,
  nextTask,
  reportProgress,
  reportResult,
} from '../../services/agent-channel';
import { keyringFromEnv } from '../../../infra/secrets/server-secrets';
import { installerApiUrl } from '../../../installer/site-builds';
import { authenticateAgent, type AgentIdentity } from '../../services/keys';
import type { AppDeps } from '../../app';
import { sendError, V1_BODY_LIMIT, V1_RESULT_BODY_LIMIT } from './reply';

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
  // The agent channel's service, with the request's logger.
  const secrets = keyringFromEnv(env);
  const installerBaseUrl = installerApiUrl(env);
  const channel = (request: FastifyRequest) => ({
    orm,
    temporal,
    log: request.log,
    secrets,
    installerBaseUrl,
  });
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
    let wokenAt: number | undefined;
    // After a busy claim, how long until the next (doubling): the lock is a short transaction's.
    let busyPause = 0;
    try {
      for (;;) {
        // Never claim for a poll nobody is waiting on (the task would go into a dead socket), nor
        // for one a newer poll of the key replaced.
        if (closed() || !hub.isCurrent(agent.keyId, poll)) return null;
        // No claim query for a machine this process knows has nothing (hub.idle, ADR 0051) when
        // the poll waits: a task notice wakes it. A poll that does not wait (wait=0) always asks:
        // a dispatch's notice may not have reached this process yet.
        // A pending (unapproved clone) or retired machine is offered nothing (the claim checks).
        const mark = hub.idle.mark(agent.machineId);
        let pause: number | undefined;
        if (waitMs > 0 && hub.idle.has(agent.machineId)) deps.metrics?.claims.inc({ outcome: 'skipped' });
        else {
          const task = await nextTask(channel(request), agent);
          if (task === 'busy') {
            // An open task whose row another transaction held: no notice will come when it lets
            // go, so nothing is marked and the poll looks again shortly.
            deps.metrics?.claims.inc({ outcome: 'busy' });
            busyPause = Math.min(busyPause === 0 ? 50 : busyPause * 2, 2_000);
            pause = busyPause;
          } else if (task) {
            hub.idle.touched(agent.machineId);
            deps.metrics?.claims.inc({ outcome: 'claimed' });
            claimedKinds.set(task.id, task.kind);
            deps.metrics?.tasksDelivered.inc({ kind: task.kind });
            if (wokenAt !== undefined)
              deps.metrics?.wakeToDelivery.observe((performance.now() - wokenAt) / 1000);
            return task;
          } else {
            deps.metrics?.claims.inc({ outcome: 'empty' });
            hub.idle.claimedNothing(agent.machineId, mark);
          }
        }
        const left = deadline - Date.now();
        if (left <= 0 || closed()) return null;
        const reason = await hub.wait(
          agent.machineId,
          agent.keyId,
          Math.min(left, pause ?? left),
          gone.signal,
          poll,
          mark,
        );
        wokenAt = reason === 'task' ? performance.now() : undefined;
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
      const checked = await checkIn(channel(request), request.agent!, request.body);
      return {
        machineId: checked.machineId,
        status: checked.status,
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
      const began = performance.now();
      const next = await waitForTask(request, reply, request.query.wait);
      deps.metrics?.longPollSeconds.observe(
        { outcome: next === null ? 'empty' : typeof next === 'string' ? next : 'task' },
        (performance.now() - began) / 1000,
      );
      if (next === 'revoked') return unauthorized(reply);
      if (next === 'throttled') return pollsThrottled(reply);
      return next ? { task: next } : reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string }; Body: ProgressRequest }>(
    '/agent/tasks/:id/progress',
    { bodyLimit: V1_BODY_LIMIT, schema: { security, params: TaskParamsSchema, body: ProgressRequestSchema } },
    async (request, reply) => {
      const known = await reportProgress(channel(request), request.agent!, request.params.id, request.body);
      if (!known) return sendError(reply, 404, WireErrorCode.NotFound, 'no such task for this machine');
      return reply.code(202).send({});
    },
  );

  app.post<{ Params: { id: string }; Body: ResultRequest; Querystring: { wait?: string } }>(
    '/agent/tasks/:id/result',
    {
      bodyLimit: V1_RESULT_BODY_LIMIT,
      // Above the usual limit only for the task that needs it (a gateway's enumeration): decided
      // from the declared length before a byte of the body is read.
      preParsing: async (request, reply, payload) => {
        const declared = request.headers['content-length'];
        const streamed = request.headers['transfer-encoding'] !== undefined; // length unknown
        if (!streamed && (declared === undefined || Number(declared) <= V1_BODY_LIMIT)) return payload;
        const id = (request.params as { id: string }).id;
        if (await mayPostLargeResult(channel(request), request.agent!, id, claimedKinds.get(id)))
          return payload;
        void reply.header('connection', 'close');
        return sendError(
          reply,
          413,
          WireErrorCode.PayloadTooLarge,
          `a result of this task may be at most ${V1_BODY_LIMIT} bytes`,
        );
      },
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
      const taskId = request.params.id;
      // Taken before the result is stored: a dispatch's notice after it voids an idle mark below.
      const mark = hub.idle.mark(request.agent!.machineId);
      const outcome = await reportResult(
        channel(request),
        request.agent!,
        taskId,
        request.body,
        claimedKinds.get(taskId),
      );
      switch (outcome.kind) {
        case 'not-found':
          return sendError(reply, 404, WireErrorCode.NotFound, 'no such task for this machine');
        case 'invalid':
          request.log.warn(
            { taskId, kind: outcome.taskKind, problem: outcome.problem },
            'step result refused',
          );
          return sendError(
            reply,
            400,
            WireErrorCode.BadRequest,
            `invalid ${outcome.taskKind} result: ${outcome.problem}`.slice(0, 300),
          );
        case 'engine-unavailable':
          claimedKinds.delete(taskId);
          request.log.warn({ err: outcome.error, taskId }, 'could not complete the activity yet');
          return sendError(
            reply,
            503,
            WireErrorCode.Internal,
            'result stored; the workflow engine is unavailable, send it again later',
          );
      }
      claimedKinds.delete(taskId);
      if (request.query.wait === undefined) return reply.code(200).send({ accepted: true });
      // The result is in; a revoked key is told so by its next request. With no other task open,
      // the poll waits for the next dispatch's notice rather than claim first (migration 0034).
      if (!outcome.othersOpen) hub.idle.claimedNothing(request.agent!.machineId, mark);
      const began = performance.now();
      const next = await waitForTask(request, reply, request.query.wait);
      deps.metrics?.longPollSeconds.observe(
        { outcome: next === null ? 'empty' : typeof next === 'string' ? next : 'task' },
        (performance.now() - began) / 1000,
      );
      return reply
        .code(200)
        .send(
          typeof next === 'object' && next !== null ? { accepted: true, task: next } : { accepted: true },
        );
    },
  );
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
