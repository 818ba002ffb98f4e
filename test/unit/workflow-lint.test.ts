import { execFile } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../infra/config/env';

/** The lint rule that keeps workflows deterministic fires on the things it must refuse. */
describe('workflow determinism lint', () => {
  // ESLint runs as its own process: its flat config is ESM, which Jest's CommonJS runtime cannot load.
  const lint = (code: string) =>
    new Promise<(string | null)[]>((resolve, reject) => {
      const eslint = path.join(repoRoot, 'node_modules', 'eslint', 'bin', 'eslint.js');
      const filePath = path.join(repoRoot, 'workflows', 'sites', 'create-site.ts');
      const child = execFile(
        process.execPath,
        [eslint, '--format', 'json', '--stdin', '--stdin-filename', filePath],
        { cwd: repoRoot },
        (_err, stdout) => {
          try {
            const [result] = JSON.parse(stdout) as { messages: { ruleId: string | null }[] }[];
            resolve(result!.messages.map((m) => m.ruleId));
          } catch (err) {
            reject(err);
          }
        },
      );
      child.stdin!.end(code);
    });

  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;"],
    ["import { Client } from 'pg';\nexport const x = Client;"],
    ["import { createOrm } from '../../infra/db/orm';\nexport const x = createOrm;"],
    [
      "import { createSiteActivities } from '../../activities/sites/site-activities';\nexport const x = createSiteActivities;",
    ],
  ])('refuses %s', async (code) => {
    expect(await lint(code)).toContain('no-restricted-imports');
  });

  it('refuses Date.now, Math.random and process', async () => {
    expect(
      await lint(
        'export const a = Date.now();\nexport const b = Math.random();\nexport const c = process.env;',
      ),
    ).toEqual(['no-restricted-properties', 'no-restricted-properties', 'no-restricted-globals']);
  });

  it('accepts type-only activity imports and the workflow API', async () => {
    expect(
      await lint(
        "import { proxyActivities } from '@temporalio/workflow';\nimport type { SiteActivities } from '../../activities/sites/site-activities';\nexport const a = proxyActivities<SiteActivities>({ startToCloseTimeout: '1 minute' });",
      ),
    ).toEqual([]);
  });
});
