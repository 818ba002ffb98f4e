import { WorkflowIdConflictPolicy, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { AGENT_VERSION } from '../../agent/agent';
import { serverSecret } from '../../infra/config/env';
import {
  Role,
  SiteEnrollmentKeySchema,
  SiteInstallerSchema,
  SiteSchema,
  type SiteInstaller,
} from '../../infra/db/entities';
import { downloadPath } from '../../installer/download-links';
import { installerApiUrl } from '../../installer/site-builds';
import { SiteIdKey, TenantIdKey } from '../../workflows/search-attributes';
import {
  buildSiteInstallersWorkflowId,
  type BuildSiteInstallersInput,
  type InstallerBuildHeartbeat,
} from '../../workflows/installers/contracts';
import { ErrorCode, refuse } from './errors';
import { authorize, inTenant, type ServiceContext } from './service-context';

/** A build of a site's installers (the buildSiteInstallers workflow), as the portal follows it. */
export interface InstallerBuild {
  workflowId: string;
  fingerprint: string;
  agentVersion: string;
  state: 'RUNNING' | 'COMPLETED' | 'FAILED';
  percent: number;
  stage: string | null;
  error: string | null;
}

/** The site's active enrollment key (its installers carry it); refused when there is none. */
async function currentKey(ctx: ServiceContext, siteId: string) {
  return inTenant(ctx, async (em) => {
    const site = await em.findOne(SiteSchema, { id: siteId });
    if (!site) throw refuse(ErrorCode.NotFound, 'site not found');
    const key = await em.findOne(SiteEnrollmentKeySchema, { siteId, active: true });
    if (!key)
      throw refuse(ErrorCode.InstallerKeyNotAvailable, 'the site has no enrollment key: issue one first');
    return key;
  });
}

/** The current signed EXE and MSI of a site (its active key, this agent version). Operator role. */
export async function listSiteInstallers(ctx: ServiceContext, siteId: string): Promise<SiteInstaller[]> {
  authorize(ctx, Role.Operator);
  const key = await currentKey(ctx, siteId);
  return inTenant(ctx, (em) =>
    em.find(
      SiteInstallerSchema,
      { siteId, agentVersion: AGENT_VERSION, keyVersion: key.version },
      { orderBy: { kind: 'asc' } },
    ),
  );
}

/** A link to the installer that works for 10 minutes (no sign-in needed: an RMM can fetch it). */
export function installerDownloadUrl(
  ctx: ServiceContext,
  row: SiteInstaller,
): { url: string; expiresAt: Date } {
  const link = downloadPath(serverSecret(ctx.env), row, Date.now());
  return { url: `${installerApiUrl(ctx.env)}${link.path}`, expiresAt: link.expiresAt };
}

async function describeBuild(
  ctx: ServiceContext,
  workflowId: string,
  fingerprint: string,
): Promise<InstallerBuild | null> {
  const handle = ctx.temporal.workflow.getHandle(workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
  const base = { workflowId, fingerprint, agentVersion: AGENT_VERSION };
  if (description.status.name === 'COMPLETED')
    return { ...base, state: 'COMPLETED', percent: 100, stage: 'done', error: null };
  if (description.status.name !== 'RUNNING') {
    let error = `the build ended ${description.status.name.toLowerCase()}`;
    try {
      await handle.result();
    } catch (err) {
      error = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    }
    return { ...base, state: 'FAILED', percent: 0, stage: null, error };
  }
  const details = description.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
  const beat = details ? defaultPayloadConverter.fromPayload<InstallerBuildHeartbeat>(details) : null;
  return {
    ...base,
    state: 'RUNNING',
    percent: beat?.percent ?? 0,
    stage: beat?.stage ?? 'queued',
    error: null,
  };
}

/** Progress of the build for the site's current key; null if none was started. Operator role. */
export async function installerBuildOf(ctx: ServiceContext, siteId: string): Promise<InstallerBuild | null> {
  authorize(ctx, Role.Operator);
  const key = await currentKey(ctx, siteId);
  return describeBuild(
    ctx,
    buildSiteInstallersWorkflowId(key.siteId, AGENT_VERSION, key.version),
    key.fingerprint,
  );
}

/**
 * Builds the site's signed EXE and MSI for its current key (a workflow, cached per agent version and
 * key version: a second request while one runs joins it). Returns at once. Operator role.
 */
export async function buildSiteInstallers(ctx: ServiceContext, siteId: string): Promise<InstallerBuild> {
  const caller = authorize(ctx, Role.Operator);
  const key = await currentKey(ctx, siteId);
  const workflowId = buildSiteInstallersWorkflowId(key.siteId, AGENT_VERSION, key.version);
  const input: BuildSiteInstallersInput = {
    tenantId: caller.tenantId,
    siteId: key.siteId,
    keyVersion: key.version,
  };
  await ctx.temporal.workflow.start('buildSiteInstallers', {
    taskQueue: ctx.taskQueue,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    typedSearchAttributes: [
      { key: TenantIdKey, value: caller.tenantId },
      { key: SiteIdKey, value: key.siteId },
    ],
    staticSummary: `installers for site ${key.siteId} ${key.fingerprint}`,
    workflowExecutionTimeout: '1 hour',
  });
  const started: InstallerBuild = {
    workflowId,
    fingerprint: key.fingerprint,
    agentVersion: AGENT_VERSION,
    state: 'RUNNING',
    percent: 0,
    stage: 'queued',
    error: null,
  };
  return (await describeBuild(ctx, workflowId, key.fingerprint)) ?? started;
}
