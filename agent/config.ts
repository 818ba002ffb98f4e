import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Written beside the agent by the site installer (.exe or .msi). */
export interface AgentConfig {
  apiUrl: string;
  siteCode: string;
  /** Present until the first successful enrollment, then removed from the file. */
  enrollmentKey?: string;
  /** `vN (XXXX)` of the enrollment key the installer carried. */
  fingerprint?: string;
  /** Where the agent keeps its journal (Windows: C:\ProgramData\Drydock). */
  stateDir: string;
}

export function readConfig(file: string): AgentConfig {
  let parsed: Partial<AgentConfig>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<AgentConfig>;
  } catch (err) {
    throw new Error(`cannot read agent config ${file}: ${(err as Error).message}`);
  }
  for (const field of ['apiUrl', 'siteCode', 'stateDir'] as const) {
    if (typeof parsed[field] !== 'string' || !parsed[field])
      throw new Error(`agent config ${file}: ${field} is missing`);
  }
  checkApiUrl(parsed.apiUrl!);
  return parsed as AgentConfig;
}

const loopbackHosts = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * The agent sends its keys and results to this URL: it must be https, except to this machine's own
 * loopback address (development, the harness, tests). Throws a one-line reason otherwise.
 */
export function checkApiUrl(apiUrl: string): URL {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new Error(`agent config: apiUrl ${JSON.stringify(apiUrl)} is not a URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && loopbackHosts.test(url.hostname)) return url;
  throw new Error(
    `agent config: apiUrl ${url.origin} must use https (plain http only to a loopback address): the agent key and every result travel over it`,
  );
}

/** Atomic rewrite (temp file + rename), so a crash never leaves half a config. */
export function writeConfig(file: string, config: AgentConfig): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
