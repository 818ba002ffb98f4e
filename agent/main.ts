import { Agent } from './agent';
import { readConfig } from './config';
import type { Platform } from './platform/platform';
import { SimulatedPlatform } from './platform/simulated/simulated-host';
import { WindowsPlatform } from './platform/windows/windows-platform';

export interface RunAgentOptions {
  config: string;
  simulated?: string;
  /**
   * Stop cleanly when standard input closes. The Windows service host starts the agent with a pipe
   * as stdin and closes it on a service stop: a process without a console gets no Ctrl-C.
   */
  stopOnStdinClose?: boolean;
}

/**
 * The agent process: `drydock agent --config <file>` or the signed `drydock-agent.exe`. On Windows it
 * drives the real machine; elsewhere it runs only against a simulated Windows host, and only when
 * asked to (`--simulated <dir>`).
 */
export async function runAgent(opts: RunAgentOptions): Promise<number> {
  const config = readConfig(opts.config);
  let platform: Platform;
  if (opts.simulated) platform = new SimulatedPlatform(opts.simulated);
  else if (process.platform === 'win32') platform = new WindowsPlatform();
  else throw new Error('this is not Windows: pass --simulated <dir> to run against a simulated Windows host');
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  log(
    `drydock agent on a ${platform.kind === 'simulated' ? 'SIMULATED Windows host' : 'Windows host'}, site ${config.siteCode}`,
  );
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  if (opts.stopOnStdinClose) {
    process.stdin.on('end', () => controller.abort());
    process.stdin.on('error', () => controller.abort());
    process.stdin.resume();
  }
  const agent = new Agent({ config, configFile: opts.config, platform, log });
  const state = await agent.run(controller.signal);
  log(`agent stopped (${state})`);
  if (opts.stopOnStdinClose) process.stdin.destroy();
  return exitCodeFor(state);
}

/**
 * Exit codes the service host acts on: 0 stopped as asked; 3 stopped for good (key revoked, machine
 * rejected, enrollment refused: restarting cannot help, the service stops); anything else is a
 * failure the host restarts with back-off.
 */
export const EXIT_STOPPED = 0;
export const EXIT_GIVE_UP = 3;

function exitCodeFor(state: string): number {
  return state === 'stopped' ? EXIT_STOPPED : EXIT_GIVE_UP;
}
