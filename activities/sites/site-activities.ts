import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { appendAudit } from '../../infra/db/audit';
import { ClientSchema, SiteSchema } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { SiteFailure, type CreateSiteInput, type CreateSiteResult } from '../../workflows/sites/contracts';

const siteCode = /^[A-Z0-9-]{3,32}$/;

export function createSiteActivities(deps: { orm: Orm }) {
  return {
    /** Idempotent: a repeat with the same code and client returns the existing site. */
    async insertSite(input: CreateSiteInput): Promise<CreateSiteResult> {
      if (!siteCode.test(input.code)) {
        throw ApplicationFailure.create({
          type: SiteFailure.InvalidSite,
          message: 'site code must be 3–32 upper-case letters, digits or dashes',
          nonRetryable: true,
        });
      }
      const name = input.name.trim();
      if (name.length < 1 || name.length > 200) {
        throw ApplicationFailure.create({
          type: SiteFailure.InvalidSite,
          message: 'site name must be 1–200 characters',
          nonRetryable: true,
        });
      }
      try {
        return await withTenant(deps.orm, input.tenantId, async (em) => {
          const client = await em.findOne(ClientSchema, { id: input.clientId });
          if (!client) {
            throw ApplicationFailure.create({
              type: SiteFailure.ClientNotFound,
              message: 'client not found',
              nonRetryable: true,
            });
          }
          const existing = await em.findOne(SiteSchema, { code: input.code });
          if (existing) {
            if (existing.clientId === input.clientId) return { siteId: existing.id, created: false };
            throw siteCodeTaken(input.code);
          }
          const site = em.create(SiteSchema, {
            id: randomUUID(),
            tenantId: input.tenantId,
            clientId: input.clientId,
            code: input.code,
            name,
            createdAt: new Date(),
          });
          await em.flush();
          await appendAudit(em, {
            tenantId: input.tenantId,
            actor: input.actor,
            action: 'site.created',
            subjectType: 'site',
            subjectId: site.id,
            data: { code: site.code, name: site.name, clientId: site.clientId },
          });
          return { siteId: site.id, created: true };
        });
      } catch (err) {
        // Two requests creating the same code in this tenant at once: the unique index reports it.
        // Codes are unique per tenant only, so nothing here can reveal another tenant's site.
        if (
          (err as { code?: string }).code === '23505' &&
          String((err as Error).message).includes('sites_tenant_id_code_key')
        ) {
          throw siteCodeTaken(input.code);
        }
        throw err;
      }
    },
  };
}

function siteCodeTaken(code: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: SiteFailure.SiteCodeTaken,
    message: `site code ${code} is already in use`,
    nonRetryable: true,
  });
}

export type SiteActivities = ReturnType<typeof createSiteActivities>;
