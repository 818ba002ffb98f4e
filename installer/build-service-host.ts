import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { signAndCheck, type Signer } from './signing';
import { run, sha256File } from './tools';

export const SERVICE_HOST_SOURCE = path.join(__dirname, 'service-host', 'drydock-service.c');

/**
 * Compiles a Windows x64 console program with mingw-w64 (Debian gcc-mingw-w64-x86-64): statically
 * linked (no DLL beside it), stripped, and without the PE time stamp, so the same source gives the
 * same bytes.
 */
export async function compileWindowsProgram(source: string, output: string): Promise<void> {
  mkdirSync(path.dirname(output), { recursive: true });
  await run('x86_64-w64-mingw32-gcc', [
    '-municode', '-O2', '-s', '-Wall', '-Wextra', '-Werror', '-static',
    '-Wl,--no-insert-timestamp', '-ffile-prefix-map=' + path.dirname(source) + '=.',
    '-o', output, source,
    '-ladvapi32', '-lshell32', '-lole32', '-luuid',
  ]); // prettier-ignore
}

export interface ServiceHost {
  file: string;
  unsignedSha256: string;
  sha256: string;
}

/** `drydock-service.exe`, compiled and signed like the agent (ADR 0023). */
export async function buildServiceHost(opts: { outDir: string; signer: Signer }): Promise<ServiceHost> {
  const unsigned = path.join(opts.outDir, 'drydock-service.unsigned.exe');
  const file = path.join(opts.outDir, 'drydock-service.exe');
  await compileWindowsProgram(SERVICE_HOST_SOURCE, unsigned);
  const unsignedSha256 = await sha256File(unsigned);
  await signAndCheck(opts.signer, unsigned, file, 'Drydock Agent Service');
  rmSync(unsigned);
  return { file, unsignedSha256, sha256: await sha256File(file) };
}
