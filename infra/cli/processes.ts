import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../config/env';

/** Runs one of Drydock's TypeScript entry points under the same (pinned) Node, through tsx. */
export function spawnEntry(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  write: (line: string) => void,
): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, entry)],
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
