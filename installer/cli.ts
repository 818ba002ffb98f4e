import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Env } from '../infra/config/env';
import { createOrm } from '../infra/db/orm';
import { SiteSchema } from '../infra/db/entities';
import { withTenant, uuidPattern } from '../infra/db/orm';
import { demoTenantId } from '../infra/db/seed-demo';
import { resolvePostgres } from '../infra/postgres/resolve';
import { buildInstallers, type BuiltInstallers } from './build-installers';
import {
  activeSiteKey,
  buildEpoch,
  buildSiteInstallers,
  installerApiUrl,
  installerPaths,
  signerFromEnv,
} from './site-builds';
import { InstallerError, InstallerErrorCode } from './tools';

export interface InstallerCliOptions {
  site?: string;
  tenant?: string;
  generic?: boolean;
  apiUrl?: string;
  out?: string;
}

/**
 * `drydock installer`: a site's signed EXE and MSI for its current key (recorded and cached like a
 * build from the API), or generic ones that take `--site-code`/`--enroll-key` at install time.
 */
export async function runInstallerCli(env: Env, opts: InstallerCliOptions): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (Boolean(opts.site) === Boolean(opts.generic))
    throw new InstallerError(InstallerErrorCode.BadSiteConfig, 'give --site CODE or --generic (one of them)');
  let built: BuiltInstallers;
  if (opts.generic) {
    built = await buildInstallers({
      target: { kind: 'generic', apiUrl: opts.apiUrl ?? installerApiUrl(env) },
      cacheDir: installerPaths(env).cacheDir,
      outDir: path.resolve(opts.out ?? '.'),
      signer: await signerFromEnv(env),
      epoch: buildEpoch(env),
      log,
    });
  } else {
    const tenantId = opts.tenant ?? demoTenantId(env.DRYDOCK_DEMO_TENANT);
    if (!uuidPattern.test(tenantId))
      throw new InstallerError(InstallerErrorCode.BadSiteConfig, '--tenant must be a tenant id');
    const pg = await resolvePostgres(env);
    const orm = await createOrm(pg.adminUrl);
    try {
      const code = opts.site!.trim().toUpperCase();
      const site = await withTenant(orm, tenantId, (em) => em.findOne(SiteSchema, { code }));
      if (!site)
        throw new InstallerError(InstallerErrorCode.BadSiteConfig, `no site ${code} in tenant ${tenantId}`);
      const key = await activeSiteKey(orm, tenantId, site.id);
      ({ built } = await buildSiteInstallers({
        orm,
        env,
        tenantId,
        siteId: site.id,
        keyVersion: key.keyVersion,
        log,
      }));
    } finally {
      await orm.close();
      await pg.stop();
    }
    if (opts.out) {
      const out = path.resolve(opts.out);
      mkdirSync(out, { recursive: true });
      for (const file of [built.exe, built.msi]) copyFileSync(file.file, path.join(out, file.fileName));
      built.exe.file = path.join(out, built.exe.fileName);
      built.msi.file = path.join(out, built.msi.fileName);
    }
  }
  const signer = await signerFromEnv(env);
  for (const file of [built.exe, built.msi]) process.stdout.write(`${file.file}  sha256 ${file.sha256}\n`);
  process.stdout.write(
    `agent ${built.agent.agentVersion} (Node ${built.agent.nodeVersion}): unsigned sha256 ${built.agent.unsignedSha256}, ` +
      `signed ${built.agent.sha256}\n`,
  );
  if (signer.origin === 'test-ca') {
    process.stdout.write(
      'signed by the DEVELOPMENT test CA: for labs only (docs/installers.md, "Signing")\n',
    );
  }
  return 0;
}
