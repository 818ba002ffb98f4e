import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { buildApp } from '../../api/app';
import { loadEnv, repoRoot } from '../../infra/config/env';
import type { FastifyInstance } from 'fastify';
import { spawnDevIdp, type DevIdpProcess } from '../../infra/auth/dev-idp-process';
import type { Orm } from '../../infra/db/orm';
import { demoTenantId, seedDemoSignIn } from '../../infra/db/seed-demo';
import { buildTestApp } from '../helpers/api';
import { chromium } from 'playwright-core';
import { gqlSession, mintApiToken, signInBrowser, signInSession } from '../helpers/auth';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/shared';
import { testTemporalConnection } from '../helpers/temporal';

const run = promisify(execFile);

let db: TestDatabase;
let orm: Orm;
let app: FastifyInstance;
let connection: Connection;
let idp: DevIdpProcess;
let baseUrl: string;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  idp = await spawnDevIdp({ port: 0, redirectUris: [`${baseUrl}/auth/callback`] });
  await seedDemoSignIn(orm, 'demo', idp.issuer);
  connection = await testTemporalConnection();
  app = await buildTestApp(orm, new Client({ connection }), db.appUrl, 'core', {
    OIDC_ISSUER: idp.issuer,
    PUBLIC_URL: baseUrl,
  });
  await app.listen({ host: '127.0.0.1', port });
});
afterAll(async () => {
  await app.close();
  await idp.stop();
  await connection.close();
  await db.drop();
});

const session = (cookie: string) => fetch(`${baseUrl}/auth/session`, { headers: { cookie } });
const viewerQuery = 'query { viewer { role user { email } tenant { id } } }';

