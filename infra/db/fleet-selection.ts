import type { EntityManager } from './orm';

/** Which machines a fleet run takes: all of the given sites, clients and machines, with every tag. */
export interface FleetSelection {
  siteIds?: string[];
  clientIds?: string[];
  machineIds?: string[];
  /** Machine labels that must all match. */
  tags?: Record<string, string>;
}

/**
 * Fixes a fleet run's machines, inside the caller's tenant transaction: one queued machine_runs row
 * per selected active machine, numbered 1..n in (site code, hostname) order, and the run's total and
 * skipped counts. A selected machine with an unfinished run of its own (queued in another fleet run,
 * running, paused, failed and waiting) is left out and counted as skipped: one run per machine at a
 * time. Called by startFleetRun (so it can answer the real total, or refuse an empty selection) and
 * by the fleetRun workflow's snapshot activity, which finds the rows there and only counts them.
 */
export async function snapshotFleetMachines(
  em: EntityManager,
  fleet: { id: string; selection: FleetSelection; profileId: string; createdBy: string },
): Promise<{ total: number; skipped: number }> {
  const sel = fleet.selection;
  const scoped =
    (sel.siteIds?.length ?? 0) + (sel.clientIds?.length ?? 0) + (sel.machineIds?.length ?? 0) > 0;
  const [selected] = await em.execute<{ total: number; skipped: number }[]>(
    `with chosen as (
       select m.tenant_id, m.id as machine_id, m.site_id, s.code, m.hostname,
              exists (select 1 from machine_runs b
                       where b.tenant_id = m.tenant_id and b.machine_id = m.id and b.finished_at is null) as busy
         from machines m join sites s on s.id = m.site_id
        where m.status = 'active'
          and (not ? or m.site_id = any(?::uuid[]) or s.client_id = any(?::uuid[]) or m.id = any(?::uuid[]))
          and m.labels @> ?::jsonb
     ), inserted as (
       insert into machine_runs (id, tenant_id, machine_id, site_id, fleet_run_id, seq, workflow_id, profile_id, created_by)
       select r.id, r.tenant_id, r.machine_id, r.site_id, ?, r.seq, 'provision:' || r.machine_id || ':' || r.id, ?, ?
         from (
           select gen_random_uuid() as id, c.tenant_id, c.machine_id, c.site_id,
                  row_number() over (order by c.code, c.hostname, c.machine_id)::int as seq
             from chosen c where not c.busy
         ) r
       returning 1
     )
     select (select count(*) from inserted)::int as total,
            (select count(*) from chosen where busy)::int as skipped`,
    [
      scoped,
      `{${(sel.siteIds ?? []).join(',')}}`,
      `{${(sel.clientIds ?? []).join(',')}}`,
      `{${(sel.machineIds ?? []).join(',')}}`,
      JSON.stringify(sel.tags ?? {}),
      fleet.id,
      fleet.profileId,
      fleet.createdBy,
    ],
  );
  await em.execute(`update fleet_runs set total = ?, skipped = ? where id = ?`, [
    selected!.total,
    selected!.skipped,
    fleet.id,
  ]);
  return { total: selected!.total, skipped: selected!.skipped };
}
