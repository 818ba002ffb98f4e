import { Context } from '@temporalio/activity';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { appendAudit } from '../../infra/db/audit';
import { currentDomainCredential, decideCandidate } from '../../infra/db/domain-credentials';
import { withTenant, type Orm } from '../../infra/db/orm';
import {
  enumerateDirectoryWorkflowId,
  enumerationScheduleId,
  type EnumerateDirectoryInput,
} from '../../workflows/directory/contracts';
import { SiteIdKey, TenantIdKey } from '../../workflows/search-attributes';

/**
 * The database and schedule side of site onboarding (issue 15): which machine is the site's
 * gateway, the alerts an operator acts on, the verdict on a tested credential, and the site's
 * re-enumeration schedule. Each is idempotent (check, then act): retried freely.
 */
export function createDirectoryActivities(deps: { orm: Orm }) {
  return {
    /** The site's active gateway (the oldest, if an operator made several), or null. */
    async siteGateway(input: { tenantId: string; siteId: string }): Promise<string | null> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const [row] = await em.execute<{ id: string }[]>(
          `select id from machines where tenant_id = ? and site_id = ? and role = 'gateway' and status = 'active'
            order by created_at, id limit 1`,
          [input.tenantId, input.siteId],
        );
        return row?.id ?? null;
      });
    },

    /**
     * An alert for the site's operators; `dedupeKey` makes a retried activity raise it once (the
     * reminders of one wait are counted into the key by the workflow).
     */
    async raiseSiteAlert(input: {
      tenantId: string;
      siteId: string;
      kind: string;
      message: string;
      dedupeKey: string;
      data?: Record<string, unknown>;
    }): Promise<void> {
      await withTenant(deps.orm, input.tenantId, (em) =>
        em.execute(
          `insert into alerts (id, tenant_id, kind, site_id, message, data)
           select gen_random_uuid(), ?, ?, ?, ?, ?::jsonb
            where not exists (select 1 from alerts where tenant_id = ? and data->>'dedupeKey' = ?)`,
          [
            input.tenantId,
            input.kind,
            input.siteId,
            input.message,
            JSON.stringify({ ...input.data, dedupeKey: input.dedupeKey }),
            input.tenantId,
            input.dedupeKey,
          ],
        ),
      );
    },

    /** The verdict of a candidate's test bind: accepted, it becomes the site's credential. */
    async decideDomainCredential(input: {
      tenantId: string;
      credentialId: string;
      accept: boolean;
      reason?: string;
    }): Promise<{ state: 'accepted' | 'rejected'; version: number } | null> {
      return withTenant(deps.orm, input.tenantId, (em) =>
        decideCandidate(em, { ...input, actor: 'system:discover-site' }),
      );
    },

    /** The site's accepted credential (id and version only), or null. */
    async siteCredential(input: {
      tenantId: string;
      siteId: string;
    }): Promise<{ id: string; version: number; domain: string } | null> {
      const current = await withTenant(deps.orm, input.tenantId, (em) =>
        currentDomainCredential(em, input.tenantId, input.siteId),
      );
      return current ? { id: current.id, version: current.version, domain: current.domain } : null;
    },

    /**
     * The site's re-enumeration schedule (a Temporal Schedule, one per site), created or brought to
     * the interval asked for. Overlaps are skipped: a long enumeration never runs twice at once.
     */
    async ensureEnumerationSchedule(input: {
      tenantId: string;
      siteId: string;
      everySeconds: number;
      taskQueue: string;
      domain: string;
      endpoint: EnumerateDirectoryInput['endpoint'];
    }): Promise<'created' | 'updated'> {
      const client = Context.current().client;
      const scheduleId = enumerationScheduleId(input.tenantId, input.siteId);
      const args: [EnumerateDirectoryInput] = [
        { tenantId: input.tenantId, siteId: input.siteId, domain: input.domain, endpoint: input.endpoint },
      ];
      const every = input.everySeconds * 1000;
      const action = {
        type: 'startWorkflow' as const,
        workflowType: 'enumerateDirectory',
        workflowId: enumerateDirectoryWorkflowId(input.tenantId, input.siteId),
        taskQueue: input.taskQueue,
        args,
        typedSearchAttributes: [
          { key: TenantIdKey, value: input.tenantId },
          { key: SiteIdKey, value: input.siteId },
        ],
      };
      const result = await client.schedule
        .create({
          scheduleId,
          spec: { intervals: [{ every }] },
          action,
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: every },
          memo: { purpose: `Drydock: re-enumerates the Active Directory of site ${input.siteId}` },
        })
        .then(
          () => 'created' as const,
          async (err: unknown) => {
            if (!(err instanceof ScheduleAlreadyRunning)) throw err;
            await client.schedule.getHandle(scheduleId).update((previous) => ({
              ...previous,
              spec: { intervals: [{ every }] },
              action,
            }));
            return 'updated' as const;
          },
        );
      if (result === 'created')
        await withTenant(deps.orm, input.tenantId, (em) =>
          appendAudit(em, {
            tenantId: input.tenantId,
            actor: 'system:discover-site',
            action: 'directory.schedule-created',
            subjectType: 'site',
            subjectId: input.siteId,
            data: { scheduleId, everySeconds: input.everySeconds },
          }),
        );
      return result;
    },
  };
}

export type DirectoryActivities = ReturnType<typeof createDirectoryActivities>;
