import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Env } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';
import { activeSiteKey, buildSiteInstallers, cachedInstallers } from '../../installer/site-builds';
import { AGENT_VERSION } from '../../agent/agent';
import { InstallerError, InstallerErrorCode } from '../../installer/tools';
import type {
  BuildSiteInstallersInput,
  BuildSiteInstallersResult,
  InstallerBuildHeartbeat,
} from '../../workflows/installers/contracts';

export function createInstallerActivities(deps: { orm: Orm; env: Env }) {
  return {
    /**
     * The site's installers for its current key: from the cache, or built, signed and recorded.
     * The enrollment key is opened inside installer/site-builds.ts and never leaves this process.
     */
    async buildSiteInstallerFiles(input: BuildSiteInstallersInput): Promise<BuildSiteInstallersResult> {
      try {
        const state = await activeSiteKey(deps.orm, input.tenantId, input.siteId);
        if (state.keyVersion !== input.keyVersion) {
          throw new InstallerError(
            InstallerErrorCode.KeyNotAvailable,
            `the site's key is now ${state.fingerprint}: this build was for v${input.keyVersion}`,
          );
        }
        const summary = (rows: { kind: string; fileName: string; sha256: string; sizeBytes: number }[]) =>
          rows.map((r) => ({
            kind: r.kind as 'exe' | 'msi',
            fileName: r.fileName,
            sha256: r.sha256,
            sizeBytes: Number(r.sizeBytes),
          }));
        const cached = await cachedInstallers(deps.orm, input.tenantId, state);
        if (cached) {
          return {
            cached: true,
            agentVersion: AGENT_VERSION,
            fingerprint: state.fingerprint,
            installers: summary(cached),
          };
        }
        const ctx = Context.current();
        const { rows } = await buildSiteInstallers({
          orm: deps.orm,
          env: deps.env,
          tenantId: input.tenantId,
          siteId: input.siteId,
          keyVersion: input.keyVersion,
          log: (line) => ctx.log.info(line),
          progress: (percent, stage) => ctx.heartbeat({ percent, stage } satisfies InstallerBuildHeartbeat),
        });
        return {
          cached: false,
          agentVersion: AGENT_VERSION,
          fingerprint: state.fingerprint,
          installers: summary(rows),
        };
      } catch (err) {
        if (err instanceof InstallerError && err.code !== InstallerErrorCode.ToolFailed) {
          throw ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true });
        }
        throw err;
      }
    },
  };
}

export type InstallerActivities = ReturnType<typeof createInstallerActivities>;