describe('OIDC sign-in against the development provider', () => {
  it('signs each demo user in to their tenant with their role, scope and reveal-secrets', async () => {
    const expected = [
      ['viewer@demo.test', 'viewer', false, false, 'demo'],
      ['operator@demo.test', 'operator', false, false, 'demo'],
      ['engineer@demo.test', 'engineer', false, false, 'demo'],
      ['admin@demo.test', 'admin', true, false, 'demo'],
      ['scoped@demo.test', 'operator', false, true, 'demo'],
      ['admin@other.test', 'admin', true, false, 'other'],
    ] as const;
    for (const [email, role, reveal, scoped, tenant] of expected) {
      const { cookie, csrfToken } = await signInSession(baseUrl, email);
      const res = await session(cookie);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { clientScope: string[] | null };
      expect(body).toMatchObject({
        user: { email },
        role,
        canRevealSecrets: reveal,
        tenant: { id: demoTenantId(tenant), branding: { accentColor: '#1c7ed6', logoUrl: null } },
        csrfToken,
      });
      expect(body.clientScope === null).toBe(!scoped);
    }
  });

  it('sets the session cookie HttpOnly, SameSite=Lax, Path=/ and not Secure on http', async () => {
    const login = await fetch(`${baseUrl}/auth/login?returnTo=/machines`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    const location = new URL(login.headers.get('location')!);
    expect(location.origin).toBe(idp.issuer);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
    const loginCookie = login.headers.getSetCookie()[0]!;
    expect(loginCookie).toMatch(
      /^drydock_login=.+; Path=\/auth\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );
  });

  it('marks the cookies Secure when the public URL is https', async () => {
    const https = await buildTestApp(orm, new Client({ connection }), db.appUrl, 'core', {
      OIDC_ISSUER: idp.issuer,
      PUBLIC_URL: 'https://drydock.example.com',
    });
    try {
      const login = await https.inject({ method: 'GET', url: '/auth/login?returnTo=/x' });
      expect(login.statusCode).toBe(302);
      expect(String(login.headers['set-cookie'])).toMatch(
        /^drydock_login=[^;]+; Path=\/auth\/callback; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/,
      );
      // The redirect URI the provider gets is the public one, whatever Host the request named.
      expect(new URL(String(login.headers.location)).searchParams.get('redirect_uri')).toBe(
        'https://drydock.example.com/auth/callback',
      );
      const logout = await https.inject({ method: 'POST', url: '/auth/logout' });
      expect(String(logout.headers['set-cookie'])).toMatch(
        /^drydock_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax; Secure$/,
      );
    } finally {
      await https.close();
    }
  });

  it('refuses a callback whose state this browser did not start', async () => {
    const res = await fetch(`${baseUrl}/auth/callback?code=x&state=forged`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/signin-error?code=OIDC_STATE_MISMATCH');
  });

  it('returns only to a path on this origin', async () => {
    for (const [returnTo, kept] of [
      ['/machines?site=1', true],
      ['//evil.example/x', false],
      ['https://evil.example/', false],
      ['/\\evil.example', false],
      ['javascript:alert(1)', false],
    ] as const) {
      const login = await fetch(`${baseUrl}/auth/login?returnTo=${encodeURIComponent(returnTo)}`, {
        redirect: 'manual',
      });
      const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!.split('=')[1]!;
      const state = JSON.parse(Buffer.from(cookie.split('.')[0]!, 'base64url').toString()) as {
        returnTo: string;
      };
      expect(state.returnTo).toBe(kept ? returnTo : '/');
    }
  });

  it('gives a new session id at each sign-in and revokes the one the browser brought', async () => {
    const first = await signInSession(baseUrl, 'viewer@demo.test');
    const second = await signInSession(baseUrl, 'viewer@demo.test');
    expect(second.cookie).not.toBe(first.cookie);
    expect((await session(first.cookie)).status).toBe(200);
    // A browser that brings a session (one planted by an attacker, say) to sign-in: that one is
    // revoked and the person gets a new id, never the planted one.
    const third = await signInSession(baseUrl, 'engineer@demo.test', undefined, {
      bringCookie: first.cookie,
    });
    expect(third.cookie).not.toBe(first.cookie);
    expect((await session(first.cookie)).status).toBe(401);
    expect((await session(second.cookie)).status).toBe(200);
  });

  it('needs the CSRF token for GraphQL POSTs and logout on the cookie, not for GET or a bearer token', async () => {
    const { cookie, csrfToken } = await signInSession(baseUrl, 'admin@demo.test');
    const without = await gqlSession(baseUrl, { cookie }, viewerQuery);
    expect(without.status).toBe(403);
    expect(without.body.errors?.[0]?.extensions?.code).toBe('CSRF');
    const wrong = await gqlSession(
      baseUrl,
      { cookie, csrfToken: csrfToken.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')) },
      viewerQuery,
    );
    expect(wrong.status).toBe(403);
    const right = await gqlSession<{ viewer: { role: string; user: { email: string } } }>(
      baseUrl,
      { cookie, csrfToken },
      viewerQuery,
    );
    expect(right.body.data?.viewer).toMatchObject({ role: 'admin', user: { email: 'admin@demo.test' } });
    const get = await fetch(`${baseUrl}/graphql?query=${encodeURIComponent(viewerQuery)}`, {
      headers: { cookie, 'x-graphql-yoga-csrf': '1' },
    });
    expect(((await get.json()) as { data: { viewer: { role: string } } }).data.viewer.role).toBe('admin');
    const logout = await fetch(`${baseUrl}/auth/logout`, { method: 'POST', headers: { cookie } });
    expect(logout.status).toBe(403);
    expect(await logout.json()).toMatchObject({ code: 'CSRF' });
    // A bearer token is no ambient credential: no CSRF token needed, the cookie beside it ignored.
    const token = await mintApiToken(orm, demoTenantId('demo'), 'viewer');
    const bearer = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, cookie },
      body: JSON.stringify({ query: viewerQuery }),
    });
    expect(((await bearer.json()) as { data: { viewer: { role: string } } }).data.viewer.role).toBe('viewer');
  });

  it('signs out by revoking the session in the database, not only the cookie', async () => {
    const { cookie, csrfToken } = await signInSession(baseUrl, 'operator@demo.test');
    const res = await fetch(`${baseUrl}/auth/logout`, {
      method: 'POST',
      headers: { cookie, 'x-drydock-csrf': csrfToken },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ signedOut: true });
    expect(res.headers.getSetCookie()[0]).toMatch(
      /^drydock_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax/,
    );
    // The old cookie, replayed: nobody.
    expect((await session(cookie)).status).toBe(401);
    const replay = await gqlSession(baseUrl, { cookie, csrfToken }, viewerQuery);
    expect(replay.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const admin = await db.adminClient();
    const { rows } = await admin.query<{ revoked: number; plain: number }>(
      `select count(*) filter (where revoked_at is not null)::int as revoked,
              count(*) filter (where id_hash = $1)::int as plain from sessions`,
      [cookie.split('=')[1]],
    );
    expect(rows[0]!.revoked).toBeGreaterThan(0);
    expect(rows[0]!.plain).toBe(0);
  });

  it('answers 401 UNAUTHENTICATED without a session, and nobody for the old header identity', async () => {
    const res = await fetch(`${baseUrl}/auth/session`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    const header = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-drydock-tenant': demoTenantId('demo'),
        'x-drydock-role': 'admin',
      },
      body: JSON.stringify({ query: viewerQuery }),
    });
    expect(
      ((await header.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code,
    ).toBe('UNAUTHENTICATED');
  });

  it('refuses a person whose IdP tenant is mapped to no Drydock tenant', async () => {
    const admin = await db.adminClient();
    await admin.query(`delete from idp_mappings where idp_tenant = 'other'`);
    await expect(signInSession(baseUrl, 'admin@other.test')).rejects.toThrow(/NO_TENANT_MAPPING/);
    // The install's operator maps the organisation again with the CLI (docs/sso.md): in again.
    const cli = path.join(repoRoot, 'bin', 'drydock.js');
    const env = { ...process.env, DATABASE_URL: db.adminUrl };
    const out = await run(
      process.execPath,
      [cli, 'sso', 'map', '--tenant', 'other', '--issuer', idp.issuer, '--idp-tenant', 'other'],
      { env },
    );
    expect(out.stdout).toMatch(/^mapped \(/);
    const listed = await run(process.execPath, [cli, 'sso', 'list', '--tenant', 'other'], { env });
    expect(listed.stdout).toContain(`${idp.issuer}  tenant=other  group=*  default-role=(none)`);
    await expect(signInSession(baseUrl, 'admin@other.test')).resolves.toHaveProperty('csrfToken');
  });
});

describe('in a real browser', () => {
  it('signs in through the provider’s form (signInBrowser) and holds an HttpOnly session cookie', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await signInBrowser(page, baseUrl, 'engineer@demo.test');
      const cookies = await page.context().cookies(baseUrl);
      const session = cookies.find((c) => c.name === 'drydock_session');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
      // Scripts of the page cannot read it, and /auth/session answers for the signed-in person.
      expect(await page.evaluate(() => document.cookie)).not.toContain('drydock_session');
      const me = await page.evaluate(async () => (await fetch('/auth/session')).json());
      expect(me).toMatchObject({ role: 'engineer', user: { email: 'engineer@demo.test' } });
    } finally {
      await browser.close();
    }
  });
});

