import type { Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { issueApiToken } from '../../api/auth/api-tokens';
import { DEMO_PASSWORD } from '../../infra/auth/demo-users';
import { serverSecret, loadEnv } from '../../infra/config/env';
import { Role } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';

type RoleName = 'viewer' | 'operator' | 'engineer' | 'admin';

export interface TokenOptions {
  /** Default: the stack's tenant. */
  tenantId?: string;
  clientIds?: string[];
  /** Default: true for admin, false otherwise. */
  canRevealSecrets?: boolean;
  name?: string;
}

/**
 * A real API token (stored hashed, as `createApiToken` stores them) for a tenant and role, for
 * tests and scripts that need a bearer token. Written straight to the database: it needs no admin.
 */
export async function mintApiToken(
  orm: Orm,
  tenantId: string,
  role: RoleName = 'admin',
  opts: Omit<TokenOptions, 'tenantId'> & { secret?: string } = {},
): Promise<string> {
  const secret = opts.secret ?? serverSecret(loadEnv({ DRYDOCK_ENV: 'test' }));
  return withTenant(orm, tenantId, async (em) => {
    const { token } = await issueApiToken(em, secret, {
      tenantId,
      name: opts.name ?? `test-${role}`,
      role: role as Role,
      canRevealSecrets: opts.canRevealSecrets ?? role === 'admin',
      clientIds: opts.clientIds ?? null,
      createdBy: 'test',
    });
    return token;
  });
}

/** `apiToken(stack, 'operator')`: a bearer token in the stack's tenant (or `opts.tenantId`). */
export function apiToken(
  stack: { orm: Orm; tenant: { tenantId: string }; env?: Record<string, string> },
  role: RoleName = 'admin',
  opts: TokenOptions = {},
): Promise<string> {
  return mintApiToken(stack.orm, opts.tenantId ?? stack.tenant.tenantId, role, {
    ...opts,
    secret: stack.env?.DRYDOCK_SECRET,
  });
}

/** A tiny cookie jar: name=value per origin, enough for the sign-in dance over plain HTTP. */
class CookieJar {
  private readonly jars = new Map<string, Map<string, string>>();

  store(url: string, res: Response): void {
    const jar = this.jars.get(new URL(url).origin) ?? new Map<string, string>();
    this.jars.set(new URL(url).origin, jar);
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0\b/i.test(header) || /expires=Thu, 01 Jan 1970/i.test(header) || value === '')
        jar.delete(name);
      else jar.set(name, value);
    }
  }

  seed(url: string, cookie: string): void {
    const [name, value] = cookie.split('=');
    const jar = this.jars.get(new URL(url).origin) ?? new Map<string, string>();
    this.jars.set(new URL(url).origin, jar.set(name!, value!));
  }

  header(url: string): string {
    return [...(this.jars.get(new URL(url).origin) ?? new Map<string, string>())]
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  }

  get(url: string, name: string): string | undefined {
    return this.jars.get(new URL(url).origin)?.get(name);
  }
}

/**
 * Signs in through the real flow over HTTP — /auth/login, the provider's login form (inputs `login`
 * and `password`), the callback — and returns the session cookie (as a Cookie header value) and the
 * session's CSRF token.
 */
export async function signInSession(
  baseUrl: string,
  email: string,
  password = DEMO_PASSWORD,
  opts: { bringCookie?: string } = {},
): Promise<{ cookie: string; csrfToken: string }> {
  const jar = new CookieJar();
  if (opts.bringCookie) jar.seed(baseUrl, opts.bringCookie);
  const visit = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: jar.header(url) },
    });
    jar.store(url, res);
    return res;
  };
  let url = `${baseUrl}/auth/login?returnTo=/`;
  let res = await visit(url);
  for (let hops = 0; hops < 20; hops++) {
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url).toString();
      if (new URL(url).origin === new URL(baseUrl).origin && !url.includes('/auth/')) break;
      res = await visit(url);
      continue;
    }
    const html = await res.text();
    const form = /<form[^>]*action="([^"]+)"/.exec(html);
    if (res.status !== 200 || !form)
      throw new Error(`sign-in stopped at ${url}: ${res.status} ${html.slice(0, 300)}`);
    url = new URL(form[1]!, url).toString();
    res = await visit(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login: email, password }).toString(),
    });
  }
  if (url.includes('/signin-error')) throw new Error(`sign-in refused: ${url}`);
  const session = jar.get(baseUrl, 'drydock_session');
  if (!session) throw new Error(`sign-in ended at ${url} without a session cookie`);
  const cookie = `drydock_session=${session}`;
  const me = await fetch(`${baseUrl}/auth/session`, { headers: { cookie } });
  if (me.status !== 200) throw new Error(`/auth/session answered ${me.status}`);
  const { csrfToken } = (await me.json()) as { csrfToken: string };
  return { cookie, csrfToken };
}

/** For browser tests (playwright-core): signs `page` in as `email` and waits until it is back. */
export async function signInBrowser(
  page: Page,
  baseUrl: string,
  email: string,
  password = DEMO_PASSWORD,
): Promise<void> {
  await page.goto(`${baseUrl}/auth/login?returnTo=/`);
  await page.fill('input[name="login"]', email);
  await page.fill('input[name="password"]', password);
  await Promise.all([
    page.waitForURL((u) => u.origin === new URL(baseUrl).origin && !u.pathname.startsWith('/auth/')),
    page.click('button[type="submit"]'),
  ]);
}

/** A GraphQL POST with a session (cookie + CSRF token), as the portal sends it. */
export async function gqlSession<T = Record<string, unknown>>(
  baseUrl: string,
  session: { cookie: string; csrfToken?: string },
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{
  status: number;
  body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
}> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      cookie: session.cookie,
      ...(session.csrfToken ? { 'x-drydock-csrf': session.csrfToken } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

export type { FastifyInstance };
