import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { StartupError } from '../config/fatal';

const run = promisify(execFile);

/** The CLI tag we build: the newest whose go.mod has no `replace` directive (see docs/adr/0002). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export interface TemporalCliLocation {
  path: string;
  source: 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'built';
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function cachedCliPath(dataDir: string): string {
  return path.join(dataDir, 'bin', `temporal-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

/**
 * Finds the Temporal CLI without downloading anything: TEMPORAL_CLI_PATH, then `temporal` on PATH,
 * then our cached build, else builds it once from Go modules into the data folder.
 */
export async function ensureTemporalCli(opts: {
  dataDir: string;
  explicitPath?: string;
  log?: (line: string) => void;
  /** Where to look for Go when it is not on PATH. */
  goLocations?: string[];
}): Promise<TemporalCliLocation> {
  if (opts.explicitPath) {
    if (!isExecutable(opts.explicitPath)) {
      throw new StartupError(`TEMPORAL_CLI_PATH=${opts.explicitPath} is not an executable file`);
    }
    return { path: opts.explicitPath, source: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { path: fromPath, source: 'PATH' };

  const cached = cachedCliPath(opts.dataDir);
  if (isExecutable(cached)) return { path: cached, source: 'cache' };

  const go = onPath('go') ?? (opts.goLocations ?? ['/usr/local/go/bin/go']).find(isExecutable);
  if (!go) {
    throw new StartupError(
      'the Temporal CLI was not found and Go is not installed to build it: install Go 1.24 or newer ' +
        '(so `go` is on PATH), put a `temporal` binary on PATH, or set TEMPORAL_CLI_PATH',
    );
  }
  const binDir = path.dirname(cached);
  mkdirSync(binDir, { recursive: true });
  opts.log?.(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} from Go modules (once; cached in ${binDir})`);
  try {
    await run(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: binDir, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '')
      .trim()
      .split('\n')
      .slice(-1)[0];
    throw new StartupError(`building the Temporal CLI with Go failed: ${stderr || (err as Error).message}`);
  }
  if (!isExecutable(cached)) throw new StartupError(`go install finished but ${cached} is missing`);
  return { path: cached, source: 'built' };
}
