import type { FastifyInstance } from 'fastify';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { serverSecret } from '../../../infra/config/env';
import {
  EnrollRequestSchema,
  EnrollResponseSchema,
  ErrorResponseSchema,
  WireErrorCode,
  type EnrollRequest,
} from '../../../infra/wire/agent-protocol';
import { enroll } from '../../agent-channel/enrollment';
import {
  admitEnrollment,
  recordEnrollmentFailure,
  recordEnrollmentSuccess,
} from '../../agent-channel/throttle';
import type { AppDeps } from '../../app';
import { sendError, V1_BODY_LIMIT } from './reply';

export async function enrollRoute(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { env, orm } = deps;
  const throttle = {
    perMinute: env.ENROLL_RATE_LIMIT_PER_MINUTE,
    lockoutFailures: env.ENROLL_LOCKOUT_FAILURES,
    lockoutSeconds: env.ENROLL_LOCKOUT_SECONDS,
  };
  const settings = {
    secret: serverSecret(env),
    collisionWindowSeconds: env.COLLISION_WINDOW_SECONDS,
    pollSeconds: env.AGENT_POLL_MAX_SECONDS,
  };

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
      // Throttle first: nothing is looked up or hashed for a caller over its limit.
      const verdict = await admitEnrollment(orm, body.siteCode, request.ip, throttle);
      if (!verdict.ok) {
        reply.header('retry-after', String(verdict.retryAfterSeconds));
        return sendError(
          reply,
          429,
          verdict.code === 'LOCKED_OUT' ? WireErrorCode.LockedOut : WireErrorCode.RateLimited,
          verdict.code === 'LOCKED_OUT'
            ? `too many failed enrollments from this address for this site; try again in ${verdict.retryAfterSeconds} s`
            : `too many enrollment requests; try again in ${verdict.retryAfterSeconds} s`,
        );
      }
      let outcome = await enroll(orm, settings, body, request.ip, request.log).catch(async (err) => {
        // Two first enrollments of the same hardware at once: the loser retries and reuses the row.
        if (err instanceof UniqueConstraintViolationException)
          return enroll(orm, settings, body, request.ip, request.log);
        throw err;
      });
      // Committed: this process stops trusting the replaced keys now, not when their notice arrives.
      if (outcome.kind === 'enrolled') for (const keyId of outcome.revokedKeyIds) deps.hub.keys.forget(keyId);
      if (outcome.kind === 'uid-mismatch') {
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
        await recordEnrollmentFailure(orm, body.siteCode, request.ip, throttle);
        return sendError(
          reply,
          401,
          WireErrorCode.EnrollmentRejected,
          'enrollment rejected: check the site code and enrollment key',
        );
      }
      await recordEnrollmentSuccess(orm, body.siteCode, request.ip);
      outcome = outcome as Extract<typeof outcome, { kind: 'enrolled' }>;
      return reply.code(201).send({
        machineId: outcome.machineId,
        agentKey: outcome.agentKey,
        status: outcome.status,
        pollSeconds: env.AGENT_POLL_MAX_SECONDS,
      });
    },
  );
}
