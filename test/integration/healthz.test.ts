import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { startDevServer, type DevServer } from '../../infra/temporal/dev-server';
import type { Orm } from '../../infra/db/orm';
import { buildTestApp } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/shared';

let db: TestDatabase;
let orm: Orm;
let server: DevServer;
let app: FastifyInstance;
let connection: Connection;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  // A Temporal server of this file's own, so the test can stop it.
  server = await startDevServer({
    cliPath: process.env.DRYDOCK_TEST_TEMPORAL_CLI!,
    port: await freePort(),
    headless: true,
  });
  connection = await Connection.connect({ address: server.address });
  app = await buildTestApp(orm, new Client({ connection }), db.appUrl);
});
afterAll(async () => {
  await app.close();
  await connection.close();
  await server.stop();
  await db.drop();
});

describe('GET /healthz', () => {
  it('is 200 when PostgreSQL and Temporal both answer', async () => {
    const res = await app.inject('/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', postgres: { ok: true }, temporal: { ok: true } });
  });

  it('is 503 naming Temporal when Temporal is down', async () => {
    await server.stop();
    const res = await app.inject('/healthz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'unavailable',
      postgres: { ok: true },
      temporal: { ok: false },
    });
  });

  it('is 503 naming PostgreSQL when PostgreSQL is down', async () => {
    await orm.close();
    const res = await app.inject('/healthz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ postgres: { ok: false } });
  });
});
