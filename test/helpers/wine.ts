import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Debian's wine64 puts its loader here, not on PATH. */
const CANDIDATES = ['/usr/lib/wine/wine64', '/usr/bin/wine64'];

export function findWine(): { wine: string; wineserver: string } | null {
  for (const wine of CANDIDATES) {
    if (!existsSync(wine)) continue;
    const dir = path.dirname(wine);
    const wineserver = ['wineserver64', 'wineserver'].map((n) => path.join(dir, n)).find(existsSync);
    if (wineserver) return { wine, wineserver };
  }
  return null;
}

export interface WinePrefix {
  /** The prefix's C: drive on this machine. */
  driveC: string;
  run(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

/**
 * A fresh Wine prefix with a wineserver that stays up between commands (its services, such as
 * ours, would otherwise end with the last command). Closing it ends that prefix's wineserver only.
 */
export async function createWinePrefix(): Promise<WinePrefix> {
  const tools = findWine();
  if (!tools) throw new Error('wine64 is not installed');
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'drydock-wine-'));
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all' };
  const exec = (cmd: string, args: string[], timeoutMs = 120_000) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      // Not only 'close': processes Wine starts (services, wineboot's helpers, a crash's debugger)
      // inherit the pipes and may keep them open long after the command itself has ended. So
      // after 'exit', wait for the output to close, but at most 2 s.
      let exited: number | null = null;
      const finish = () => {
        clearTimeout(timer);
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code: exited ?? -1, stdout, stderr });
      };
      child.on('exit', (code) => {
        exited = code ?? -1;
        const grace = setTimeout(finish, 2000);
        child.on('close', () => {
          clearTimeout(grace);
          finish();
        });
      });
    });
  await exec(tools.wine, ['wineboot', '-i']);
  // Let the first-boot server and its services finish, so one set of services owns the prefix.
  await exec(tools.wineserver, ['-w']);
  await exec(tools.wineserver, ['-p', '300']);
  // Wine ends its system processes (services.exe among them) when the last program ends, and
  // starts them again with the next, auto-starting services and locking the service database
  // meanwhile. One idle program for the prefix's lifetime keeps them up between our commands.
  const keeper = spawn(tools.wine, ['cmd.exe'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  await exec(tools.wine, ['sc', 'query', 'PlugPlay']);
  return {
    driveC: path.join(prefix, 'drive_c'),
    run: (args, timeoutMs) => exec(tools.wine, args, timeoutMs),
    async close() {
      keeper.stdin?.end();
      keeper.kill();
      await exec(tools.wineserver, ['-k']);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` holds (Wine's services start and stop asynchronously). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
