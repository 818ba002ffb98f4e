import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  ClientSchema,
  Role,
  SiteEnrollmentKeySchema,
  SiteSchema,
  TenantSchema,
  type Client,
  type Site,
  type Tenant,
} from '../../infra/db/entities';
import { TenantIdKey } from '../../workflows/search-attributes';
import {
  createSiteWorkflowId,
  type CreateSiteInput,
  type CreateSiteResult,
} from '../../workflows/sites/contracts';
import { audited } from './audit';
import { checkId } from './input';
import { ErrorCode, refuse, ServiceError } from './errors';
import { failureText, isKnownFailure } from './failures';
import { authorize, inTenant, type ServiceContext } from './service-context';

/** Clients and sites: the tenant's companies and their locations. */

export async function callerTenant(ctx: ServiceContext): Promise<Tenant> {
  return inTenant(ctx, async (em, caller) => {
    const tenant = await em.findOne(TenantSchema, { id: caller.tenantId });
    if (!tenant) throw refuse(ErrorCode.NotFound, 'tenant not found');
    return tenant;
  });
}

export async function listClients(ctx: ServiceContext): Promise<Client[]> {
  return inTenant(ctx, (em) => em.find(ClientSchema, {}, { orderBy: { name: 'asc' } }));
}

/** Adds a client (admin role). */
export async function createClient(ctx: ServiceContext, input: { name: string }): Promise<Client> {
  authorize(ctx, Role.Admin);
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200)
    throw refuse(ErrorCode.BadUserInput, 'client name must be 1–200 characters');
  return audited(
    ctx,
    async (em, caller) =>
      em.create(ClientSchema, { id: randomUUID(), tenantId: caller.tenantId, name, createdAt: new Date() }),
    (client) => ({ action: 'client.created', subjectType: 'client', subjectId: client.id, data: { name } }),
  );
}

export async function listSites(ctx: ServiceContext): Promise<Site[]> {
  return inTenant(ctx, (em) => em.find(SiteSchema, {}, { orderBy: { code: 'asc' } }));
}

export async function getSite(ctx: ServiceContext, input: { id: string }): Promise<Site | null> {
  return inTenant(ctx, (em) => em.findOne(SiteSchema, { id: input.id }));
}

/** The sites of many clients, in one transaction (for lists under lists). */
export async function sitesOfClients(ctx: ServiceContext, clientIds: readonly string[]): Promise<Site[]> {
  return inTenant(ctx, (em) =>
    em.find(SiteSchema, { clientId: { $in: [...clientIds] } }, { orderBy: { code: 'asc' } }),
  );
}

/** The current enrollment key's fingerprint (`vN (XXXX)`) of many sites; none until one is issued. */
export async function enrollmentFingerprints(
  ctx: ServiceContext,
  siteIds: readonly string[],
): Promise<Map<string, string>> {
  const rows = await inTenant(ctx, (em) =>
    em.find(SiteEnrollmentKeySchema, { siteId: { $in: [...siteIds] }, active: true }),
  );
  return new Map(rows.map((k) => [k.siteId, k.fingerprint]));
}

/**
 * Creates a site through the createSite workflow (admin role), which inserts it with its audit
 * event. Repeating it returns the same site; a double click waits for the first request's workflow.
 */
export async function createSite(
  ctx: ServiceContext,
  input: { clientId: string | number; code: string; name: string },
): Promise<Site> {
  const caller = authorize(ctx, Role.Admin);
  const code = input.code.trim().toUpperCase();
  if (!/^[A-Z0-9-]{3,32}$/.test(code))
    throw refuse(ErrorCode.BadUserInput, 'site code must be 3–32 upper-case letters, digits or dashes');
  // The client must be one the caller sees (its tenant, its client scope): the workflow's activities
  // run as the system and would not know the caller's scope (ADR 0031).
  const clientId = checkId(input.clientId, 'clientId');
  if (!(await inTenant(ctx, (em) => em.findOne(ClientSchema, { id: clientId }))))
    throw refuse(ErrorCode.ClientNotFound, 'client not found');
  const workflowInput: CreateSiteInput = {
    tenantId: caller.tenantId,
    clientId,
    code,
    name: input.name,
    actor: caller.actor,
  };
  const workflowId = createSiteWorkflowId(caller.tenantId, code);
  let result: CreateSiteResult;
  try {
    let handle;
    try {
      handle = await ctx.temporal.workflow.start('createSite', {
        taskQueue: ctx.taskQueue,
        workflowId,
        args: [workflowInput],
        typedSearchAttributes: [{ key: TenantIdKey, value: caller.tenantId }],
        workflowExecutionTimeout: '5 minutes',
      });
    } catch (err) {
      // A double click: the first request's workflow is already running; wait for its result.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = ctx.temporal.workflow.getHandle(workflowId);
    }
    result = (await handle.result()) as CreateSiteResult;
  } catch (err) {
    throw fromWorkflowFailure(err);
  }
  const site = await getSite(ctx, { id: result.siteId });
  if (!site) throw refuse(ErrorCode.NotFound, 'site not found');
  return site;
}

/** A failed workflow's application failure, refused with its type's stable code; else UNAVAILABLE. */
export function fromWorkflowFailure(err: unknown): ServiceError {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    while (cause) {
      if (cause instanceof ApplicationFailure && cause.type && isKnownFailure(cause.type))
        return refuse(failureText(cause.type).code, cause.message);
      cause = (cause as { cause?: unknown }).cause;
    }
  }
  return refuse(ErrorCode.Unavailable, 'the request could not be completed; try again');
}
