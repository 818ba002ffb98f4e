import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../config/env';

export interface DevIdpProcess {
  issuer: string;
  stop(): Promise<void>;
}

/**
 * Starts the development OIDC provider (infra/auth/dev-idp.ts) as a child process under the same
 * Node and waits for its issuer. Its own process: oidc-provider is an ES module, and Jest (the
 * tests) cannot load it in-process.
 */
export function spawnDevIdp(opts: {
  port: number;
  redirectUris: string[];
  log?: (line: string) => void;
}): Promise<DevIdpProcess> {
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'infra/auth/dev-idp.ts')],
    {
      env: {
        ...process.env,
        DEV_IDP_PORT: String(opts.port),
        DEV_IDP_REDIRECT_URIS: opts.redirectUris.join(','),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const errors: string[] = [];
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the development OIDC provider did not start within 30 s: ${errors.join(' ')}`));
    }, 30_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      errors.push(line);
      opts.log?.(line);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"issuer"')) {
        clearTimeout(timer);
        resolve({ issuer: (JSON.parse(line) as { issuer: string }).issuer, stop });
      } else if (!line.startsWith('oidc-provider WARNING')) opts.log?.(line);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the development OIDC provider exited (${code}): ${errors.join(' ')}`));
    });
  });
}
