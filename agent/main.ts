import { Agent } from './agent';
import { readConfig } from './config';
import type { Platform } from './platform/platform';
import { SimulatedPlatform } from './platform/simulated/simulated-host';
import { WindowsPlatform } from './platform/windows/windows-platform';

/**
 * The agent process: `drydock agent --config <file>`. On Windows it drives the real machine; elsewhere
 * it runs only against a simulated Windows host, and only when asked to (`--simulated <dir>`).
 */
export async function runAgent(opts: { config: string; simulated?: string }): Promise<number> {
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
  const agent = new Agent({ config, configFile: opts.config, platform, log });
  const state = await agent.run(controller.signal);
  log(`agent stopped (${state})`);
  return state === 'stopped' ? 0 : 1;
}
