import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../infra/config/env';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/shared';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'bin', 'drydock.js');

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

/** Runs a drydock command that must fail at start; returns its exit code and stderr. */
async function failingStart(args: string[], env: Record<string, string>) {
  const result = await run(process.execPath, [cli, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DRYDOCK_ENV: 'development', ...env },
    timeout: 30_000,
  }).then(
    (ok) => ({ code: 0, stderr: ok.stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  return result;
}

function expectOneLine(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('start-up errors are one clear line', () => {
  it.each([
    [
      'a malformed DATABASE_URL',
      { DATABASE_URL: 'mysql://nope' },
      /^drydock api: invalid DATABASE_URL: must be a URL like postgres:/,
    ],
    ['a malformed API_PORT', { API_PORT: 'eighty' }, /^drydock api: invalid API_PORT: /],
    ['an unknown DRYDOCK_ENV', { DRYDOCK_ENV: 'staging' }, /^drydock api: invalid DRYDOCK_ENV: /],
    [
      'a development API bound to every address (its demo sign-in would be reachable)',
      { API_HOST: '0.0.0.0' },
      /^drydock api: invalid API_HOST: 0\.0\.0\.0 is not a loopback address/,
    ],
    [
      'a CORS origin with a path',
      { API_CORS_ORIGINS: 'https://portal.example/x' },
      /^drydock api: invalid API_CORS_ORIGINS: /,
    ],
    [
      'a malformed TEMPORAL_ADDRESS',
      { TEMPORAL_ADDRESS: 'localhost' },
      /^drydock api: invalid TEMPORAL_ADDRESS: must be host:port/,
    ],
  ])('%s', async (_what, env, pattern) => {
    const { code, stderr } = await failingStart(['api'], env as Record<string, string>);
    expect(code).toBe(78);
    expectOneLine(stderr, pattern);
  });

  it('a missing DATABASE_APP_URL in production', async () => {
    const { code, stderr } = await failingStart(['worker'], {
      DRYDOCK_ENV: 'production',
      DATABASE_URL: db.adminUrl,
    });
    expect(code).toBe(78);
    expectOneLine(stderr, /^drydock worker: invalid DATABASE_APP_URL: required in production/);
  });

  it('an unreachable PostgreSQL', async () => {
    const port = await freePort();
    const { code, stderr } = await failingStart(['api'], {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/drydock`,
    });
    expect(code).toBe(1);
    expectOneLine(
      stderr,
      new RegExp(`^drydock api: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}/drydock: .*ECONNREFUSED`),
    );
  });

  it('an unreachable PostgreSQL for migrate', async () => {
    const port = await freePort();
    const { code, stderr } = await failingStart(['migrate'], {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/drydock`,
    });
    expect(code).toBe(1);
    expectOneLine(stderr, /^drydock: cannot reach PostgreSQL at /);
  });

  it.each([['api'], ['worker']])('an unreachable Temporal (%s)', async (command) => {
    const port = await freePort();
    const { code, stderr } = await failingStart([command], {
      DATABASE_URL: db.adminUrl,
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    });
    expect(code).toBe(1);
    expectOneLine(
      stderr,
      new RegExp(`^drydock ${command}: cannot reach Temporal at 127\\.0\\.0\\.1:${port}`),
    );
  });
});