describe('what is never logged', () => {
  it('keeps session ids, CSRF tokens, API tokens and the authorization code out of the log, at debug level', async () => {
    const lines: string[] = [];
    const logStream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const idp2 = await spawnDevIdp({ port: 0, redirectUris: [`${url}/auth/callback`] });
    await seedDemoSignIn(orm, 'demo', idp2.issuer);
    const env = loadEnv({
      DRYDOCK_ENV: 'test',
      LOG_LEVEL: 'debug',
      OIDC_ISSUER: idp2.issuer,
      PUBLIC_URL: url,
    });
    const logged = await buildApp({
      env,
      orm,
      temporal: new Client({ connection }),
      databaseUrl: db.appUrl,
      logStream,
    });
    await logged.listen({ host: '127.0.0.1', port });
    const secrets: string[] = ['secret-code-123', 'secret-state-456'];
    try {
      // A sign-in whose callback URL (code, state) we see, then a session, a token, a refusal and a logout.
      const login = await fetch(`${url}/auth/login`, { redirect: 'manual' });
      expect(login.status).toBe(302);
      const { cookie, csrfToken } = await signInSession(url, 'admin@demo.test');
      secrets.push(cookie.split('=')[1]!, csrfToken);
      await gqlSession(url, { cookie, csrfToken }, viewerQuery);
      await gqlSession(url, { cookie }, viewerQuery); // refused: CSRF
      const token = await mintApiToken(orm, demoTenantId('demo'), 'viewer');
      secrets.push(token.split('_').slice(2).join('_'));
      await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: viewerQuery }),
      });
      await fetch(`${url}/auth/callback?code=secret-code-123&state=secret-state-456`, { redirect: 'manual' });
      await fetch(`${url}/auth/logout`, { method: 'POST', headers: { cookie, 'x-drydock-csrf': csrfToken } });
      // A one-time installer link's token (ADR 0043): refused here, and never logged either.
      await fetch(
        `${url}/installers/once/${demoTenantId('demo')}/${randomUUID()}/Drydock-X.msi?token=secret-link-token-789`,
      );
      secrets.push('secret-link-token-789');
    } finally {
      await logged.close();
      await idp2.stop();
      // The demo users back to this file's provider (seeding re-keys them to the newest issuer).
      await seedDemoSignIn(orm, 'demo', idp.issuer);
    }
    const log = lines.join('');
    // The log is there (requests at debug level, the refused sign-in's code)…
    expect(log).toContain('/auth/callback?<redacted>');
    expect(log).toContain('/Drydock-X.msi?<redacted>');
    expect(log).toContain('OIDC_STATE_MISMATCH');
    // …and none of the secrets that passed through.
    expect(secrets).toHaveLength(6);
    for (const secret of secrets)
      expect({ secret, logged: log.includes(secret) }).toEqual({ secret, logged: false });
  });
});

