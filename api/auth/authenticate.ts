import type { FastifyRequest } from 'fastify';
import type { Orm } from '../../infra/db/orm';
import { apiTokenIdentity } from './api-tokens';
import { readCookie, SESSION_COOKIE } from './cookies';
import type { Identity } from './identity';
import { sessionIdentity } from './sessions';

/**
 * The caller of a request: `Authorization: Bearer ddt_…` (an API token) or else the session
 * cookie; null when neither stands for anyone. A malformed or unknown credential is simply nobody.
 */
export async function authenticate(orm: Orm, secret: string, req: FastifyRequest): Promise<Identity | null> {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const bearer = /^Bearer (\S{1,200})$/i.exec(authorization);
    return bearer ? apiTokenIdentity(orm, secret, bearer[1]!) : null;
  }
  const sessionId = readCookie(req, SESSION_COOKIE);
  return sessionId ? sessionIdentity(orm, secret, sessionId) : null;
}
