import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildAgentExecutable, type AgentExecutable } from './build-agent';
import { buildServiceHost, type ServiceHost } from './build-service-host';
import { buildMsiInstaller } from './msi';
import { buildNsisInstaller } from './nsis';
import { installerBaseName, validateTarget, type InstallerTarget } from './site-config';
import type { Signer } from './signing';
import { sha256File } from './tools';

export interface BuiltFile {
  file: string;
  fileName: string;
  sha256: string;
  sizeBytes: number;
}

export interface BuiltInstallers {
  agent: AgentExecutable;
  serviceHost: ServiceHost;
  exe: BuiltFile;
  msi: BuiltFile;
  /** `build.json` beside them: every hash, for the record. Holds no secret. */
  manifest: string;
}

export interface BuildInstallersOptions {
  target: InstallerTarget;
  /** Where the downloaded node.exe and the unsigned agent executable are cached. */
  cacheDir: string;
  outDir: string;
  signer: Signer;
  epoch: number;
  log?: (line: string) => void;
  /** Called as each stage ends: the workflow's progress. */
  progress?: (percent: number, stage: string) => void;
}

/**
 * The signed agent, the signed service host, and from them the signed NSIS `.exe` and `.msi` for one
 * site (or generic ones). The payloads are built once per call and packed into both installers.
 */
export async function buildInstallers(opts: BuildInstallersOptions): Promise<BuiltInstallers> {
  validateTarget(opts.target);
  const log = opts.log ?? (() => {});
  const progress = opts.progress ?? (() => {});
  mkdirSync(opts.outDir, { recursive: true });
  const payloadDir = path.join(opts.outDir, '.payload');
  progress(5, 'agent executable');
  const agent = await buildAgentExecutable({
    cacheDir: opts.cacheDir,
    outDir: payloadDir,
    signer: opts.signer,
    log,
  });
  progress(50, 'service host');
  log('compiling and signing the service host');
  const serviceHost = await buildServiceHost({ outDir: payloadDir, signer: opts.signer });
  const payload = { agentExe: agent.file, serviceExe: serviceHost.file };
  const base = installerBaseName(opts.target, agent.agentVersion);
  const exeFile = path.join(opts.outDir, `${base}.exe`);
  const msiFile = path.join(opts.outDir, `${base}.msi`);
  progress(60, 'NSIS bootstrapper');
  log(`building ${path.basename(exeFile)}`);
  await buildNsisInstaller({
    target: opts.target,
    agentVersion: agent.agentVersion,
    payload,
    workDir: path.join(opts.outDir, '.nsis'),
    outFile: exeFile,
    signer: opts.signer,
    epoch: opts.epoch,
  });
  progress(80, 'MSI package');
  log(`building ${path.basename(msiFile)}`);
  await buildMsiInstaller({
    target: opts.target,
    agentVersion: agent.agentVersion,
    payload,
    contentId: [agent.sha256, serviceHost.sha256, base].join(':'),
    workDir: path.join(opts.outDir, '.msi'),
    outFile: msiFile,
    signer: opts.signer,
    epoch: opts.epoch,
  });
  const exe = await described(exeFile);
  const msi = await described(msiFile);
  const manifest = path.join(opts.outDir, `${base}.build.json`);
  writeFileSync(
    manifest,
    `${JSON.stringify(
      {
        agentVersion: agent.agentVersion,
        nodeVersion: agent.nodeVersion,
        signer: opts.signer.origin,
        sourceDateEpoch: opts.epoch,
        agentBundleSha256: agent.bundle.sha256,
        agentUnsignedSha256: agent.unsignedSha256,
        agentSha256: agent.sha256,
        serviceHostUnsignedSha256: serviceHost.unsignedSha256,
        serviceHostSha256: serviceHost.sha256,
        exe: { fileName: exe.fileName, sha256: exe.sha256, sizeBytes: exe.sizeBytes },
        msi: { fileName: msi.fileName, sha256: msi.sha256, sizeBytes: msi.sizeBytes },
      },
      null,
      2,
    )}\n`,
  );
  rmSync(payloadDir, { recursive: true, force: true });
  progress(100, 'done');
  return { agent, serviceHost, exe, msi, manifest };
}

async function described(file: string): Promise<BuiltFile> {
  return {
    file,
    fileName: path.basename(file),
    sha256: await sha256File(file),
    sizeBytes: statSync(file).size,
  };
}
