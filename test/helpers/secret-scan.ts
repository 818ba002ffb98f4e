import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { AgentStack } from './agent-stack';

/**
 * Everything a secret must never appear in, as text: the tests that escrow or join search it for
 * the plaintext (docs/SECURITY.md).
 */

/** Every row of every table of the stack's database, as text (what a database dump would hold). */
export async function databaseDump(stack: AgentStack): Promise<string> {
  const client = await stack.db.adminClient();
  try {
    const tables = await client.query<{ name: string }>(
      `select quote_ident(table_schema) || '.' || quote_ident(table_name) as name
         from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
    );
    const parts: string[] = [];
    for (const { name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select t::text as row from ${name} t`);
      parts.push(`-- ${name}`, ...rows.rows.map((r) => r.row));
    }
    return parts.join('\n');
  } finally {
    await client.end();
  }
}

/**
 * A workflow's history (its latest run, or `runId`) as JSON, with every payload's bytes decoded
 * too (JSON holds them in base64).
 */
export async function historyText(stack: AgentStack, workflowId: string, runId?: string): Promise<string> {
  const json = historyToJSON(await stack.temporal.workflow.getHandle(workflowId, runId).fetchHistory());
  const decoded = [...json.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)].map((m) =>
    Buffer.from(m[1]!, 'base64').toString('utf8'),
  );
  return [json, ...decoded].join('\n');
}

/** Every file under a folder (the simulated machines' disks: journals, host state, configs). */
export function filesUnder(dir: string): string {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) out.push(filesUnder(file));
    else out.push(readFileSync(file, 'utf8'));
  }
  return out.join('\n');
}