describe('users and API tokens, managed by an admin', () => {
  const asAdmin = async <T>(query: string, variables: Record<string, unknown> = {}) => {
    const session = await signInSession(baseUrl, 'admin@demo.test');
    return (await gqlSession<T>(baseUrl, session, query, variables)).body;
  };

  it('shows a new token once, stores only its hash, records its use, and refuses it once revoked', async () => {
    const created = await asAdmin<{
      createApiToken: { token: string; apiToken: { id: string; role: string } };
    }>(
      'mutation { createApiToken(input: { name: "nightly report", role: "operator", expiresInDays: 30 }) { token apiToken { id role } } }',
    );
    const { token, apiToken } = created.data!.createApiToken;
    expect(token).toMatch(/^ddt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const admin = await db.adminClient();
    const stored = await admin.query<{ token_hash: string; token_id: string }>(
      'select token_hash, token_id from api_tokens where id = $1',
      [apiToken.id],
    );
    expect(stored.rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored.rows)).not.toContain(token.split('_').slice(2).join('_'));
    // The secret part appears nowhere in the database (audit included).
    const anywhere = await admin.query(`select 1 from audit_events where data::text like '%' || $1 || '%'`, [
      token.split('_').slice(2).join('_'),
    ]);
    expect(anywhere.rowCount).toBe(0);

    const use = (t: string) =>
      fetch(`${baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` },
        body: JSON.stringify({ query: viewerQuery }),
      }).then(
        (r) =>
          r.json() as Promise<{
            data?: { viewer: { role: string } };
            errors?: { extensions: { code: string } }[];
          }>,
      );
    expect((await use(token)).data?.viewer.role).toBe('operator');
    // One character off (same length): nobody.
    const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect((await use(wrong)).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');

    const listed = await asAdmin<{
      apiTokens: { id: string; name: string; lastUsedAt: string | null; expiresAt: string }[];
    }>('{ apiTokens { id name lastUsedAt expiresAt } }');
    const row = listed.data!.apiTokens.find((t) => t.id === apiToken.id)!;
    expect(row.name).toBe('nightly report');
    expect(row.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(listed)).not.toContain(token);

    const revoked = await asAdmin<{ revokeApiToken: { revokedAt: string } }>(
      'mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }',
      { id: apiToken.id },
    );
    expect(revoked.data!.revokeApiToken.revokedAt).toBeTruthy();
    expect((await use(token)).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('white-labels the tenant: a logo URL is stored, a script URL is refused', async () => {
    const set = (logoUrl: string) =>
      asAdmin<{ updateBranding: { displayName: string; logoUrl: string | null } }>(
        'mutation($l: String) { updateBranding(input: { displayName: "Contoso IT", logoUrl: $l, accentColor: "#5f3dc4" }) { displayName logoUrl } }',
        { l: logoUrl },
      );
    const logo = `https://cdn.example.com/${'l'.repeat(300)}.png`;
    expect((await set(logo)).data?.updateBranding).toEqual({ displayName: 'Contoso IT', logoUrl: logo });
    const refused = await set('javascript:alert(1)');
    expect(refused.data?.updateBranding ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('applies a changed role at the next request and signs a removed user out everywhere', async () => {
    const engineer = await signInSession(baseUrl, 'engineer@demo.test');
    const users = await asAdmin<{ users: { id: string; email: string; role: string; signedIn: boolean }[] }>(
      '{ users { id email role signedIn } }',
    );
    const target = users.data!.users.find((u) => u.email === 'engineer@demo.test')!;
    expect(target).toMatchObject({ role: 'engineer', signedIn: true });

    await asAdmin('mutation($u: ID!) { updateUserAccess(input: { userId: $u, role: "viewer" }) { role } }', {
      u: target.id,
    });
    const me = (await (await session(engineer.cookie)).json()) as { role: string };
    expect(me.role).toBe('viewer');

    const removed = await asAdmin<{ removeUser: boolean }>('mutation($u: ID!) { removeUser(userId: $u) }', {
      u: target.id,
    });
    expect(removed.data!.removeUser).toBe(true);
    expect((await session(engineer.cookie)).status).toBe(401);
    // And signing in again is refused: the person has no access to the tenant any more.
    await expect(signInSession(baseUrl, 'engineer@demo.test')).rejects.toThrow(/NOT_INVITED/);
  });

  it('refuses an admin changing their own access', async () => {
    const users = await asAdmin<{ users: { id: string; email: string }[] }>('{ users { id email } }');
    const self = users.data!.users.find((u) => u.email === 'admin@demo.test')!;
    const res = await asAdmin(
      'mutation($u: ID!) { updateUserAccess(input: { userId: $u, role: "viewer" }) { role } }',
      {
        u: self.id,
      },
    );
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
