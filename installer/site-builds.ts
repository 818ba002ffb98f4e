import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { AGENT_VERSION } from '../agent/agent';
import { serverSecret, type Env } from '../infra/config/env';
import {
  SiteEnrollmentKeySchema,
  SiteInstallerSchema,
  SiteSchema,
  type SiteInstaller,
} from '../infra/db/entities';
import { withTenant, type Orm } from '../infra/db/orm';
import { openEnrollmentKey } from '../infra/security/sealed-keys';
import { buildInstallers, type BuiltInstallers } from './build-installers';
import type { InstallerTarget } from './site-config';
import { resolveSigner, type Signer } from './signing';
import { DEFAULT_SOURCE_DATE_EPOCH, InstallerError, InstallerErrorCode } from './tools';

/** Where builds keep their downloads and caches, and where the development test CA lives. */
export function installerPaths(env: Env) {
  return {
    cacheDir: path.join(env.DRYDOCK_DATA_DIR, 'installer-cache'),
    storeDir: path.join(env.DRYDOCK_DATA_DIR, 'installers'),
    testCaDir: path.join(env.DRYDOCK_DATA_DIR, 'signing', 'test-ca'),
  };
}

export function buildEpoch(env: Env): number {
  return env.SOURCE_DATE_EPOCH ?? DEFAULT_SOURCE_DATE_EPOCH;
}

/** The signer the environment configures (docs/installers.md), or the test CA outside production. */
export function signerFromEnv(env: Env): Promise<Signer> {
  return resolveSigner({
    env: env.DRYDOCK_ENV,
    pfx: env.SIGNING_PFX,
    cert: env.SIGNING_CERT,
    key: env.SIGNING_KEY,
    passwordFile: env.SIGNING_PASSWORD_FILE,
    timestampUrls: env.SIGNING_TIMESTAMP_URL,
    testCaDir: installerPaths(env).testCaDir,
    signingTime: buildEpoch(env),
  });
}

/** The API address written into installers. */
export function installerApiUrl(env: Env): string {
  return env.INSTALLER_API_URL ?? `http://${env.API_HOST}:${env.API_PORT}`;
}

export interface SiteKeyState {
  siteId: string;
  siteCode: string;
  keyVersion: number;
  fingerprint: string;
}

/** The site's active key version and fingerprint; throws KEY_NOT_AVAILABLE when there is none. */
export async function activeSiteKey(orm: Orm, tenantId: string, siteId: string): Promise<SiteKeyState> {
  return withTenant(orm, tenantId, async (em) => {
    const site = await em.findOne(SiteSchema, { id: siteId });
    if (!site) throw new InstallerError(InstallerErrorCode.BadSiteConfig, 'site not found');
    const key = await em.findOne(SiteEnrollmentKeySchema, { siteId, active: true });
    if (!key) {
      throw new InstallerError(
        InstallerErrorCode.KeyNotAvailable,
        `site ${site.code} has no enrollment key: issue one (rotateEnrollmentKey) first`,
      );
    }
    return { siteId, siteCode: site.code, keyVersion: key.version, fingerprint: key.fingerprint };
  });
}

/** The cached installers of the site's current key and this agent version, if all files are there. */
export async function cachedInstallers(
  orm: Orm,
  tenantId: string,
  state: SiteKeyState,
): Promise<SiteInstaller[] | null> {
  const rows = await withTenant(orm, tenantId, (em) =>
    em.find(
      SiteInstallerSchema,
      { siteId: state.siteId, agentVersion: AGENT_VERSION, keyVersion: state.keyVersion },
      { orderBy: { kind: 'asc' } },
    ),
  );
  return rows.length === 2 && rows.every((r) => existsSync(r.storagePath)) ? rows : null;
}

/**
 * Builds the site's EXE and MSI for its active key and records them. The key is opened here, in
 * the process that builds, and goes nowhere else: not into a workflow's input, result, heartbeat
 * or log. Older builds of the site are removed from disk.
 */
export async function buildSiteInstallers(opts: {
  orm: Orm;
  env: Env;
  tenantId: string;
  siteId: string;
  /** The version the caller planned for: a rotation since then stops the build. */
  keyVersion: number;
  log?: (line: string) => void;
  progress?: (percent: number, stage: string) => void;
}): Promise<{ rows: SiteInstaller[]; built: BuiltInstallers }> {
  const { orm, env, tenantId, siteId } = opts;
  const secret = serverSecret(env);
  const target = await withTenant(orm, tenantId, async (em): Promise<InstallerTarget> => {
    const site = await em.findOne(SiteSchema, { id: siteId });
    const key = await em.findOne(SiteEnrollmentKeySchema, { siteId, active: true });
    if (!site || !key || key.version !== opts.keyVersion) {
      throw new InstallerError(
        InstallerErrorCode.KeyNotAvailable,
        'the site’s enrollment key changed while the build was queued; build again',
      );
    }
    if (!key.keySealed) {
      throw new InstallerError(
        InstallerErrorCode.KeyNotAvailable,
        `the server holds no copy of ${key.fingerprint} (issued before installers existed): rotate the key, then build`,
      );
    }
    const enrollmentKey = openEnrollmentKey(
      secret,
      { tenantId, siteId, version: key.version },
      key.keySealed,
    );
    return {
      kind: 'site',
      site: {
        apiUrl: installerApiUrl(env),
        siteCode: site.code,
        enrollmentKey,
        fingerprint: key.fingerprint,
        keyVersion: key.version,
      },
    };
  });
  const paths = installerPaths(env);
  const siteDir = path.join(paths.storeDir, tenantId, siteId);
  const outDir = path.join(siteDir, `${AGENT_VERSION}-v${opts.keyVersion}-${randomUUID().slice(0, 8)}`);
  mkdirSync(siteDir, { recursive: true, mode: 0o700 });
  chmodSync(path.join(paths.storeDir), 0o700);
  const built = await buildInstallers({
    target,
    cacheDir: paths.cacheDir,
    outDir,
    signer: await signerFromEnv(env),
    epoch: buildEpoch(env),
    log: opts.log,
    progress: opts.progress,
  });
  for (const file of [built.exe.file, built.msi.file]) chmodSync(file, 0o600);
  const rows = await withTenant(orm, tenantId, async (em) => {
    const key = await em.findOne(SiteEnrollmentKeySchema, { siteId, active: true });
    if (!key || key.version !== opts.keyVersion) {
      throw new InstallerError(
        InstallerErrorCode.KeyNotAvailable,
        'the site’s enrollment key was rotated during the build',
      );
    }
    await em.nativeDelete(SiteInstallerSchema, {
      siteId,
      agentVersion: AGENT_VERSION,
      keyVersion: opts.keyVersion,
    });
    const made = (['exe', 'msi'] as const).map((kind) =>
      em.create(SiteInstallerSchema, {
        id: randomUUID(),
        tenantId,
        siteId,
        agentVersion: AGENT_VERSION,
        keyVersion: opts.keyVersion,
        fingerprint: key.fingerprint,
        kind,
        fileName: built[kind].fileName,
        sha256: built[kind].sha256,
        sizeBytes: built[kind].sizeBytes,
        storagePath: built[kind].file,
        builtAt: new Date(),
      }),
    );
    await em.flush();
    return made;
  });
  // Earlier builds of this site (older keys or agents, or a lost race) are unreachable now.
  for (const name of readdirSync(siteDir)) {
    if (path.join(siteDir, name) !== outDir)
      rmSync(path.join(siteDir, name), { recursive: true, force: true });
  }
  return { rows, built };
}
