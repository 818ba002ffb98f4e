import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The portal's sources and its build (ADR 0035: built when missing or stale, never at request time). */
export const portalRoot = __dirname;
export const portalDist = path.join(portalRoot, 'dist');
const stampFile = path.join(portalDist, '.source-hash');
const repoRoot = path.join(portalRoot, '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

/** A hash of everything the build reads: the sources, its config and the locked dependency versions. */
export function portalSourceHash(): string {
  const hash = createHash('sha256');
  const inputs = [
    ...files(path.join(portalRoot, 'src')),
    path.join(portalRoot, 'index.html'),
    path.join(portalRoot, 'vite.config.ts'),
    ...(existsSync(path.join(portalRoot, 'public')) ? files(path.join(portalRoot, 'public')) : []),
    path.join(repoRoot, 'package-lock.json'),
  ].sort();
  for (const file of inputs) {
    hash.update(path.relative(repoRoot, file));
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

export function portalBuildIsFresh(): boolean {
  return (
    existsSync(path.join(portalDist, 'index.html')) &&
    existsSync(stampFile) &&
    readFileSync(stampFile, 'utf8').trim() === portalSourceHash()
  );
}

/**
 * Builds portal/dist with Vite unless it is already built from these very sources (a few seconds
 * when it has to). Returns whether it built. Throws with Vite's output when the build fails.
 */
export function ensurePortalBuilt(log: (line: string) => void = () => {}): boolean {
  if (portalBuildIsFresh()) return false;
  const hash = portalSourceHash();
  log('building the portal (portal/dist)…');
  const started = Date.now();
  const vite = path.join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js');
  const res = spawnSync(
    process.execPath,
    [vite, 'build', '--config', path.join(portalRoot, 'vite.config.ts')],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, NODE_ENV: 'production' },
    },
  );
  if (res.status !== 0) throw new Error(`the portal build failed:\n${res.stdout}\n${res.stderr}`);
  writeFileSync(stampFile, `${hash}\n`);
  log(`built the portal in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

if (require.main === module) {
  const forced = process.argv.includes('--force');
  if (forced && existsSync(stampFile)) writeFileSync(stampFile, '');
  ensurePortalBuilt((line) => console.log(line));
}
