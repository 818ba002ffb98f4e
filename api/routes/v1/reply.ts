import type { FastifyReply } from 'fastify';
import type { WireErrorCode } from '../../../infra/wire/agent-protocol';

/** Bodies on /v1 are small: enrollment facts, results of one step. */
export const V1_BODY_LIMIT = 64 * 1024;

export function sendError(reply: FastifyReply, status: number, code: WireErrorCode, message: string) {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}
