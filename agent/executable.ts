import path from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_VERSION } from './agent';
import { runAgent } from './main';
import { selfTest } from './self-test';

const USAGE = `drydock-agent ${AGENT_VERSION}: the Drydock endpoint agent.

  drydock-agent [--config FILE] [--stop-on-stdin-close] [--simulated DIR]
        run: enroll once with the config the site installer wrote, then long-poll for work
  drydock-agent --self-test [--config FILE]
        check the config, the journal folder and the API; exit 1 if any check fails
  drydock-agent --version

The Windows service (drydock-service.exe) runs it; FILE defaults to %ProgramData%\\Drydock\\agent.json.
Exit codes: 0 stopped, 1 failed (the service restarts it), 2 usage, 3 stopped for good (revoked,
rejected or an outdated installer's key).
`;

/** The single executable's entry (installer/build-agent.ts bundles this file into drydock-agent.exe). */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        simulated: { type: 'string' },
        'stop-on-stdin-close': { type: 'boolean', default: false },
        'self-test': { type: 'boolean', default: false },
        version: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }
  const config = values.config ?? defaultConfigFile();
  if (!config) {
    process.stderr.write(`--config is required off Windows\n\n${USAGE}`);
    return 2;
  }
  if (values['self-test']) {
    let failed = 0;
    for (const check of await selfTest(config)) {
      if (!check.ok) failed++;
      process.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}\n`);
    }
    return failed ? 1 : 0;
  }
  return runAgent({ config, simulated: values.simulated, stopOnStdinClose: values['stop-on-stdin-close'] });
}

function defaultConfigFile(): string | undefined {
  if (process.platform !== 'win32') return undefined;
  return path.win32.join(process.env.ProgramData ?? 'C:\\ProgramData', 'Drydock', 'agent.json');
}

/** Runs `main` on this process's arguments and sets the exit code. */
export function start(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`drydock-agent: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
