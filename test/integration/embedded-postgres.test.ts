import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../infra/config/env';
import { migrationsList } from '../../infra/db/migrations';
import { freePort } from '../helpers/shared';

const run = promisify(execFile);

/** The fallback when no PostgreSQL is configured or running: real binaries from npm, started by us. */
describe('embedded PostgreSQL', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-embedded-pg-'));
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data folder.
  chmodSync(dir, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('initialises, migrates, serves the app role, stops, and starts again on the same data', async () => {
    const probe = path.join(repoRoot, 'test', 'fixtures', 'embedded-postgres-probe.ts');
    const args = ['--require', require.resolve('tsx/cjs'), probe, path.join(dir, 'pg')];
    const first = JSON.parse(
      (await run(process.execPath, [...args, String(await freePort())], { timeout: 120_000 })).stdout,
    );
    expect(first).toMatchObject({ applied: migrationsList.map((m) => m.name), user: 'drydock_app' });
    expect(first.version).toMatch(/^PostgreSQL \d+/);
    const second = JSON.parse(
      (await run(process.execPath, [...args, String(await freePort())], { timeout: 120_000 })).stdout,
    );
    expect(second).toMatchObject({ applied: [], user: 'drydock_app' });
  }, 180_000);
});
