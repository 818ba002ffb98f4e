import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Role, SiteSchema } from '../../../infra/db/entities';
import { TenantIdKey } from '../../../workflows/search-attributes';
import {
  createSiteWorkflowId,
  type CreateSiteInput,
  type CreateSiteResult,
} from '../../../workflows/sites/contracts';
import { builder } from '../builder';
import { apiError, ErrorCode, fromWorkflowFailure } from '../errors';
import { inTenant, requireIdentity } from '../tenant-scope';
import { SiteRef } from './site';

const CreateSiteArgs = builder.inputType('CreateSiteInput', {
  fields: (t) => ({
    clientId: t.id({ required: true }),
    code: t.string({ required: true, description: 'Upper-case letters, digits, dashes; 3–32 characters.' }),
    name: t.string({ required: true }),
  }),
});

builder.mutationField('createSite', (t) =>
  t.field({
    type: SiteRef,
    description:
      'Creates a site through the createSite workflow (admin role). Repeating it returns the same site.',
    args: { input: t.arg({ type: CreateSiteArgs, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const identity = requireIdentity(ctx, Role.Admin);
      const code = input.code.trim().toUpperCase();
      if (!/^[A-Z0-9-]{3,32}$/.test(code)) {
        throw apiError(ErrorCode.BadUserInput, 'site code must be 3–32 upper-case letters, digits or dashes');
      }
      const workflowInput: CreateSiteInput = {
        tenantId: identity.tenantId,
        clientId: String(input.clientId),
        code,
        name: input.name,
        actor: identity.actor,
      };
      const workflowId = createSiteWorkflowId(identity.tenantId, code);
      let result: CreateSiteResult;
      try {
        let handle;
        try {
          handle = await ctx.temporal.workflow.start('createSite', {
            taskQueue: ctx.taskQueue,
            workflowId,
            args: [workflowInput],
            typedSearchAttributes: [{ key: TenantIdKey, value: identity.tenantId }],
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
      return inTenant(ctx, async (em) => {
        const site = await em.findOne(SiteSchema, { id: result.siteId });
        if (!site) throw apiError(ErrorCode.NotFound, 'site not found');
        return site;
      });
    },
  }),
);
