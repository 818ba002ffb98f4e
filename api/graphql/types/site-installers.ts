import { WorkflowIdConflictPolicy, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { AGENT_VERSION } from '../../../agent/agent';
import { serverSecret } from '../../../infra/config/env';
import {
  Role,
  SiteEnrollmentKeySchema,
  SiteInstallerSchema,
  SiteSchema,
  type SiteInstaller,
} from '../../../infra/db/entities';
import { downloadPath } from '../../../installer/download-links';
import { installerApiUrl } from '../../../installer/site-builds';
import { SiteIdKey, TenantIdKey } from '../../../workflows/search-attributes';
import {
  buildSiteInstallersWorkflowId,
  type BuildSiteInstallersInput,
  type InstallerBuildHeartbeat,
} from '../../../workflows/installers/contracts';
import { builder } from '../builder';
import type { GraphQLContext } from '../context';
import { apiError, ErrorCode } from '../errors';
import { inTenant, requireIdentity } from '../tenant-scope';

const InstallerKindRef = builder.enumType('InstallerKind', {
  values: { EXE: { value: 'exe' }, MSI: { value: 'msi' } } as const,
});

const SiteInstallerRef = builder.objectRef<SiteInstaller>('SiteInstaller').implement({
  description:
    'A signed installer for a site’s current enrollment key: the NSIS bootstrapper (EXE) or the MSI. ' +
    'It carries the site’s enrollment key: treat the file and its link like the key.',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: InstallerKindRef, resolve: (r) => r.kind }),
    fileName: t.exposeString('fileName'),
    fingerprint: t.exposeString('fingerprint', { description: '`vN (XXXX)` of the key it carries.' }),
    agentVersion: t.exposeString('agentVersion'),
    sha256: t.exposeString('sha256'),
    sizeBytes: t.float({ resolve: (r) => Number(r.sizeBytes) }),
    builtAt: t.field({ type: 'DateTime', resolve: (r) => r.builtAt }),
    downloadUrl: t.string({
      description: 'A link that works for 10 minutes (no sign-in needed: an RMM can fetch it).',
      resolve: (r, _args, ctx) => downloadUrl(ctx, r).url,
    }),
    downloadUrlExpiresAt: t.field({
      type: 'DateTime',
      resolve: (r, _args, ctx) => downloadUrl(ctx, r).expiresAt,
    }),
  }),
});

function downloadUrl(ctx: GraphQLContext, row: SiteInstaller): { url: string; expiresAt: Date } {
  const link = downloadPath(serverSecret(ctx.env), row, Date.now());
  return { url: `${installerApiUrl(ctx.env)}${link.path}`, expiresAt: link.expiresAt };
}

interface InstallerBuild {
  workflowId: string;
  fingerprint: string;
  agentVersion: string;
  state: 'RUNNING' | 'COMPLETED' | 'FAILED';
  percent: number;
  stage: string | null;
  error: string | null;
}

const InstallerBuildRef = builder.objectRef<InstallerBuild>('InstallerBuild').implement({
  description: 'A build of a site’s installers (the buildSiteInstallers workflow).',
  fields: (t) => ({
    workflowId: t.exposeString('workflowId'),
    fingerprint: t.exposeString('fingerprint'),
    agentVersion: t.exposeString('agentVersion'),
    state: t.exposeString('state', { description: 'RUNNING, COMPLETED or FAILED.' }),
    percent: t.exposeInt('percent'),
    stage: t.exposeString('stage', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

async function currentKey(ctx: GraphQLContext, siteId: string) {
  return inTenant(ctx, async (em) => {
    const site = await em.findOne(SiteSchema, { id: siteId });
    if (!site) throw apiError(ErrorCode.NotFound, 'site not found');
    const key = await em.findOne(SiteEnrollmentKeySchema, { siteId, active: true });
    if (!key)
      throw apiError(ErrorCode.InstallerKeyNotAvailable, 'the site has no enrollment key: issue one first');
    return key;
  });
}

async function describeBuild(
  ctx: GraphQLContext,
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

builder.queryField('siteInstallers', (t) =>
  t.field({
    type: [SiteInstallerRef],
    description:
      'The current signed EXE and MSI of a site (its active key, this agent version); empty until built ' +
      '(buildSiteInstallers) and again after a key rotation. Operator role.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      requireIdentity(ctx, Role.Operator);
      const key = await currentKey(ctx, String(args.siteId));
      return inTenant(ctx, (em) =>
        em.find(
          SiteInstallerSchema,
          { siteId: String(args.siteId), agentVersion: AGENT_VERSION, keyVersion: key.version },
          { orderBy: { kind: 'asc' } },
        ),
      );
    },
  }),
);

builder.queryField('installerBuild', (t) =>
  t.field({
    type: InstallerBuildRef,
    nullable: true,
    description:
      'Progress of the build of the site’s installers for its current key; null if none was started.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      requireIdentity(ctx, Role.Operator);
      const key = await currentKey(ctx, String(args.siteId));
      return describeBuild(
        ctx,
        buildSiteInstallersWorkflowId(key.siteId, AGENT_VERSION, key.version),
        key.fingerprint,
      );
    },
  }),
);

builder.mutationField('buildSiteInstallers', (t) =>
  t.field({
    type: InstallerBuildRef,
    description:
      'Builds the site’s signed EXE and MSI for its current enrollment key (a Temporal workflow; cached per ' +
      'agent version and key version, so repeating it is cheap). Returns at once: follow installerBuild. Operator role.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const key = await currentKey(ctx, String(args.siteId));
      const workflowId = buildSiteInstallersWorkflowId(key.siteId, AGENT_VERSION, key.version);
      const input: BuildSiteInstallersInput = {
        tenantId: identity.tenantId,
        siteId: key.siteId,
        keyVersion: key.version,
      };
      await ctx.temporal.workflow.start('buildSiteInstallers', {
        taskQueue: ctx.taskQueue,
        workflowId,
        args: [input],
        // A second request while one runs joins it; after a finished or failed one, a new run starts.
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        typedSearchAttributes: [
          { key: TenantIdKey, value: identity.tenantId },
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
    },
  }),
);
