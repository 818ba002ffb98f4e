import type { FastifyInstance } from 'fastify';
import { serverSecret } from '../../../infra/config/env';
import {
  EnrollRequestSchema,
  EnrollResponseSchema,
  ErrorResponseSchema,
  WireErrorCode,
  type EnrollRequest,
} from '../../../infra/wire/agent-protocol';
import { signalHostEnrolled } from '../../services/deployment';
import { enroll } from '../../services/enrollment';
import { forgetKeys } from '../../services/keys';
import {
  admitEnrollment,
  enrollmentSource,
  purgeEnrollmentGuard,
  recordEnrollmentFailure,
} from '../../agent-channel/throttle';
import type { AppDeps } from '../../app';
import { sendError, V1_BODY_LIMIT } from './reply';

export async function enrollRoute(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { env, orm } = deps;
  const guard = {
    lockoutFailures: env.ENROLL_LOCKOUT_FAILURES,
    lockoutSeconds: env.ENROLL_LOCKOUT_SECONDS,
  };
  const settings = {
    secret: serverSecret(env),
    collisionWindowSeconds: env.COLLISION_WINDOW_SECONDS,
    sitePerMinute: env.ENROLL_RATE_LIMIT_PER_MINUTE,
  };
  // Guard rows whose window and lockout are over go away (bounded storage); any replica may do it.
  const purge = setInterval(() => {
    purgeEnrollmentGuard(orm, guard).catch((err: Error) =>
      app.log.warn({ err: err.message }, 'could not purge the enrollment guard'),
    );
  }, 60_000);
  purge.unref();
  app.addHook('onClose', async () => clearInterval(purge));

  app.post<{ Body: EnrollRequest }>(
    '/enroll',
    {
      bodyLimit: V1_BODY_LIMIT,
      schema: {
        description:
          'Enroll a machine with its site code and the site’s enrollment key; returns its agent key once.',
        body: EnrollRequestSchema,
        response: {
          201: EnrollResponseSchema,
          400: ErrorResponseSchema,
          401: ErrorResponseSchema,
          429: ErrorResponseSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const source = enrollmentSource(request.ip);
      // The guard first: nothing is looked up or hashed for a source that keeps guessing.
      const verdict = await admitEnrollment(orm, source);
      if (!verdict.ok) {
        reply.header('retry-after', String(verdict.retryAfterSeconds));
        return sendError(
          reply,
          429,
          WireErrorCode.LockedOut,
          `too many failed enrollments from this address; try again in ${verdict.retryAfterSeconds} s`,
        );
      }
      const context = { sourceIp: request.ip, authorization: request.headers.authorization };
      let outcome = await enroll(orm, settings, body, context, request.log);
      // Committed: this process stops trusting the replaced keys now, not when their notice arrives.
      if (outcome.kind === 'enrolled') forgetKeys(deps.hub.keys, outcome.revokedKeyIds);
      if (outcome.kind === 'site-rate-limited') {
        reply.header('retry-after', String(outcome.retryAfterSeconds));
        return sendError(
          reply,
          429,
          WireErrorCode.RateLimited,
          `this site is enrolling more machines a minute than allowed; try again in ${outcome.retryAfterSeconds} s`,
        );
      }
      if (outcome.kind === 'uid-mismatch') {
        await recordEnrollmentFailure(orm, source, guard);
        return sendError(
          reply,
          400,
          WireErrorCode.MachineUidMismatch,
          'machine_uid does not match the hardware facts',
        );
      }
      if (outcome.kind === 'rejected') {
        request.log.warn(
          { siteCode: body.siteCode, ip: request.ip, reason: outcome.reason },
          'enrollment rejected',
        );
        await recordEnrollmentFailure(orm, source, guard);
        return sendError(
          reply,
          401,
          WireErrorCode.EnrollmentRejected,
          'enrollment rejected: check the site code and enrollment key',
        );
      }
      outcome = outcome as Extract<typeof outcome, { kind: 'enrolled' }>;
      // A machine the site's gateway pushed the agent to: its deployment waits for this (ADR 0043).
      if (outcome.status === 'active')
        await signalHostEnrolled(
          { orm, temporal: deps.temporal, log: request.log },
          {
            tenantId: outcome.tenantId,
            siteId: outcome.siteId,
            machineId: outcome.machineId,
            hostname: body.hostname,
          },
        );
      return reply.code(201).send({
        machineId: outcome.machineId,
        agentKey: outcome.agentKey,
        status: outcome.status,
        pollSeconds: env.AGENT_POLL_MAX_SECONDS,
      });
    },
  );
}
