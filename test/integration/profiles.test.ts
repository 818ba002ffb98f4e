import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Orm } from '../../infra/db/orm';
import { buildTestApp, gql } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { testTemporalConnection } from '../helpers/temporal';

let db: TestDatabase;
let orm: Orm;
let app: FastifyInstance;
let connection: Connection;
let a: TenantFixture;
let b: TenantFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  connection = await testTemporalConnection();
  app = await buildTestApp(orm, new Client({ connection }), db.appUrl);
  a = await createTenant(orm);
  b = await createTenant(orm);
});
afterAll(async () => {
  await app.close();
  await connection.close();
  await db.drop();
});

const save = `mutation($n: String!, $d: String!) { saveProfile(name: $n, documentJson: $d) { name version resolvedJson } }`;

describe('profiles through GraphQL', () => {
  it('saves versions of a valid profile, resolved over Standard, visible to its tenant only', async () => {
    const doc = JSON.stringify({
      phases: { locale: { timeZone: 'W. Europe Standard Time', locale: 'nl-NL' } },
    });
    const first = await gql<{ saveProfile: { version: number; resolvedJson: string } }>(
      app,
      a.tenantId,
      save,
      { n: 'Dental NL', d: doc },
    );
    expect(first.errors).toBeUndefined();
    expect(first.data!.saveProfile.version).toBe(1);
    expect(JSON.parse(first.data!.saveProfile.resolvedJson).phases.locale.locale).toBe('nl-NL');
    const second = await gql<{ saveProfile: { version: number } }>(app, a.tenantId, save, {
      n: 'Dental NL',
      d: doc,
    });
    expect(second.data!.saveProfile.version).toBe(2);

    const mine = await gql<{ profiles: { name: string; version: number }[] }>(
      app,
      a.tenantId,
      '{ profiles { name version } }',
    );
    expect(mine.data!.profiles).toEqual([
      { name: 'Dental NL', version: 2 },
      { name: 'Dental NL', version: 1 },
    ]);
    const theirs = await gql<{ profiles: unknown[] }>(app, b.tenantId, '{ profiles { name } }');
    expect(theirs.data!.profiles).toEqual([]);
  });

  it('refuses an invalid profile with every error by path, and saves nothing', async () => {
    const doc = JSON.stringify({
      phases: {
        apps: { installers: [{ name: 'x', url: 'http://x.invalid/a.msi', sha256: 'nope' }] },
        locale: { locale: 'dutch' },
      },
    });
    const res = await gql(app, b.tenantId, save, { n: 'Broken', d: doc });
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'INVALID_PROFILE',
      errors: expect.arrayContaining([
        { path: 'phases.apps.installers.0.url', message: 'must be an https:// URL' },
        { path: 'phases.apps.installers.0.sha256', message: 'must be a SHA-256 hex digest (64 hex digits)' },
        { path: 'phases.locale.locale', message: 'must look like en-US' },
      ]),
    });
    const validated = await gql<{ validateProfile: { path: string }[] }>(
      app,
      b.tenantId,
      'query($d: String!) { validateProfile(documentJson: $d) { path } }',
      { d: doc },
    );
    expect(validated.data!.validateProfile).toHaveLength(3);
    const listed = await gql<{ profiles: unknown[] }>(app, b.tenantId, '{ profiles { name } }');
    expect(listed.data!.profiles).toEqual([]);
  });

  it('says plainly when the document is not JSON', async () => {
    const res = await gql<{ validateProfile: { path: string; message: string }[] }>(
      app,
      a.tenantId,
      'query { validateProfile(documentJson: "{oops") { path message } }',
    );
    expect(res.data!.validateProfile).toEqual([{ path: '(root)', message: 'is not valid JSON' }]);
  });
});
