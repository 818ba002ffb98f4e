import DataLoader from 'dataloader';
import type { Machine, MachineRun, Site } from '../../infra/db/entities';
import { enrollmentFingerprints, sitesOfClients } from '../services/clients-and-sites';
import { machinesByIds, machinesOfSites } from '../services/machines';
import { machineRunPages, type MachineRunPage } from '../services/provisioning';
import type { GraphQLContext } from './context';

/**
 * Per-request batch loaders for the lists under a list (a tenant's clients' sites, the sites'
 * machines, fleet runs' machine runs): every parent's children in one service call (one
 * transaction), not one each, so a request's transactions grow with its depth, not its width
 * (see request-budget.ts).
 */
export function createLoaders(ctx: () => GraphQLContext) {
  const grouped = <T>(keys: readonly string[], rows: T[], keyOf: (row: T) => string) => {
    const byKey = new Map<string, T[]>(keys.map((k) => [k, []]));
    for (const row of rows) byKey.get(keyOf(row))?.push(row);
    return keys.map((k) => byKey.get(k)!);
  };
  const pageLoaders = new Map<string, DataLoader<string, MachineRun[]>>();
  return {
    sitesByClient: new DataLoader<string, Site[]>(async (clientIds) =>
      grouped(clientIds, await sitesOfClients(ctx(), clientIds), (s) => s.clientId),
    ),
    machinesBySite: new DataLoader<string, Machine[]>(async (siteIds) =>
      grouped(siteIds, await machinesOfSites(ctx(), siteIds), (m) => m.siteId),
    ),
    hostnameByMachine: new DataLoader<string, string | null>(async (machineIds) => {
      const byId = new Map((await machinesByIds(ctx(), machineIds)).map((m) => [m.id, m.hostname]));
      return machineIds.map((id) => byId.get(id) ?? null);
    }),
    fingerprintBySite: new DataLoader<string, string | null>(async (siteIds) => {
      const bySite = await enrollmentFingerprints(ctx(), siteIds);
      return siteIds.map((id) => bySite.get(id) ?? null);
    }),
    /** The loader for one page shape (status filter, size, offset): fleet run id → its page. */
    machineRunPage(page: MachineRunPage): DataLoader<string, MachineRun[]> {
      const key = JSON.stringify([page.status, page.first, page.afterSeq]);
      let loader = pageLoaders.get(key);
      if (!loader) {
        loader = new DataLoader<string, MachineRun[]>(async (fleetIds) =>
          grouped(fleetIds, await machineRunPages(ctx(), fleetIds, page), (r) => r.fleetRunId!),
        );
        pageLoaders.set(key, loader);
      }
      return loader;
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
