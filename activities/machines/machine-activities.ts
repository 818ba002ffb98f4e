import { appendAudit } from '../../infra/db/audit';
import { MachineSchema, type Machine } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';

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
      const { autopilot, ...inventory } = input.inventory as { autopilot?: Machine['autopilot'] };
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const machine = await em.findOneOrFail(MachineSchema, { id: input.machineId });
        machine.inventory = inventory;
        if (autopilot) machine.autopilot = { ...autopilot, harvestedAt: new Date().toISOString() };
        await em.flush();
        await appendAudit(em, {
          tenantId: input.tenantId,
          actor: 'system:collect-inventory',
          action: 'machine.inventory_collected',
          subjectType: 'machine',
          subjectId: machine.id,
        });
        return { hostname: machine.hostname };
      });
    },
  };
}

export type MachineActivities = ReturnType<typeof createMachineActivities>;
