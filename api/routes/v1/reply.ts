import type { FastifyReply } from 'fastify';
import type { WireErrorCode } from '../../../infra/wire/agent-protocol';

/** Bodies on /v1 are small: enrollment facts, results of one step. */
export const V1_BODY_LIMIT = 64 * 1024;
/**
 * A step's result may be larger: a gateway's directory enumeration lists every computer of the
 * domain (≤ 20,000 of ~500 bytes each, `MAX_ENUMERATED_COMPUTERS`). Only authenticated agents post
 * here, and the kind's schema holds every other result far below this.
 */
export const V1_RESULT_BODY_LIMIT = 16 * 1024 * 1024;

export function sendError(reply: FastifyReply, status: number, code: WireErrorCode, message: string) {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}
