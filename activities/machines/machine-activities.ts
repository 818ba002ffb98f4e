import { appendAudit } from '../../infra/db/audit';
import { MachineSchema, type Machine } from '../../infra/db/entities';
import { withTenant, type EntityManager, type Orm } from '../../infra/db/orm';

export function createMachineActivities(deps: { orm: Orm }) {
  return {
    /**
     * Stores the inventory an agent reported; an Autopilot hash in it goes to its own column.
     * Idempotent (last write wins).
     */
    async saveInventory(input: {
      tenantId: string;
      machineId: string;
      inventory: Record<string, unknown>;
    }): Promise<{ hostname: string }> {
      return withTenant(deps.orm, input.tenantId, (em) =>
        storeInventory(em, input.machineId, input.inventory, 'system:collect-inventory'),
      );
    },
  };
}

export type MachineActivities = ReturnType<typeof createMachineActivities>;

/**
 * Stores an inventory report on its machine, inside the caller's tenant transaction; an Autopilot
 * hash in it goes to its own column. Last write wins. Audited as `actor`.
 */
export async function storeInventory(
  em: EntityManager,
  machineId: string,
  report: Record<string, unknown>,
  actor: string,
): Promise<{ hostname: string }> {
  const { autopilot, ...inventory } = report as { autopilot?: Machine['autopilot'] };
  const machine = await em.findOneOrFail(MachineSchema, { id: machineId });
  machine.inventory = inventory;
  if (autopilot) machine.autopilot = { ...autopilot, harvestedAt: new Date().toISOString() };
  await em.flush();
  await appendAudit(em, {
    tenantId: machine.tenantId,
    actor,
    action: 'machine.inventory_collected',
    subjectType: 'machine',
    subjectId: machine.id,
  });
  return { hostname: machine.hostname };
}
