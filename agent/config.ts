import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Written by the site installer (.exe or .msi) to `C:\ProgramData\Drydock\agent.json`, in a folder
 * only SYSTEM and Administrators can read (docs/installers.md).
 */
export interface AgentConfig {
  apiUrl: string;
  siteCode: string;
  /** Present until the first successful enrollment, then removed from the file. */
  enrollmentKey?: string;
  /** `vN (XXXX)` of the enrollment key the installer carried. */
  fingerprint?: string;
  /** Where the agent keeps its journal. Default: `state` beside the config file. */
  stateDir: string;
  /** Sent once at enrollment (lower-case names, short values), e.g. `{ "department": "sales" }`. */
  labels?: Record<string, string>;
}

const labelName = /^[a-z][a-z0-9_]{0,31}$/;

export function readConfig(file: string): AgentConfig {
  let parsed: Partial<AgentConfig>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<AgentConfig>;
  } catch (err) {
    throw new Error(`cannot read agent config ${file}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`agent config ${file}: not a JSON object`);
  for (const field of ['apiUrl', 'siteCode'] as const) {
    if (typeof parsed[field] !== 'string' || !parsed[field])
      throw new Error(`agent config ${file}: ${field} is missing`);
  }
  if (parsed.stateDir !== undefined && (typeof parsed.stateDir !== 'string' || !parsed.stateDir))
    throw new Error(`agent config ${file}: stateDir must be a non-empty string`);
  if (parsed.labels !== undefined) {
    const labels = parsed.labels as unknown;
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
      throw new Error(`agent config ${file}: labels must be an object of strings`);
    for (const [name, value] of Object.entries(labels)) {
      if (!labelName.test(name) || typeof value !== 'string' || value.length > 128)
        throw new Error(`agent config ${file}: label ${JSON.stringify(name)} is not a valid label`);
    }
  }
  checkApiUrl(parsed.apiUrl!);
  return { ...parsed, stateDir: parsed.stateDir ?? path.join(path.dirname(file), 'state') } as AgentConfig;
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
