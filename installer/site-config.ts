import { checkApiUrl } from '../agent/config';
import { parseKey } from '../infra/security/keys';
import { InstallerError, InstallerErrorCode } from './tools';

/** What a per-site installer carries and writes to the endpoint (agent/config.ts reads it). */
export interface SiteInstallerConfig {
  apiUrl: string;
  siteCode: string;
  enrollmentKey: string;
  /** `vN (XXXX)`. */
  fingerprint: string;
  keyVersion: number;
  labels?: Record<string, string>;
}

/** A per-site installer, or a generic one that takes `--site-code`/`--enroll-key` at install time. */
export type InstallerTarget =
  { kind: 'site'; site: SiteInstallerConfig } | { kind: 'generic'; apiUrl: string };

// The same character sets the service host's `configure` accepts: nothing here needs escaping in
// JSON, in an NSIS string or in WiX XML.
const API_URL = /^https?:\/\/[A-Za-z0-9.\-_[\]:]+(\/[A-Za-z0-9._~/-]*)?$/;
const SITE_CODE = /^[A-Z0-9-]{3,32}$/;
const FINGERPRINT = /^v([0-9]{1,6}) \(([0-9A-F]{4})\)$/;
const LABEL_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const LABEL_VALUE = /^[A-Za-z0-9 ._:/-]{0,128}$/;

export function validateTarget(target: InstallerTarget): void {
  const bad = (what: string) => new InstallerError(InstallerErrorCode.BadSiteConfig, what);
  const apiUrl = target.kind === 'site' ? target.site.apiUrl : target.apiUrl;
  if (!API_URL.test(apiUrl) || apiUrl.length > 300)
    throw bad(`API URL ${JSON.stringify(apiUrl)} is not an http(s) URL`);
  // The agent refuses plain http except to its own loopback address: refuse such an installer now.
  try {
    checkApiUrl(apiUrl);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (target.kind === 'generic') return;
  const site = target.site;
  if (!SITE_CODE.test(site.siteCode))
    throw bad('site code must be 3–32 upper-case letters, digits or dashes');
  if (!parseKey(site.enrollmentKey, 'dek')) throw bad('the enrollment key is not a site enrollment key');
  const fp = FINGERPRINT.exec(site.fingerprint);
  if (!fp || Number(fp[1]) !== site.keyVersion)
    throw bad('the fingerprint must be `vN (XXXX)` for the key version');
  for (const [name, value] of Object.entries(site.labels ?? {})) {
    if (!LABEL_NAME.test(name) || !LABEL_VALUE.test(value))
      throw bad(`label ${JSON.stringify(name)} is not valid`);
  }
}

/** The agent config a per-site installer lays down: exactly what agent/config.ts reads. */
export function agentConfigJson(site: SiteInstallerConfig): string {
  const config: Record<string, unknown> = {
    apiUrl: site.apiUrl,
    siteCode: site.siteCode,
    enrollmentKey: site.enrollmentKey,
    fingerprint: site.fingerprint,
  };
  if (site.labels && Object.keys(site.labels).length) config.labels = site.labels;
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** `Drydock-BRANCH-2-v3-7F2A` for a site, `Drydock-generic-0.1.0` otherwise (no extension). */
export function installerBaseName(target: InstallerTarget, agentVersion: string): string {
  if (target.kind === 'generic') return `Drydock-generic-${agentVersion}`;
  const fp = FINGERPRINT.exec(target.site.fingerprint)!;
  return `Drydock-${target.site.siteCode}-v${fp[1]}-${fp[2]}`;
}
