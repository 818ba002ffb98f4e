import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client as TemporalClient } from '@temporalio/client';
import type { FastifyBaseLogger } from 'fastify';
import { appendAudit } from '../../infra/db/audit';
import { runProgressOf } from './live-query';
import { Role, SiteSchema } from '../../infra/db/entities';
import { uuidPattern, withTenant, type Orm } from '../../infra/db/orm';
import {
  deployAgentsProgressQuery,
  deployAgentsWorkflowId,
  deployAgentWorkflowId,
  hostEnrolledSignal,
  type DeployAgentsInput,
  type DeployAgentsProgress,
} from '../../workflows/deployment/contracts';
import { SiteIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { ErrorCode, refuse } from './errors';
import { checkId } from './input';
import { authorize, inTenant, type ServiceContext } from './service-context';

/**
 * Agent push over WinRM (issue 15, docs/onboarding.md step 6, ADR 0043): an operator starts a
 * window of deployAgent runs over discovered hosts; the enrollment path tells a waiting run that
 * its host's agent has enrolled.
 */

const MAX_HOSTS = 1000;

export interface AgentDeployment extends DeployAgentsProgress {
  workflowId: string;
  running: boolean;
}

/** Starts a window of deployments over the site's hosts (operator role). Audited. */
export async function deployAgents(
  ctx: ServiceContext,
  input: {
    siteId: string;
    hostIds: readonly string[];
    concurrency?: number | null;
    https?: boolean | null;
    port?: number | null;
  },
): Promise<AgentDeployment> {
  const caller = authorize(ctx, Role.Operator);
  const siteId = checkId(input.siteId, 'siteId');
  if (input.hostIds.length < 1 || input.hostIds.length > MAX_HOSTS)
    throw refuse(ErrorCode.BadUserInput, `hostIds: 1–${MAX_HOSTS} hosts`);
  const hostIds = [...new Set(input.hostIds.map((h) => checkId(h, 'hostIds')))];
  const concurrency = input.concurrency ?? 5;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 50)
    throw refuse(ErrorCode.BadUserInput, 'concurrency must be 1–50');
  const port = input.port ?? null;
  if (port !== null && (!Number.isInteger(port) || port < 1 || port > 65535))
    throw refuse(ErrorCode.BadUserInput, 'port must be 1–65535');
  await inTenant(ctx, async (em) => {
    if (!(await em.findOne(SiteSchema, { id: siteId }))) throw refuse(ErrorCode.NotFound, 'site not found');
    const [{ n } = { n: 0 }] = await em.execute<{ n: number }[]>(
      `select count(*)::int as n from discovered_hosts where tenant_id = ? and site_id = ? and id = any(?::uuid[])`,
      [caller.tenantId, siteId, `{${hostIds.join(',')}}`],
    );
    if (n !== hostIds.length)
      throw refuse(ErrorCode.NotFound, "hostIds: not every host is one of the site's discovered hosts");
  });
  const workflowId = deployAgentsWorkflowId(caller.tenantId, siteId, randomUUID());
  const args: DeployAgentsInput = {
    tenantId: caller.tenantId,
    siteId,
    hostIds,
    concurrency,
    settings: {
      ...(input.https ? { https: true } : {}),
      ...(port !== null ? (input.https ? { httpsPort: port } : { httpPort: port }) : {}),
      ...deploymentSettingsFromEnv(ctx.env),
    },
  };
  await ctx.temporal.workflow.start('deployAgents', {
    taskQueue: ctx.taskQueue,
    workflowId,
    args: [args],
    typedSearchAttributes: [
      { key: TenantIdKey, value: caller.tenantId },
      { key: SiteIdKey, value: siteId },
    ],
    staticSummary: `Deploy the agent to ${hostIds.length} host(s) of site ${siteId}, ${concurrency} at a time`,
  });
  await inTenant(ctx, (em) =>
    appendAudit(em, {
      tenantId: caller.tenantId,
      actor: caller.actor,
      action: 'deployment.started',
      subjectType: 'site',
      subjectId: siteId,
      data: { workflowId, hosts: hostIds.length, concurrency },
    }),
  );
  return (
    (await agentDeploymentOf(ctx, workflowId)) ?? {
      workflowId,
      running: true,
      total: hostIds.length,
      inProgress: 0,
      deployed: 0,
      skipped: 0,
      failed: 0,
      hosts: [],
    }
  );
}

/** Timing knobs an installation (or a test) sets in the environment; defaults in the workflow. */
function deploymentSettingsFromEnv(env: ServiceContext['env']) {
  return {
    enrollmentWaitSeconds: env.DEPLOY_ENROLLMENT_WAIT_SECONDS,
    enrollmentCheckSeconds: env.DEPLOY_ENROLLMENT_CHECK_SECONDS,
  };
}

/** A deployment window's progress (viewer role), or null if there is no such window of the caller's tenant. */
export async function agentDeploymentOf(
  ctx: ServiceContext,
  workflowId: string,
): Promise<AgentDeployment | null> {
  const caller = authorize(ctx, Role.Viewer);
  // The id names its tenant and site: another tenant's window is not found.
  const m = /^deploy-agents:([0-9a-f-]{36}):([0-9a-f-]{36}):([0-9a-f-]{36})$/.exec(workflowId);
  if (!m || m[1] !== caller.tenantId) return null;
  const visible = await inTenant(ctx, async (em) => Boolean(await em.findOne(SiteSchema, { id: m[2]! })));
  if (!visible) return null;
  const progress = await runProgressOf(
    ctx,
    ctx.temporal.workflow.getHandle(workflowId),
    deployAgentsProgressQuery,
  );
  return progress && { ...progress, workflowId };
}

/**
 * Tells the deployments waiting for a newly enrolled machine's host that it is here: each host of
 * the machine's site with its name (or its DNS name's first label) and no machine yet. Best effort —
 * a deployment also looks for its machine every minute, so a lost signal delays it, never hangs it.
 */
export async function signalHostEnrolled(
  deps: { orm: Orm; temporal: TemporalClient; log: FastifyBaseLogger },
  input: { tenantId: string; siteId: string; machineId: string; hostname: string },
): Promise<number> {
  if (!uuidPattern.test(input.tenantId) || !input.hostname) return 0;
  try {
    const hosts = await withTenant(deps.orm, input.tenantId, (em) =>
      em.execute<{ id: string }[]>(
        `select id from discovered_hosts
          where tenant_id = ? and site_id = ? and machine_id is null
            and (lower(name) = lower(?) or (dns_name is not null and split_part(dns_name, '.', 1) = lower(?)))`,
        [input.tenantId, input.siteId, input.hostname, input.hostname],
      ),
    );
    let signalled = 0;
    for (const host of hosts) {
      await deps.temporal.workflow
        .getHandle(deployAgentWorkflowId(input.tenantId, host.id))
        .signal(hostEnrolledSignal, { machineId: input.machineId })
        .then(
          () => void (signalled += 1),
          (err: unknown) => {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          },
        );
    }
    return signalled;
  } catch (err) {
    deps.log.warn(
      { err: (err as Error).message, machineId: input.machineId },
      'could not signal a waiting deployment',
    );
    return 0;
  }
}
