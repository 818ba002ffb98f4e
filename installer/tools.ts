import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';

/** Stable codes for everything an installer build can refuse (docs/installers.md lists them). */
export enum InstallerErrorCode {
  ToolMissing = 'INSTALLER_TOOL_MISSING',
  ToolFailed = 'INSTALLER_TOOL_FAILED',
  NodeIntegrity = 'INSTALLER_NODE_INTEGRITY',
  SigningNotConfigured = 'INSTALLER_SIGNING_NOT_CONFIGURED',
  SignatureInvalid = 'INSTALLER_SIGNATURE_INVALID',
  BadSiteConfig = 'INSTALLER_BAD_SITE_CONFIG',
  KeyNotAvailable = 'INSTALLER_KEY_NOT_AVAILABLE',
}

export class InstallerError extends Error {
  override name = 'InstallerError';
  constructor(
    readonly code: InstallerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The Debian packages each tool comes from (`.ci/run` installs them). */
const TOOL_PACKAGES: Record<string, string> = {
  makensis: 'nsis',
  wixl: 'wixl',
  msibuild: 'msitools',
  msiinfo: 'msitools',
  osslsigncode: 'osslsigncode',
  'x86_64-w64-mingw32-gcc': 'gcc-mingw-w64-x86-64',
  openssl: 'openssl',
  npm: 'npm',
};

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs a build tool and returns its stdout. Arguments travel as an array (no shell). A failure
 * names the tool and carries its last output lines.
 */
export function run(tool: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        const pkg = TOOL_PACKAGES[tool];
        reject(
          new InstallerError(
            InstallerErrorCode.ToolMissing,
            `${tool} is not installed${pkg ? ` (Debian package ${pkg})` : ''}`,
          ),
        );
      } else reject(err);
    });
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else {
        const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-15).join('\n');
        reject(new InstallerError(InstallerErrorCode.ToolFailed, `${tool} exited ${code}:\n${tail}`));
      }
    });
  });
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * The build's clock when SOURCE_DATE_EPOCH is unset (reproducible-builds.org): no artifact may
 * depend on the real clock, so the same inputs give the same bytes.
 */
export const DEFAULT_SOURCE_DATE_EPOCH = 1_767_225_600; // 2026-01-01T00:00:00Z

/** Sets every file's times under `dir` to the build epoch: packagers copy file times into archives. */
export function clampTimes(dir: string, epoch: number): void {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) clampTimes(file, epoch);
    utimesSync(file, epoch, epoch);
  }
  utimesSync(dir, epoch, epoch);
}

/** A name-based UUID (RFC 9562 version 5 layout over SHA-256): the same inputs, the same id. */
export function stableUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Makes `finalDir` by filling a private work folder and renaming it into place, so a reader never
 * sees half of it and concurrent builds (two sites at once, in one process or two) never share a
 * work folder. If another build finished first, its result is kept and ours dropped.
 */
export async function buildIntoPlace(
  finalDir: string,
  fill: (workDir: string) => Promise<void>,
): Promise<void> {
  if (existsSync(finalDir)) return;
  const work = `${finalDir}.partial-${randomUUID()}`;
  try {
    await fill(work);
    try {
      renameSync(work, finalDir);
    } catch (err) {
      if (!existsSync(finalDir)) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
