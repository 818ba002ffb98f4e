import DataLoader from 'dataloader';
import {
  MachineRunSchema,
  MachineSchema,
  SiteEnrollmentKeySchema,
  SiteSchema,
  type Machine,
  type MachineRun,
  type Site,
} from '../../infra/db/entities';
import type { GraphQLContext } from './context';
import { inTenant } from './tenant-scope';

/** The shape of a page of fleet runs' machine runs. */
export interface MachineRunPage {
  status: string | null;
  first: number;
  afterSeq: number;
}

/**
 * Per-request batch loaders for the lists under a list (a tenant's clients' sites, the sites'
 * machines, fleet runs' machine runs): every parent's children in one transaction, not one each,
 * so a request's transactions grow with its depth, not its width (see request-budget.ts).
 */
export function createLoaders(ctx: () => GraphQLContext) {
  const grouped = <T>(keys: readonly string[], rows: T[], keyOf: (row: T) => string) => {
    const byKey = new Map<string, T[]>(keys.map((k) => [k, []]));
    for (const row of rows) byKey.get(keyOf(row))?.push(row);
    return keys.map((k) => byKey.get(k)!);
  };
  const pageLoaders = new Map<string, DataLoader<string, MachineRun[]>>();
  return {
    sitesByClient: new DataLoader<string, Site[]>(async (clientIds) => {
      const rows = await inTenant(ctx(), (em) =>
        em.find(SiteSchema, { clientId: { $in: [...clientIds] } }, { orderBy: { code: 'asc' } }),
      );
      return grouped(clientIds, rows, (s) => s.clientId);
    }),
    machinesBySite: new DataLoader<string, Machine[]>(async (siteIds) => {
      const rows = await inTenant(ctx(), (em) =>
        em.find(MachineSchema, { siteId: { $in: [...siteIds] } }, { orderBy: { hostname: 'asc' } }),
      );
      return grouped(siteIds, rows, (m) => m.siteId);
    }),
    fingerprintBySite: new DataLoader<string, string | null>(async (siteIds) => {
      const rows = await inTenant(ctx(), (em) =>
        em.find(SiteEnrollmentKeySchema, { siteId: { $in: [...siteIds] }, active: true }),
      );
      const bySite = new Map(rows.map((k) => [k.siteId, k.fingerprint]));
      return siteIds.map((id) => bySite.get(id) ?? null);
    }),
    /** The loader for one page shape (status filter, size, offset): fleet run id → its page. */
    machineRunPage(page: MachineRunPage): DataLoader<string, MachineRun[]> {
      const key = JSON.stringify([page.status, page.first, page.afterSeq]);
      let loader = pageLoaders.get(key);
      if (!loader) {
        loader = new DataLoader<string, MachineRun[]>(async (fleetIds) => {
          const rows = await inTenant(ctx(), async (em) => {
            const raw = await em.execute<Record<string, unknown>[]>(
              `select * from (
                 select r.*, row_number() over (partition by r.fleet_run_id order by r.seq) as page_row
                   from machine_runs r
                  where r.fleet_run_id = any(?::uuid[]) and r.seq > ? and (?::text is null or r.status = ?)
               ) p where p.page_row <= ? order by p.fleet_run_id, p.seq`,
              [`{${fleetIds.join(',')}}`, page.afterSeq, page.status, page.status, page.first],
            );
            return raw.map(({ page_row: _row, ...row }) => em.map(MachineRunSchema, row));
          });
          return grouped(fleetIds, rows, (r) => r.fleetRunId!);
        });
        pageLoaders.set(key, loader);
      }
      return loader;
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
