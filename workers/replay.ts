import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { workflowsPath } from './core-worker';

/**
 * The replay gate of a deploy (ADR 0049, docs/operations.md): histories — exported JSON files (the
 * frozen ones in test/histories, or `temporal workflow show -o json` of production runs) or the
 * runs a visibility query finds on the server — replayed against a workflow bundle. A history that
 * does not replay names a change that would break its workflow on the new build.
 */
export interface ReplayOutcome {
  name: string;
  ok: boolean;
  error?: string;
}

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** The bundle given (a `bundleWorkflowCode` output file), or workflows/ of this checkout bundled now. */
export async function replayBundle(bundlePath?: string): Promise<string> {
  if (bundlePath) return readFileSync(bundlePath, 'utf8');
  return (await bundleWorkflowCode({ workflowsPath, logger: quiet })).code;
}

/** Every `.json` file of the folders given, and the files given. */
export function historyFiles(paths: string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => path.join(p, f))
      : [p],
  );
}

const reason = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

export async function replayFiles(files: string[], code: string): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const file of files) {
    try {
      const history: unknown = JSON.parse(readFileSync(file, 'utf8'));
      await Worker.runReplayHistory({ workflowBundle: { code }, replayName: file }, history);
      outcomes.push({ name: file, ok: true });
    } catch (err) {
      outcomes.push({ name: file, ok: false, error: reason(err) });
    }
  }
  return outcomes;
}

/** The runs `query` finds (at most `limit`), their histories fetched from the server and replayed. */
export async function replayFromServer(
  client: Client,
  query: string,
  limit: number,
  code: string,
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for await (const { workflowId, history } of client.workflow.list({ query }).intoHistories()) {
    if (outcomes.length >= limit) break;
    try {
      await Worker.runReplayHistory({ workflowBundle: { code }, replayName: workflowId }, history);
      outcomes.push({ name: workflowId, ok: true });
    } catch (err) {
      outcomes.push({ name: workflowId, ok: false, error: reason(err) });
    }
  }
  return outcomes;
}
