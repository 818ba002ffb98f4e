import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { inject } from 'postject';
import { AGENT_VERSION } from '../agent/agent';
import { nodeWinExecutable, pinnedNodeVersion } from './node-win';
import { signAndCheck, type Signer } from './signing';
import { buildIntoPlace, InstallerError, InstallerErrorCode, run, sha256File } from './tools';

const repoRoot = path.resolve(__dirname, '..');
/** Node's documented fuse for single executable applications (nodejs.org/api/single-executable-applications). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface AgentBundle {
  /** The one script the executable runs: the agent and everything it imports. */
  file: string;
  sha256: string;
}

/**
 * Bundles the agent (entry `agent/executable-entry.ts`) into one CommonJS script. esbuild writes no
 * time and only paths relative to the repository into it: the same sources give the same bytes.
 */
export async function bundleAgent(outFile: string): Promise<AgentBundle> {
  mkdirSync(path.dirname(outFile), { recursive: true });
  await build({
    absWorkingDir: repoRoot,
    entryPoints: ['agent/executable-entry.ts'],
    bundle: true,
    platform: 'node',
    target: `node${pinnedNodeVersion().split('.')[0]}`,
    format: 'cjs',
    outfile: outFile,
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'error',
  });
  return { file: outFile, sha256: await sha256File(outFile) };
}

export interface AgentExecutable {
  agentVersion: string;
  nodeVersion: string;
  bundle: AgentBundle;
  /** Before signing: what reproducibility is judged on. */
  unsignedSha256: string;
  /** `drydock-agent.exe`, signed. */
  file: string;
  sha256: string;
}

/**
 * `drydock-agent.exe`: Windows x64 `node.exe` at the pinned Node version with the agent bundle
 * injected as a single executable application (postject), then Authenticode-signed. The unsigned
 * executable is cached by the bundle's hash; signing runs on every build.
 */
export async function buildAgentExecutable(opts: {
  cacheDir: string;
  outDir: string;
  signer: Signer;
  log?: (line: string) => void;
}): Promise<AgentExecutable> {
  const log = opts.log ?? (() => {});
  const nodeVersion = pinnedNodeVersion();
  if (process.version !== `v${nodeVersion}`) {
    // The blob's format belongs to the Node that writes it: it must be the one it runs on.
    throw new InstallerError(
      InstallerErrorCode.ToolFailed,
      `the agent must be built by Node ${nodeVersion} (this is ${process.version}): run it through npm or npx`,
    );
  }
  mkdirSync(opts.outDir, { recursive: true });
  log('bundling the agent');
  const bundle = await bundleAgent(path.join(opts.outDir, 'drydock-agent.js'));
  const unsignedDir = path.join(
    opts.cacheDir,
    'agent-unsigned',
    `${nodeVersion}-${bundle.sha256.slice(0, 32)}`,
  );
  const unsigned = path.join(unsignedDir, 'drydock-agent.unsigned.exe');
  await buildIntoPlace(unsignedDir, async (work) => {
    const nodeExe = await nodeWinExecutable(opts.cacheDir, nodeVersion);
    mkdirSync(work, { recursive: true });
    log('writing the single-executable blob');
    copyFileSync(bundle.file, path.join(work, 'agent.js'));
    writeFileSync(
      path.join(work, 'sea-config.json'),
      JSON.stringify({
        main: 'agent.js',
        output: 'agent.blob',
        disableExperimentalSEAWarning: true,
        // No V8 snapshot or code cache: both depend on the machine that writes them.
        useSnapshot: false,
        useCodeCache: false,
      }),
    );
    await run(process.execPath, ['--experimental-sea-config', 'sea-config.json'], { cwd: work });
    log('injecting the agent into node.exe');
    // node.exe from npm carries the Node.js project's signature; a changed file must not keep it.
    await run('osslsigncode', ['remove-signature', '-in', nodeExe, '-out', path.join(work, 'node.exe')]);
    const blob = readFileSync(path.join(work, 'agent.blob'));
    await inject(path.join(work, 'node.exe'), 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE });
    const injected = readFileSync(path.join(work, 'node.exe'));
    // A check worth its cost: an executable without its script is node.exe, and would ship.
    if (injected.indexOf(readFileSync(bundle.file)) < 0 || injected.indexOf(`${SEA_FUSE}:1`) < 0)
      throw new InstallerError(
        InstallerErrorCode.ToolFailed,
        'postject did not inject the agent into node.exe',
      );
    renameSync(path.join(work, 'node.exe'), path.join(work, 'drydock-agent.unsigned.exe'));
    for (const name of ['agent.js', 'agent.blob', 'sea-config.json']) rmSync(path.join(work, name));
  });
  const file = path.join(opts.outDir, 'drydock-agent.exe');
  log('signing drydock-agent.exe');
  await signAndCheck(opts.signer, unsigned, file, 'Drydock Agent');
  return {
    agentVersion: AGENT_VERSION,
    nodeVersion,
    bundle,
    unsignedSha256: await sha256File(unsigned),
    file,
    sha256: await sha256File(file),
  };
}
