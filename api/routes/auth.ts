import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { publicUrl, serverSecret } from '../../infra/config/env';
import { TenantSchema } from '../../infra/db/entities';
import { withTenant } from '../../infra/db/orm';
import type { AppDeps } from '../app';
import { LOGIN_COOKIE, readCookie, SESSION_COOKIE, setCookie } from '../auth/cookies';
import { OidcClient, oidc } from '../auth/oidc';
import { constantTimeEqual, keyedHash } from '../auth/secrets';
import { createSession, csrfTokenFor, revokeSession, sessionIdentity } from '../auth/sessions';
import { SignInError, signInUser } from '../auth/sign-in';
import { csrfRefusal } from '../auth/csrf';

const LOGIN_TTL_SECONDS = 600;

/**
 * Where to go after sign-in: a path on this origin only. Anything else — another origin, a
 * scheme-relative `//evil`, a backslash trick, control characters — becomes `/` (no open redirect).
 */
export function safeReturnTo(value: unknown, origin: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 2000) return '/';
  if (/[\\\u0000-\u001f\u007f]/.test(value) || value.startsWith('//')) return '/';
  try {
    const url = new URL(value, origin);
    if (url.origin !== origin) return '/';
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return '/';
  }
}

interface LoginState {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  exp: number;
}

/** Sign-in, sessions and sign-out (docs/sso.md, ADR 0030). The contract: /work auth-contract. */
export async function authRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { env } = deps;
  const secret = serverSecret(env);
  const origin = publicUrl(env);
  const secure = origin.startsWith('https:');
  const redirectUri = `${origin}/auth/callback`;
  const client = new OidcClient(env);
  const sign = (payload: string) => keyedHash(secret, 'login-state', payload);

  const fail = (reply: FastifyReply, code: string) =>
    reply.header('cache-control', 'no-store').redirect(`/signin-error?code=${encodeURIComponent(code)}`, 302);

  app.get('/auth/login', async (req, reply) => {
    const returnTo = safeReturnTo((req.query as Record<string, unknown>).returnTo, origin);
    let config: oidc.Configuration;
    try {
      config = await client.configuration();
    } catch (err) {
      req.log.warn({ err: { message: (err as Error).message } }, 'OIDC provider unavailable');
      return fail(reply, 'OIDC_UNAVAILABLE');
    }
    const login: LoginState = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier: oidc.randomPKCECodeVerifier(),
      returnTo,
      exp: Date.now() + LOGIN_TTL_SECONDS * 1000,
    };
    const payload = Buffer.from(JSON.stringify(login)).toString('base64url');
    setCookie(reply, LOGIN_COOKIE, `${payload}.${sign(payload)}`, {
      secure,
      path: '/auth/callback',
      maxAge: LOGIN_TTL_SECONDS,
    });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: env.OIDC_SCOPES,
      code_challenge: await oidc.calculatePKCECodeChallenge(login.verifier),
      code_challenge_method: 'S256',
      state: login.state,
      nonce: login.nonce,
    });
    return reply.header('cache-control', 'no-store').redirect(url.href, 302);
  });

  app.get('/auth/callback', async (req, reply) => {
    const login = readLoginState(req);
    setCookie(reply, LOGIN_COOKIE, '', { secure, path: '/auth/callback', maxAge: 0 });
    if (!login) {
      req.log.warn(
        { code: 'OIDC_STATE_MISMATCH' },
        'sign-in refused: no sign-in of this browser in progress',
      );
      return fail(reply, 'OIDC_STATE_MISMATCH');
    }
    try {
      const config = await client.configuration();
      // The URL the provider redirected to, on our public origin (never the request's Host header).
      const current = new URL(req.url, origin);
      if (current.searchParams.get('state') !== login.state)
        throw new SignInError('OIDC_STATE_MISMATCH', 'the sign-in response does not match this browser');
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: login.verifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new SignInError('OIDC_FAILED', 'the provider sent no ID token');
      const { tenantId, userId } = await signInUser(deps.orm, env, config.serverMetadata().issuer, claims);
      // Session fixation: whatever session the browser brought is revoked; the new one has a new id.
      const previous = readCookie(req, SESSION_COOKIE);
      if (previous) await revokeSession(deps.orm, secret, previous);
      const sessionId = await createSession(deps.orm, secret, {
        tenantId,
        userId,
        ttlSeconds: env.SESSION_TTL_HOURS * 3600,
      });
      setCookie(reply, SESSION_COOKIE, sessionId, { secure, maxAge: env.SESSION_TTL_HOURS * 3600 });
      return reply.header('cache-control', 'no-store').redirect(login.returnTo, 302);
    } catch (err) {
      const code =
        err instanceof SignInError
          ? err.code
          : err instanceof oidc.AuthorizationResponseError
            ? 'OIDC_ERROR'
            : 'OIDC_FAILED';
      // The message only: an OIDC error object can carry the response (codes, tokens).
      req.log.warn({ code, reason: (err as Error).message }, 'sign-in refused');
      return fail(reply, code);
    }
  });

  app.get('/auth/session', async (req, reply) => {
    void reply.header('cache-control', 'no-store');
    const sessionId = readCookie(req, SESSION_COOKIE);
    const who = sessionId ? await sessionIdentity(deps.orm, secret, sessionId) : null;
    if (!sessionId || !who)
      return reply.code(401).send({ code: 'UNAUTHENTICATED', message: 'sign in to use Drydock' });
    const tenant = await withTenant(deps.orm, who.tenantId, (em) =>
      em.findOneOrFail(TenantSchema, { id: who.tenantId }),
    );
    return {
      user: { id: who.userId, email: who.email, name: who.name },
      tenant: {
        id: tenant.id,
        name: tenant.name,
        branding: {
          displayName: tenant.displayName ?? tenant.name,
          logoUrl: tenant.logoUrl ?? null,
          accentColor: tenant.accentColor,
        },
      },
      role: who.role,
      canRevealSecrets: who.canRevealSecrets,
      clientScope: who.clientScope,
      csrfToken: csrfTokenFor(secret, sessionId),
    };
  });

  app.post('/auth/logout', async (req, reply) => {
    void reply.header('cache-control', 'no-store');
    const sessionId = readCookie(req, SESSION_COOKIE);
    // The global hook already refused a cookie without its CSRF token; a request without a cookie
    // has nothing to sign out of (and is answered the same, so logout is idempotent).
    if (sessionId) {
      const refusal = csrfRefusal(secret, req);
      if (refusal) return reply.code(403).send(refusal);
      await revokeSession(deps.orm, secret, sessionId);
    }
    setCookie(reply, SESSION_COOKIE, '', { secure, maxAge: 0 });
    return { signedOut: true };
  });

  function readLoginState(req: FastifyRequest): LoginState | null {
    const cookie = readCookie(req, LOGIN_COOKIE);
    const [payload, mac] = cookie?.split('.') ?? [];
    if (!payload || !mac || !constantTimeEqual(sign(payload), mac)) return null;
    try {
      const login = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as LoginState;
      return login.exp > Date.now() ? login : null;
    } catch {
      return null;
    }
  }
}
