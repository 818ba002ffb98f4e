import { appendAudit } from '../../infra/db/audit';
import { withTenant, type Orm } from '../../infra/db/orm';
import type { DeploymentState } from '../../workflows/deployment/contracts';

/**
 * The database side of agent push (issue 15, ADR 0043): which host to reach and whether to skip it,
 * the site's installer, the enrolled machine that matches a host, the link between them, and the
 * host's deployment state on its row. Each is idempotent (check, then act): retried freely.
 */

/** A host's name as Windows reports it: its name, or its DNS name's first label (case-insensitive). */
const MATCHES_HOST = `(lower(m.hostname) = lower(h.name)
  or (h.dns_name is not null and lower(m.hostname) = split_part(h.dns_name, '.', 1)))`;

export function createDeploymentActivities(deps: { orm: Orm }) {
  return {
    /**
     * The host to deploy to: where the gateway connects (its DNS name, else its name), the machine
     * it is already linked to, and why it is skipped (gone from AD, disabled, stale), if it is.
     */
    async deploymentTarget(input: {
      tenantId: string;
      siteId: string;
      hostId: string;
      staleDays: number;
    }): Promise<{ name: string; address: string; machineId: string | null; skip: string | null } | null> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const [h] = await em.execute<
          {
            name: string;
            dns_name: string | null;
            machine_id: string | null;
            enabled: boolean | null;
            disappeared_at: string | null;
            last_logon_at: string | null;
            stale_days: number | null;
          }[]
        >(
          `select name, dns_name, machine_id, enabled, disappeared_at, last_logon_at,
                  floor(extract(epoch from now() - last_logon_at) / 86400)::int as stale_days
             from discovered_hosts where tenant_id = ? and site_id = ? and id = ?`,
          [input.tenantId, input.siteId, input.hostId],
        );
        if (!h) return null;
        const skip = h.disappeared_at
          ? `gone from Active Directory since ${new Date(h.disappeared_at).toISOString().slice(0, 10)}`
          : h.enabled === false
            ? 'its computer account is disabled in Active Directory'
            : h.stale_days !== null && h.stale_days > input.staleDays
              ? `stale: its last logon was ${h.stale_days} days ago (more than ${input.staleDays})`
              : null;
        return { name: h.name, address: h.dns_name ?? h.name, machineId: h.machine_id, skip };
      });
    },

    /** The site's current MSI (its active enrollment key's newest build), or null: build it first. */
    async siteAgentInstaller(input: {
      tenantId: string;
      siteId: string;
    }): Promise<{ installerId: string; fileName: string; sha256: string } | null> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const [row] = await em.execute<{ id: string; file_name: string; sha256: string }[]>(
          `select i.id, i.file_name, i.sha256 from site_installers i
             join site_enrollment_keys k on k.tenant_id = i.tenant_id and k.site_id = i.site_id
                  and k.active and k.version = i.key_version
            where i.tenant_id = ? and i.site_id = ? and i.kind = 'msi'
            order by i.built_at desc limit 1`,
          [input.tenantId, input.siteId],
        );
        return row ? { installerId: row.id, fileName: row.file_name, sha256: row.sha256 } : null;
      });
    },

    /**
     * An active machine of the site with the host's name that no other host is linked to: the
     * periodic check behind the enrollment signal (a lost signal must not hang a deployment).
     */
    async enrolledMachineFor(input: {
      tenantId: string;
      siteId: string;
      hostId: string;
    }): Promise<string | null> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const [row] = await em.execute<{ id: string }[]>(
          `select m.id from discovered_hosts h
             join machines m on m.tenant_id = h.tenant_id and m.site_id = h.site_id
            where h.tenant_id = ? and h.site_id = ? and h.id = ? and m.status = 'active' and ${MATCHES_HOST}
              and not exists (select 1 from discovered_hosts o where o.tenant_id = h.tenant_id
                              and o.machine_id = m.id and o.id <> h.id)
            order by m.created_at desc, m.id limit 1`,
          [input.tenantId, input.siteId, input.hostId],
        );
        return row?.id ?? null;
      });
    },

    /** Links the host to its machine (once; a host linked to another machine stays so). Audited. */
    async linkDiscoveredHost(input: {
      tenantId: string;
      siteId: string;
      hostId: string;
      machineId: string;
    }): Promise<boolean> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const rows = await em.execute<{ id: string }[]>(
          `update discovered_hosts set machine_id = ?
            where tenant_id = ? and site_id = ? and id = ? and machine_id is null returning id`,
          [input.machineId, input.tenantId, input.siteId, input.hostId],
        );
        if (rows.length > 0)
          await appendAudit(em, {
            tenantId: input.tenantId,
            actor: 'system:deploy-agent',
            action: 'discovered-host.linked',
            subjectType: 'site',
            subjectId: input.siteId,
            data: { hostId: input.hostId, machineId: input.machineId },
          });
        const [linked] = await em.execute<{ machine_id: string | null }[]>(
          `select machine_id from discovered_hosts where tenant_id = ? and id = ?`,
          [input.tenantId, input.hostId],
        );
        return linked?.machine_id === input.machineId;
      });
    },

    /** The host's deployment state on its row, as this run last recorded it. */
    async recordHostDeployment(input: {
      tenantId: string;
      hostId: string;
      state: DeploymentState;
      reason: string | null;
      workflowId: string;
      runId: string;
    }): Promise<void> {
      await withTenant(deps.orm, input.tenantId, (em) =>
        em.execute(
          `update discovered_hosts set deploy_state = ?, deploy_reason = ?, deploy_workflow_id = ?,
                  deploy_run_id = ?, deploy_updated_at = now()
            where tenant_id = ? and id = ?`,
          [
            input.state,
            input.reason?.slice(0, 1000) ?? null,
            input.workflowId,
            input.runId,
            input.tenantId,
            input.hostId,
          ],
        ),
      );
    },
  };
}

export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;
