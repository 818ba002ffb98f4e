import {
  ScheduleNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { appendAudit } from '../../infra/db/audit';
import { runProgressOf } from './live-query';
import {
  currentDomainCredential,
  setMachineRole,
  storeCandidateCredential,
  storeDomainCredential,
} from '../../infra/db/domain-credentials';
import { MachineSchema, MachineStatus, Role, SiteSchema } from '../../infra/db/entities';
import { keyringFromEnv } from '../../infra/secrets/server-secrets';
import {
  discoverSiteWorkflowId,
  discoveryProgressQuery,
  enterCredentialUpdate,
  enumerationScheduleId,
  type DiscoverSiteInput,
  type DiscoveryProgress,
} from '../../workflows/directory/contracts';
import { SiteIdKey, TenantIdKey } from '../../workflows/search-attributes';
import {
  addManualHost as insertManualHost,
  listDiscoveredHosts,
  ManualHostExists,
  type DiscoveredHost,
} from '../../infra/db/discovered-hosts';
import { audited } from './audit';
import { ErrorCode, refuse } from './errors';
import { checkId } from './input';
import { authorize, inTenant, type ServiceContext } from './service-context';

/**
 * A site's directory (issue 15, ADR 0029): the hosts its gateway found in Active Directory and
 * those an operator added by hand; enumerations reach `discovered_hosts` through the agent channel.
 */

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$/;

/** The site's discovered hosts (current first, then those gone from AD). Viewer role, client scope. */
export async function discoveredHostsOf(ctx: ServiceContext, siteId: string): Promise<DiscoveredHost[]> {
  authorize(ctx, Role.Viewer);
  const id = checkId(siteId, 'siteId');
  return inTenant(ctx, async (em, caller) => {
    if (!(await em.findOne(SiteSchema, { id }))) throw refuse(ErrorCode.NotFound, 'site not found');
    return listDiscoveredHosts(em, caller.tenantId, id);
  });
}

/** Adds a host by hand (operator role): enumerations fill it in, never overwrite it. Audited. */
export async function addManualHost(
  ctx: ServiceContext,
  input: { siteId: string; name: string; dnsName?: string | null; os?: string | null },
): Promise<DiscoveredHost> {
  authorize(ctx, Role.Operator);
  const siteId = checkId(input.siteId, 'siteId');
  const name = input.name.trim();
  if (name.length < 1 || name.length > 255 || /[\u0000-\u001f\u007f]/.test(name))
    throw refuse(ErrorCode.BadUserInput, 'name must be 1–255 printable characters');
  const dnsName = input.dnsName?.trim().toLowerCase().replace(/\.$/, '') || null;
  if (dnsName !== null && (dnsName.length > 253 || !DNS_NAME.test(dnsName)))
    throw refuse(ErrorCode.BadUserInput, 'dnsName must be a DNS host name (letters, digits, dashes, dots)');
  const os = input.os?.trim() || null;
  if (os !== null && (os.length > 255 || /[\u0000-\u001f\u007f]/.test(os)))
    throw refuse(ErrorCode.BadUserInput, 'os must be at most 255 printable characters');
  try {
    return await audited(
      ctx,
      async (em, caller) => {
        if (!(await em.findOne(SiteSchema, { id: siteId })))
          throw refuse(ErrorCode.NotFound, 'site not found');
        return insertManualHost(em, {
          tenantId: caller.tenantId,
          siteId,
          name,
          dnsName,
          os,
          actor: caller.actor,
        });
      },
      (host) => ({
        action: 'discovered-host.added',
        subjectType: 'site',
        subjectId: siteId,
        data: { hostId: host.id, name, dnsName },
      }),
    );
  } catch (err) {
    if (err instanceof ManualHostExists) throw refuse(ErrorCode.HostExists, err.message);
    throw err;
  }
}

/**
 * A site's discovery and its credential (issue 15, docs/onboarding.md): the gateway role, the
 * discoverSite workflow, the one domain credential (sealed here, tested by the workflow through the
 * gateway before it is accepted), and re-enumeration on demand.
 */

/** Gives an enrolled, active machine the gateway role (engineer role), or takes it back. Audited. */
export async function setMachineRoleOf(
  ctx: ServiceContext,
  input: { machineId: string; role: 'endpoint' | 'gateway' },
): Promise<{ id: string; role: string }> {
  authorize(ctx, Role.Engineer);
  const machineId = checkId(input.machineId, 'machineId');
  return audited(
    ctx,
    async (em, caller) => {
      const machine = await em.findOne(MachineSchema, { id: machineId });
      if (!machine) throw refuse(ErrorCode.NotFound, 'machine not found');
      if (input.role === 'gateway' && machine.status !== MachineStatus.Active)
        throw refuse(
          ErrorCode.BadUserInput,
          `the machine is ${machine.status}: approve it before it can be the site's gateway`,
        );
      await setMachineRole(em, caller.tenantId, machineId, input.role);
      return { id: machineId, role: input.role, siteId: machine.siteId };
    },
    (m) => ({
      action: 'machine.role-set',
      subjectType: 'machine',
      subjectId: m.id,
      data: { role: m.role, siteId: m.siteId },
    }),
  );
}

async function siteOf(ctx: ServiceContext, siteId: string): Promise<{ tenantId: string; siteId: string }> {
  const id = checkId(siteId, 'siteId');
  return inTenant(ctx, async (em, caller) => {
    if (!(await em.findOne(SiteSchema, { id }))) throw refuse(ErrorCode.NotFound, 'site not found');
    return { tenantId: caller.tenantId, siteId: id };
  });
}

const checkList = (values: readonly string[] | null | undefined, what: string, pattern: RegExp) => {
  if (!values) return undefined;
  if (values.length > 16) throw refuse(ErrorCode.BadUserInput, `${what}: at most 16`);
  const bad = values.find((v) => !pattern.test(v));
  if (bad !== undefined) throw refuse(ErrorCode.BadUserInput, `${what}: ${JSON.stringify(bad)} is not valid`);
  return [...values];
};

/** Starts the site's discovery (engineer role): refused while one runs. */
export async function startSiteDiscovery(
  ctx: ServiceContext,
  input: { siteId: string; resolvers?: readonly string[] | null; searchSuffixes?: readonly string[] | null },
): Promise<SiteDiscovery> {
  authorize(ctx, Role.Engineer);
  const site = await siteOf(ctx, input.siteId);
  const resolvers = checkList(input.resolvers, 'resolvers', /^[0-9a-fA-F.:]{2,45}$/);
  const searchSuffixes = checkList(input.searchSuffixes, 'searchSuffixes', DNS_NAME);
  const args: DiscoverSiteInput = {
    ...site,
    ...(resolvers ? { resolvers } : {}),
    ...(searchSuffixes ? { searchSuffixes } : {}),
    reminderSeconds: ctx.env.DIRECTORY_REMINDER_HOURS * 3600,
    enumerationIntervalSeconds: ctx.env.DIRECTORY_ENUMERATION_HOURS * 3600,
  };
  const workflowId = discoverSiteWorkflowId(site.tenantId, site.siteId);
  try {
    await ctx.temporal.workflow.start('discoverSite', {
      taskQueue: ctx.taskQueue,
      workflowId,
      args: [args],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: TenantIdKey, value: site.tenantId },
        { key: SiteIdKey, value: site.siteId },
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw refuse(ErrorCode.RunInProgress, 'a discovery of this site is running', { workflowId });
    throw err;
  }
  await inTenant(ctx, (em, caller) =>
    appendAudit(em, {
      tenantId: caller.tenantId,
      actor: caller.actor,
      action: 'directory.discovery-started',
      subjectType: 'site',
      subjectId: site.siteId,
      data: { workflowId },
    }),
  );
  return (await siteDiscoveryOf(ctx, site.siteId))!;
}

export interface SiteDiscovery extends DiscoveryProgress {
  workflowId: string;
  running: boolean;
}

/** The site's latest discovery as its workflow reports it (viewer role), or null if none was started. */
export async function siteDiscoveryOf(ctx: ServiceContext, siteId: string): Promise<SiteDiscovery | null> {
  authorize(ctx, Role.Viewer);
  const site = await siteOf(ctx, siteId);
  const workflowId = discoverSiteWorkflowId(site.tenantId, site.siteId);
  const progress = await runProgressOf(
    ctx,
    ctx.temporal.workflow.getHandle(workflowId),
    discoveryProgressQuery,
  );
  return progress && { ...progress, workflowId };
}

/**
 * The site's one domain credential (engineer role): sealed with the server's key as a candidate,
 * then tested by a bind through the site's gateway by its discovery; accepted only if the bind
 * succeeds, else refused (CREDENTIAL_REFUSED) with the domain controller's reason. The password is
 * in no workflow history, log, error or audit event.
 */
export async function setDomainCredential(
  ctx: ServiceContext,
  input: {
    siteId: string;
    user: string;
    password: string;
    security?: 'ldaps' | 'starttls' | null;
    caPem?: string | null;
    pinSha256?: string | null;
  },
): Promise<{ version: number | null; domain: string; user: string }> {
  const caller = authorize(ctx, Role.Engineer);
  const site = await siteOf(ctx, input.siteId);
  const user = input.user.trim();
  if (user.length < 1 || user.length > 256 || /[\u0000-\u001f\u007f]/.test(user))
    throw refuse(ErrorCode.BadUserInput, 'user must be 1–256 printable characters');
  if (input.password.length < 1 || input.password.length > 256)
    throw refuse(ErrorCode.BadUserInput, 'password must be 1–256 characters');
  const caPem = input.caPem?.trim() || undefined;
  if (caPem && (caPem.length > 20_000 || !caPem.includes('-----BEGIN CERTIFICATE-----')))
    throw refuse(ErrorCode.BadUserInput, 'caPem must be a PEM certificate');
  const pinSha256 = input.pinSha256?.replace(/:/g, '').toLowerCase() || undefined;
  if (pinSha256 && !/^[0-9a-f]{64}$/.test(pinSha256))
    throw refuse(ErrorCode.BadUserInput, 'pinSha256 must be a SHA-256 in hex');
  const discovery = await siteDiscoveryOf(ctx, site.siteId);
  if (!discovery?.running || discovery.state !== 'awaiting-credential' || !discovery.domain)
    throw refuse(
      ErrorCode.RunNotRunning,
      discovery?.running
        ? `the site's discovery is ${discovery.state}: it takes a credential once the domain is found`
        : 'no discovery of this site is waiting for a credential: start one (startSiteDiscovery)',
    );
  const candidate = await inTenant(ctx, (em) =>
    storeCandidateCredential(em, keyringFromEnv(ctx.env), {
      tenantId: site.tenantId,
      siteId: site.siteId,
      domain: discovery.domain!.domain,
      user,
      password: input.password,
      actor: caller.actor,
    }),
  );
  const verdict = await ctx.temporal.workflow
    .getHandle(discovery.workflowId)
    .executeUpdate(enterCredentialUpdate, {
      args: [
        {
          credentialId: candidate.id,
          connection: {
            security: input.security ?? 'ldaps',
            ...(caPem ? { caPem } : {}),
            ...(pinSha256 ? { pinSha256 } : {}),
          },
        },
      ],
    })
    .catch((err: unknown) => {
      // The validator refused (another credential is being tested, or the discovery moved on).
      if (err instanceof WorkflowUpdateFailedError)
        throw refuse(ErrorCode.RunNotRunning, (err.cause as Error | undefined)?.message ?? err.message);
      throw err;
    });
  if (!verdict.accepted)
    throw refuse(ErrorCode.CredentialRefused, `the credential was not accepted: ${verdict.reason}`);
  return { version: verdict.version, domain: candidate.domain, user };
}

/**
 * Stores the site's join credential (engineer role; ADR 0048): the account the site's machines join
 * the domain with in the join phase, sealed like the directory credential and replacing the site's
 * previous join credential. Not tested by a bind: Add-Computer's answer in the join step is the
 * test. Audited without the password.
 */
export async function setJoinCredential(
  ctx: ServiceContext,
  input: { siteId: string; domain: string; user: string; password: string },
): Promise<{ version: number | null; domain: string; user: string }> {
  const caller = authorize(ctx, Role.Engineer);
  const site = await siteOf(ctx, input.siteId);
  const domain = input.domain.trim().toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+$/.test(domain))
    throw refuse(ErrorCode.BadUserInput, 'domain must be the domain’s DNS name (contoso.com)');
  const user = input.user.trim();
  if (user.length < 1 || user.length > 256 || /[\u0000-\u001f\u007f]/.test(user))
    throw refuse(ErrorCode.BadUserInput, 'user must be 1–256 printable characters');
  if (input.password.length < 1 || input.password.length > 256)
    throw refuse(ErrorCode.BadUserInput, 'password must be 1–256 characters');
  const stored = await inTenant(ctx, (em) =>
    storeDomainCredential(em, keyringFromEnv(ctx.env), {
      tenantId: site.tenantId,
      siteId: site.siteId,
      domain,
      user,
      password: input.password,
      actor: caller.actor,
      purpose: 'join',
    }),
  );
  return { version: stored.version, domain: stored.domain, user: stored.user };
}

/** The site's current join credential — its domain, account and version, never the password — or null (viewer role). */
export async function joinCredentialOf(
  ctx: ServiceContext,
  siteId: string,
): Promise<{ version: number | null; domain: string; user: string } | null> {
  authorize(ctx, Role.Viewer);
  const site = await siteOf(ctx, siteId);
  const current = await inTenant(ctx, (em) =>
    currentDomainCredential(em, site.tenantId, site.siteId, 'join'),
  );
  return current && { version: current.version, domain: current.domain, user: current.user };
}

/** Runs the site's enumeration now (operator role), through its schedule: refused before discovery set one. */
export async function enumerateDirectoryNow(ctx: ServiceContext, siteId: string): Promise<boolean> {
  authorize(ctx, Role.Operator);
  const site = await siteOf(ctx, siteId);
  try {
    await ctx.temporal.schedule.getHandle(enumerationScheduleId(site.tenantId, site.siteId)).trigger();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw refuse(
        ErrorCode.NotFound,
        'the site has no enumeration schedule yet: its discovery sets one once a credential is accepted',
      );
    throw err;
  }
  await inTenant(ctx, (em, caller) =>
    appendAudit(em, {
      tenantId: caller.tenantId,
      actor: caller.actor,
      action: 'directory.enumeration-requested',
      subjectType: 'site',
      subjectId: site.siteId,
      data: {},
    }),
  );
  return true;
}
