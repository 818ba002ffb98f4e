import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance } from 'fastify';
import { WireErrorCode } from '../../../infra/wire/agent-protocol';
import type { AppDeps } from '../../app';
import { agentRoutes } from './agent';
import { enrollRoute } from './enroll';
import { sendError, V1_BODY_LIMIT } from './reply';

/** The agent REST API: schema-validated, stable error codes, OpenAPI at /v1/openapi.json. */
export async function v1Routes(app: FastifyInstance, opts: AppDeps & { prefix?: string }): Promise<void> {
  const { prefix: _prefix, ...deps } = opts;
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Drydock agent API',
        version: '1.0.0',
        description: 'Enrollment and the long-poll task channel.',
      },
      components: {
        securitySchemes: { agentKey: { type: 'http', scheme: 'bearer', description: 'dak_… agent key' } },
      },
    },
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err.validation)
      return sendError(reply, 400, WireErrorCode.BadRequest, `invalid request: ${err.message}`.slice(0, 300));
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        // Refused before its body was read: close the connection rather than read the rest.
        void reply.header('connection', 'close');
        return sendError(
          reply,
          413,
          WireErrorCode.PayloadTooLarge,
          `request body larger than ${V1_BODY_LIMIT} bytes`,
        );
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 415, WireErrorCode.UnsupportedMediaType, 'send application/json');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(
          reply,
          400,
          WireErrorCode.BadRequest,
          'request body is missing or has a wrong length',
        );
    }
    if (err.statusCode === 400 || err instanceof SyntaxError)
      return sendError(reply, 400, WireErrorCode.BadRequest, 'request body is not valid JSON');
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, WireErrorCode.BadRequest, err.message.slice(0, 200));
    }
    request.log.error({ err }, 'agent API error');
    return sendError(reply, 500, WireErrorCode.Internal, 'internal error; try again');
  });
  // Before any handler: PostgreSQL text cannot hold U+0000 (refused anywhere, keys included), and no
  // body of ours nests deeply (a deep one would only cost stack further on).
  app.addHook('preValidation', async (request, reply) => {
    if (request.body === undefined) return;
    const problem = inspectBody(request.body);
    if (problem) return sendError(reply, 400, WireErrorCode.BadRequest, problem);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 404, WireErrorCode.NotFound, 'no such route'));

  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  await typed.register(enrollRoute, deps);
  await typed.register(agentRoutes, deps);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** Bodies nest at most this deep (a step result's deepest is 4). */
export const MAX_BODY_DEPTH = 16;

/**
 * Walks a parsed body without recursion: the first NUL character (in a key or a string) or level
 * past MAX_BODY_DEPTH is a one-line reason to refuse it; null when neither is there.
 */
export function inspectBody(body: unknown): string | null {
  const stack: [unknown, number][] = [[body, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return 'text must not contain NUL characters';
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_BODY_DEPTH) return `the body nests more than ${MAX_BODY_DEPTH} levels deep`;
    for (const [key, inner] of Object.entries(value)) {
      if (key.includes('\u0000')) return 'text must not contain NUL characters';
      stack.push([inner, depth + 1]);
    }
  }
  return null;
}
