import { appendAudit } from '../../infra/db/audit';
import { MachineSchema } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';

export function createMachineActivities(deps: { orm: Orm }) {
  return {
    /** Stores the inventory an agent reported; idempotent (last write wins). */
    async saveInventory(input: {
      tenantId: string;
      machineId: string;
      inventory: Record<string, unknown>;
    }): Promise<{ hostname: string }> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const machine = await em.findOneOrFail(MachineSchema, { id: input.machineId });
        machine.inventory = input.inventory;
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
