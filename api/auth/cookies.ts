import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'drydock_session';
/** The sign-in in flight (state, nonce, PKCE verifier, returnTo), signed; lives 10 minutes. */
export const LOGIN_COOKIE = 'drydock_login';

export function readCookie(req: FastifyRequest, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_.~-]{1,4096}$/.test(value) ? value : null;
    }
  }
  return null;
}

export interface CookieOptions {
  secure: boolean;
  path?: string;
  /** Seconds; 0 clears the cookie. */
  maxAge: number;
}

/** HttpOnly, SameSite=Lax (the IdP's redirect back is a top-level GET), Secure on https. */
export function setCookie(reply: FastifyReply, name: string, value: string, opts: CookieOptions): void {
  const attributes = [
    `${name}=${value}`,
    `Path=${opts.path ?? '/'}`,
    `Max-Age=${opts.maxAge}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(opts.secure ? ['Secure'] : []),
  ];
  const previous = reply.getHeader('set-cookie');
  const list = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
  void reply.header('set-cookie', [...list, attributes.join('; ')]);
}
