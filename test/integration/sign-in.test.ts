import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { spawnDevIdp, type DevIdpProcess } from '../../infra/auth/dev-idp-process';
import type { Orm } from '../../infra/db/orm';
import { demoTenantId, seedDemoSignIn } from '../../infra/db/seed-demo';
import { buildTestApp } from '../helpers/api';
import { gqlSession, mintApiToken, signInSession } from '../helpers/auth';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/shared';

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
  connection = await Connection.connect({ address: process.env.DRYDOCK_TEST_TEMPORAL_ADDRESS! });
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
  });
});
