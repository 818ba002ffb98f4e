import type { DiscoveredComputer } from '../wire/agent-steps';
import type { EntityManager } from './orm';

/**
 * A site's discovered hosts (ADR 0029): what its gateway found in Active Directory, keyed by
 * objectGUID per site, and what an operator added by hand. Enumeration results merge in here:
 * a manual host is matched by objectGUID or DNS name and only filled in (what the operator entered
 * is never overwritten); a computer no longer in AD is marked `disappearedAt`, never deleted.
 * Callers run inside a tenant transaction (`withTenant`), so RLS applies.
 */

export interface DiscoveredHost {
  id: string;
  siteId: string;
  source: 'directory' | 'manual';
  objectGuid: string | null;
  name: string;
  dnsName: string | null;
  os: string | null;
  osVersion: string | null;
  ouDn: string | null;
  enabled: boolean | null;
  lastLogonAt: Date | null;
  role: DiscoveredComputer['role'] | null;
  machineId: string | null;
  firstSeenAt: Date;
  lastSeenAt: Date | null;
  disappearedAt: Date | null;
  /** Its agent deployment as the deployAgent workflow last recorded it (ADR 0043), or null. */
  deployState: string | null;
  deployReason: string | null;
  deployUpdatedAt: Date | null;
}

export type MergeCounts = {
  added: number;
  updated: number;
  /** Manual hosts the enumeration matched (filled in, never overwritten). */
  merged: number;
  /** Directory hosts newly marked as gone from AD. */
  disappeared: number;
  /** Hosts that were marked gone and are back. */
  returned: number;
};

type Row = {
  id: string;
  site_id: string;
  source: 'directory' | 'manual';
  object_guid: string | null;
  name: string;
  dns_name: string | null;
  os: string | null;
  os_version: string | null;
  ou_dn: string | null;
  enabled: boolean | null;
  last_logon_at: string | null;
  role: DiscoveredComputer['role'] | null;
  machine_id: string | null;
  first_seen_at: string;
  last_seen_at: string | null;
  disappeared_at: string | null;
  deploy_state: string | null;
  deploy_reason: string | null;
  deploy_updated_at: string | null;
};

// Raw queries hand timestamps back as text.
const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

const toHost = (r: Row): DiscoveredHost => ({
  id: r.id,
  siteId: r.site_id,
  source: r.source,
  objectGuid: r.object_guid,
  name: r.name,
  dnsName: r.dns_name,
  os: r.os,
  osVersion: r.os_version,
  ouDn: r.ou_dn,
  enabled: r.enabled,
  lastLogonAt: date(r.last_logon_at),
  role: r.role,
  machineId: r.machine_id,
  firstSeenAt: date(r.first_seen_at)!,
  lastSeenAt: date(r.last_seen_at),
  disappearedAt: date(r.disappeared_at),
  deployState: r.deploy_state ?? null,
  deployReason: r.deploy_reason ?? null,
  deployUpdatedAt: date(r.deploy_updated_at ?? null),
});

const INCOMING = `incoming as (
  select * from jsonb_to_recordset(?::jsonb) as c(object_guid uuid, name text, dns_name text, os text,
    os_version text, ou_dn text, enabled boolean, last_logon_at timestamptz, role text))`;

