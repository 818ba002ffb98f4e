import { randomUUID } from 'node:crypto';
import { noticeSql } from '../../infra/db/agent-notices';
import { MachineSchema, MachineStatus, Role, type Machine } from '../../infra/db/entities';
import type { EntityManager } from '../../infra/db/orm';
import { MachineIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { collectInventoryWorkflowId, type CollectInventoryInput } from '../../workflows/machines/contracts';
import { audited, type AuditEntry } from './audit';
import { clearMoveRequest } from './enrollment';
import { ErrorCode, refuse } from './errors';
import { checkId } from './input';
import { forgetKeys, moveMachineKeys, revokeMachineKeys } from './keys';
import { authorize, callerHas, inTenant, type Caller, type ServiceContext } from './service-context';

/** Machines and the decisions operators make about them (ADR 0009): approve, reject, move. */

export async function listMachines(
  ctx: ServiceContext,
  input: { siteId?: string | number | null },
): Promise<Machine[]> {
  return inTenant(ctx, (em) =>
    em.find(MachineSchema, input.siteId ? { siteId: String(input.siteId) } : {}, {
      orderBy: { hostname: 'asc' },
      // A read-only list (10,000 rows for the portal): not tracked for a flush nobody makes.
      disableIdentityMap: true,
    }),
  );
}

/** One machine of the caller's tenant, or null (a malformed id is refused with BAD_USER_INPUT). */
export async function getMachine(
  ctx: ServiceContext,
  input: { id: string | number },
): Promise<Machine | null> {
  const id = checkId(input.id, 'id');
  return inTenant(ctx, (em) => em.findOne(MachineSchema, { id }));
}

/** The machines of many sites, in one transaction (for lists under lists). */
export async function machinesOfSites(ctx: ServiceContext, siteIds: readonly string[]): Promise<Machine[]> {
  return inTenant(ctx, (em) =>
    em.find(MachineSchema, { siteId: { $in: [...siteIds] } }, { orderBy: { hostname: 'asc' } }),
  );
}

/**
 * Raw hardware identifiers (SMBIOS UUID, serials, MachineGuid, MACs, disk serials) are what an
 * enrollment presents as the machine's identity: viewers never read them (docs/SECURITY.md).
 */
const identifierFields = new Set(['hardware', 'serial', 'machineGuid', 'smbiosUuid', 'macs', 'diskSerials']);

/** The machine's last inventory as the caller may read it: identifiers left out below the operator role. */
export function inventoryFor(ctx: ServiceContext, machine: Machine): Record<string, unknown> | null {
  if (!machine.inventory) return null;
  if (callerHas(ctx, Role.Operator)) return machine.inventory;
  return Object.fromEntries(Object.entries(machine.inventory).filter(([k]) => !identifierFields.has(k)));
}

/** The harvested Autopilot hash, for the operator role and above (null below it). */
export function autopilotFor(ctx: ServiceContext, machine: Machine): Machine['autopilot'] | null {
  return machine.autopilot && callerHas(ctx, Role.Operator) ? machine.autopilot : null;
}

/**
 * Decides what a machine waits for (operator role): a pending machine becomes active as a machine of
 * its own, or with `asReplacement` takes over the machine it claims to be; a move request moves it.
 */
export async function approveMachine(
  ctx: ServiceContext,
  input: { id: string | number; asReplacement: boolean },
): Promise<Machine> {
  const caller = authorize(ctx, Role.Operator);
  const id = checkId(input.id, 'id');
  const outcome = await audited(
    ctx,
    (em) => approve(em, caller, id, input.asReplacement),
    (o) => o.audit,
  );
  forgetKeys(ctx.agentKeys, outcome.forget);
  return outcome.machine;
}

/**
 * Refuses what a machine waits for (operator role): a pending machine is retired and its agent key
 * revoked; a move request is dropped and the machine stays in its site.
 */
export async function rejectMachine(ctx: ServiceContext, input: { id: string | number }): Promise<Machine> {
  const caller = authorize(ctx, Role.Operator);
  const id = checkId(input.id, 'id');
  const outcome = await audited(
    ctx,
    async (em) => {
      const machine = await em.findOne(MachineSchema, { id });
      if (!machine) throw refuse(ErrorCode.NotFound, 'machine not found');
      let revoked: string[] = [];
      if (machine.status === MachineStatus.Pending) {
        machine.status = MachineStatus.Retired;
        machine.pendingKind = null;
        revoked = await revokeMachineKeys(em, machine.id, 'machine rejected');
      } else if (machine.requestedSiteId) {
        clearMoveRequest(machine);
      } else throw refuse(ErrorCode.BadUserInput, 'the machine waits for no decision');
      machine.decidedBy = caller.actor;
      machine.decidedAt = new Date();
      return { machine, revoked };
    },
    ({ machine, revoked }) => ({
      action:
        revoked.length || machine.status === MachineStatus.Retired
          ? 'machine.rejected'
          : 'machine.move_rejected',
      subjectType: 'machine',
      subjectId: machine.id,
      data: { machineUid: machine.machineUid, siteId: machine.siteId },
    }),
  );
  forgetKeys(ctx.agentKeys, outcome.revoked);
  return outcome.machine;
}

interface Decided {
  machine: Machine;
  /** Keys this process stops trusting once the decision commits. */
  forget: string[];
  audit: AuditEntry;
}

async function approve(
  em: EntityManager,
  caller: Caller,
  id: string,
  asReplacement: boolean,
): Promise<Decided> {
  const machine = await em.findOne(MachineSchema, { id });
  if (!machine) throw refuse(ErrorCode.NotFound, 'machine not found');
  const decided = { decidedBy: caller.actor, decidedAt: new Date() };
  if (machine.status === MachineStatus.Pending && asReplacement) {
    const target = machine.replacesMachineId
      ? await em.findOne(MachineSchema, { id: machine.replacesMachineId })
      : null;
    if (!target || target.status === MachineStatus.Retired)
      throw refuse(ErrorCode.BadUserInput, 'this machine replaces no machine that is still enrolled');
    // The new install takes the old row over: its site, its facts, and its agent key.
    const revoked = await revokeMachineKeys(
      em,
      target.id,
      `replaced by ${machine.hostname} (${caller.actor})`,
    );
    const fromSite = target.siteId;
    Object.assign(target, {
      siteId: machine.siteId,
      hostname: machine.hostname,
      machineGuid: machine.machineGuid,
      hardware: machine.hardware,
      os: machine.os,
      agentVersion: machine.agentVersion,
      labels: machine.labels,
      lastSeenAt: machine.lastSeenAt,
      bootId: null,
      ...decided,
    });
    clearMoveRequest(target);
    Object.assign(machine, {
      status: MachineStatus.Retired,
      pendingKind: null,
      pendingReason: `approved as the replacement of ${target.hostname} (${target.id})`,
      ...decided,
    });
    await em.flush();
    const moved = await moveMachineKeys(em, machine.id, target.id);
    await wake(em, target.id);
    return {
      machine: target,
      forget: [...revoked, ...moved],
      audit: {
        action: 'machine.replaced',
        subjectType: 'machine',
        subjectId: target.id,
        data: {
          by: machine.id,
          fromSiteId: fromSite,
          siteId: target.siteId,
          requestedBy: machine.requestedBy,
        },
      },
    };
  }
  if (machine.status === MachineStatus.Pending) {
    Object.assign(machine, { status: MachineStatus.Active, pendingKind: null, ...decided });
    await em.flush();
    await wake(em, machine.id);
    return {
      machine,
      forget: [],
      audit: {
        action: 'machine.approved',
        subjectType: 'machine',
        subjectId: machine.id,
        data: { machineUid: machine.machineUid, siteId: machine.siteId },
      },
    };
  }
  if (machine.requestedSiteId) {
    const fromSiteId = machine.siteId;
    machine.siteId = machine.requestedSiteId;
    clearMoveRequest(machine);
    Object.assign(machine, decided);
    return {
      machine,
      forget: [],
      audit: {
        action: 'machine.moved',
        subjectType: 'machine',
        subjectId: machine.id,
        data: { fromSiteId, siteId: machine.siteId },
      },
    };
  }
  throw refuse(ErrorCode.BadUserInput, 'the machine waits for no decision');
}

/** On commit: a machine that may now run work is told to look for it. */
async function wake(em: EntityManager, machineId: string): Promise<void> {
  const n = noticeSql({ t: 'task', m: machineId });
  await em.execute(n.sql, n.params);
}

/** Starts a collectInventory workflow for the machine (operator role); returns its workflow id. */
export async function collectInventory(
  ctx: ServiceContext,
  input: { machineId: string | number },
): Promise<string> {
  const caller = authorize(ctx, Role.Operator);
  const machine = await inTenant(ctx, (em) => em.findOne(MachineSchema, { id: String(input.machineId) }));
  if (!machine) throw refuse(ErrorCode.NotFound, 'machine not found');
  const workflowId = collectInventoryWorkflowId(machine.id, randomUUID());
  const args: CollectInventoryInput = { tenantId: caller.tenantId, machineId: machine.id };
  await ctx.temporal.workflow.start('collectInventory', {
    taskQueue: ctx.taskQueue,
    workflowId,
    args: [args],
    typedSearchAttributes: [
      { key: TenantIdKey, value: caller.tenantId },
      { key: MachineIdKey, value: machine.id },
    ],
  });
  return workflowId;
}
