import type { FastifyInstance, FastifyRequest } from 'fastify';
import { readCookie, SESSION_COOKIE } from './cookies';
import { constantTimeEqual } from './secrets';
import { csrfTokenFor } from './sessions';

export const CSRF_HEADER = 'x-drydock-csrf';
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Null when the request may go on; else the refusal. A request that a session cookie would
 * authenticate and that can change state (any method but GET/HEAD/OPTIONS — GraphQL POST included,
 * queries too, as one endpoint carries both) must carry the session's CSRF token in
 * `x-drydock-csrf`. A bearer token is no ambient credential and needs none.
 */
export function csrfRefusal(secret: string, req: FastifyRequest): { code: 'CSRF'; message: string } | null {
  if (safeMethods.has(req.method) || /^bearer /i.test(req.headers.authorization ?? '')) return null;
  const sessionId = readCookie(req, SESSION_COOKIE);
  if (!sessionId) return null;
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent === 'string' && constantTimeEqual(sent, csrfTokenFor(secret, sessionId))) return null;
  return { code: 'CSRF', message: `this request needs the ${CSRF_HEADER} header from /auth/session` };
}

/** One hook for every route: no state-changing request rides on the cookie alone. */
export function registerCsrfCheck(app: FastifyInstance, secret: string): void {
  app.addHook('onRequest', async (req, reply) => {
    const refusal = csrfRefusal(secret, req);
    if (!refusal) return;
    const body = req.url.startsWith('/graphql')
      ? { errors: [{ message: refusal.message, extensions: { code: 'CSRF' } }] }
      : refusal;
    return reply.code(403).header('cache-control', 'no-store').send(body);
  });
}
