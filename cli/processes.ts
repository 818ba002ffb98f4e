import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../infra/config/env';

/**
 * V8 flags for the API process. Without a cap V8 lets the heap grow lazily after a burst (1,000
 * enrollments at once) and RSS stays ~750 MB; with a small young generation and a heap cap the
 * same load settles near 320 MB with 2,000 long-polls (npm run bench). See docs/adr/0010.
 */
export const API_NODE_FLAGS = ['--max-old-space-size=384', '--max-semi-space-size=4'];

/** Runs one of Drydock's TypeScript entry points under the same (pinned) Node, through tsx. */
export function spawnEntry(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  write: (line: string) => void,
  nodeFlags: string[] = [],
): ChildProcess {
  const child = spawn(
    process.execPath,
    [...nodeFlags, '--require', require.resolve('tsx/cjs'), path.join(repoRoot, entry)],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: Ctrl-C reaches only `drydock up`, which stops children in order.
      detached: true,
    },
  );
  // pino-pretty turns the API's JSON log lines into one readable line each.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = (require('pino-pretty') as typeof import('pino-pretty')).prettyFactory({
    colorize: false,
    ignore: 'pid,hostname,reqId',
    translateTime: 'HH:MM:ss',
    singleLine: true,
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      const text = line.startsWith('{') ? pretty(line).trimEnd() : line;
      write(`[${name}] ${text}`);
    });
  }
  return child;
}

export function stopChild(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