/** Merges one full enumeration of the site's domain into its discovered hosts. */
export async function mergeDirectoryHosts(
  em: EntityManager,
  input: { tenantId: string; siteId: string; computers: DiscoveredComputer[]; seenAt: Date; actor: string },
): Promise<MergeCounts> {
  const incoming = JSON.stringify(
    input.computers.map((c) => ({
      object_guid: c.objectGuid,
      name: c.name,
      dns_name: c.dnsHostName?.toLowerCase() ?? null,
      os: c.operatingSystem,
      os_version: c.operatingSystemVersion,
      ou_dn: c.ou,
      enabled: c.enabled,
      last_logon_at: c.lastLogonAt,
      role: c.role,
    })),
  );
  const { tenantId, siteId, seenAt } = input;
  // Manual hosts first: matched by objectGUID, or by DNS name while they have none; only empty
  // fields are filled, so what the operator entered stays.
  const merged = await em.execute<{ id: string }[]>(
    `with ${INCOMING}
     update discovered_hosts h set
       object_guid = coalesce(h.object_guid, i.object_guid),
       dns_name = coalesce(h.dns_name, i.dns_name), os = coalesce(h.os, i.os),
       os_version = coalesce(h.os_version, i.os_version), ou_dn = coalesce(h.ou_dn, i.ou_dn),
       enabled = coalesce(h.enabled, i.enabled), last_logon_at = coalesce(i.last_logon_at, h.last_logon_at),
       role = coalesce(h.role, i.role), last_seen_at = ?, disappeared_at = null
     from incoming i
     where h.tenant_id = ? and h.site_id = ? and h.source = 'manual'
       and (h.object_guid = i.object_guid
            or (h.object_guid is null and i.dns_name is not null and h.dns_name = i.dns_name
                and not exists (select 1 from discovered_hosts o where o.tenant_id = h.tenant_id
                                and o.site_id = h.site_id and o.object_guid = i.object_guid)))
     returning h.id`,
    [incoming, seenAt, tenantId, siteId],
  );
  const upserted = await em.execute<{ inserted: boolean; returned: boolean }[]>(
    `with ${INCOMING}
     insert into discovered_hosts as h (tenant_id, site_id, source, object_guid, name, dns_name, os, os_version,
       ou_dn, enabled, last_logon_at, role, first_seen_at, last_seen_at, created_by)
     select ?, ?, 'directory', i.object_guid, i.name, i.dns_name, i.os, i.os_version, i.ou_dn, i.enabled,
       i.last_logon_at, i.role, ?, ?, ? from incoming i
     on conflict (tenant_id, site_id, object_guid) do update set
       name = excluded.name, dns_name = excluded.dns_name, os = excluded.os, os_version = excluded.os_version,
       ou_dn = excluded.ou_dn, enabled = excluded.enabled, last_logon_at = excluded.last_logon_at,
       role = excluded.role, last_seen_at = excluded.last_seen_at, disappeared_at = null
     where h.source = 'directory'
     returning (xmax = 0) as inserted,
       (select d.disappeared_at is not null from discovered_hosts d where d.tenant_id = h.tenant_id and d.id = h.id) as returned`,
    [incoming, tenantId, siteId, seenAt, seenAt, input.actor],
  );
  const gone = await em.execute<{ id: string }[]>(
    `update discovered_hosts set disappeared_at = ?
     where tenant_id = ? and site_id = ? and source = 'directory' and disappeared_at is null
       and not (object_guid = any (select (jsonb_array_elements(?::jsonb) ->> 'object_guid')::uuid))
     returning id`,
    [seenAt, tenantId, siteId, incoming],
  );
  return {
    added: upserted.filter((r) => r.inserted).length,
    updated: upserted.filter((r) => !r.inserted).length,
    merged: merged.length,
    disappeared: gone.length,
    returned: upserted.filter((r) => r.returned).length,
  };
}

export class ManualHostExists extends Error {
  readonly code = 'HOST_EXISTS';
}

/** A host an operator adds by hand (not in AD, or before enumeration): never overwritten by one. */
export async function addManualHost(
  em: EntityManager,
  input: {
    tenantId: string;
    siteId: string;
    name: string;
    dnsName: string | null;
    os?: string | null;
    actor: string;
  },
): Promise<DiscoveredHost> {
  const dnsName = input.dnsName?.toLowerCase() ?? null;
  if (dnsName) {
    const [existing] = await em.execute<{ id: string }[]>(
      `select id from discovered_hosts where tenant_id = ? and site_id = ? and dns_name = ? and disappeared_at is null`,
      [input.tenantId, input.siteId, dnsName],
    );
    if (existing) throw new ManualHostExists(`a host named ${dnsName} is already listed for this site`);
  }
  const [row] = await em.execute<Row[]>(
    `insert into discovered_hosts (tenant_id, site_id, source, name, dns_name, os, created_by)
     values (?, ?, 'manual', ?, ?, ?, ?) returning *`,
    [input.tenantId, input.siteId, input.name, dnsName, input.os ?? null, input.actor],
  );
  return toHost(row!);
}

/** The site's hosts, current first, then those gone from AD; by name. */
export async function listDiscoveredHosts(
  em: EntityManager,
  tenantId: string,
  siteId: string,
): Promise<DiscoveredHost[]> {
  const rows = await em.execute<Row[]>(
    `select * from discovered_hosts where tenant_id = ? and site_id = ?
     order by disappeared_at is not null, name, id`,
    [tenantId, siteId],
  );
  return rows.map(toHost);
}

/** What the workflow hears of an enumeration: counts, never the computers (ADR 0029). */
export type EnumerationSummary = MergeCounts & { domain: string; pages: number; computers: number };

/**
 * Merges an enumeration the site's gateway reported (its step result, already held to the
 * result schema) into that gateway's site: the API stores it, the workflow gets the summary.
 */
export async function mergeGatewayEnumeration(
  em: EntityManager,
  input: {
    tenantId: string;
    gatewayId: string;
    result: { domain: string; pages: number; computers: DiscoveredComputer[] };
    seenAt: Date;
  },
): Promise<EnumerationSummary | null> {
  const [gateway] = await em.execute<{ site_id: string }[]>(
    `select site_id from machines where tenant_id = ? and id = ? and role = 'gateway'`,
    [input.tenantId, input.gatewayId],
  );
  if (!gateway) return null;
  const counts = await mergeDirectoryHosts(em, {
    tenantId: input.tenantId,
    siteId: gateway.site_id,
    computers: input.result.computers,
    seenAt: input.seenAt,
    actor: `machine:${input.gatewayId}`,
  });
  return {
    domain: input.result.domain,
    pages: input.result.pages,
    computers: input.result.computers.length,
    ...counts,
  };
}
