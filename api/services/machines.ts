import { randomUUID } from 'node:crypto';
import { noticeSql } from '../../infra/db/agent-notices';
import { MachineSchema, MachineStatus, Role, type Machine } from '../../infra/db/entities';
import type { EntityManager } from '../../infra/db/orm';
import { MachineIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { collectInventoryWorkflowId, type CollectInventoryInput } from '../../workflows/machines/contracts';
import { audited, type AuditEntry } from './audit';
import { clearMoveRequest } from './enrollment';
import { ErrorCode, refuse } from './errors';
import { checkId, checkRange } from './input';
import { forgetKeys, moveMachineKeys, revokeMachineKeys } from './keys';
import { authorize, callerHas, inTenant, type Caller, type ServiceContext } from './service-context';

/** Machines and the decisions operators make about them (ADR 0009): approve, reject, move. */

export async function listMachines(
  ctx: ServiceContext,
  input: { siteId?: string | number | null; status?: MachineStatus | null },
): Promise<Machine[]> {
  return inTenant(ctx, (em) =>
    em.find(
      MachineSchema,
      {
        ...(input.siteId ? { siteId: checkId(input.siteId, 'siteId') } : {}),
        ...(input.status ? { status: input.status } : {}),
      },
      {
        orderBy: { hostname: 'asc' },
        // A read-only list (10,000 rows for the portal): not tracked for a flush nobody makes.
        disableIdentityMap: true,
      },
    ),
  );
}

/** A machine counts as online when its agent was heard from within this window (the portal says the same). */
export const ONLINE_WITHIN_SECONDS = 300;

/** What the machines list filters on: a status, or Online/Offline (active and heard from lately, or not). */
export enum MachineFilter {
  Online = 'online',
  Offline = 'offline',
  Active = 'active',
  Pending = 'pending',
  Retired = 'retired',
}

export enum MachineSort {
  Hostname = 'hostname',
  Status = 'status',
  Site = 'site',
  LastSeen = 'lastSeen',
  AgentVersion = 'agentVersion',
}

/** Columns of each sort; hostname then id break ties, so pages never overlap or skip a row. */
const sortColumn: Record<MachineSort, string> = {
  [MachineSort.Hostname]: 'lower(m.hostname)',
  [MachineSort.Status]: 'm.status',
  [MachineSort.Site]: 's.code',
  [MachineSort.LastSeen]: 'm.last_seen_at',
  [MachineSort.AgentVersion]: 'm.agent_version',
};

export interface MachinePage {
  /** Machines matching the search and filters, in all pages. */
  total: number;
  machines: Machine[];
}

export interface MachinePageInput {
  first?: number | null;
  offset?: number | null;
  search?: string | null;
  filter?: MachineFilter | null;
  siteId?: string | number | null;
  sort?: MachineSort | null;
  descending?: boolean | null;
}

/**
 * One page of the caller's machines, searched (hostname or machine id, case-insensitive), filtered
 * and sorted by the database: a tenant of tens of thousands of machines is never read whole for a
 * screen of rows (issue 13; the portal's machines page pages through this as it scrolls).
 */
export async function pageMachines(ctx: ServiceContext, input: MachinePageInput): Promise<MachinePage> {
  const first = checkRange(input.first, 'first', { min: 1, max: 500, fallback: 100 });
  const offset = checkRange(input.offset, 'offset', { min: 0, max: 10_000_000, fallback: 0 });
  const search = (input.search ?? '').trim();
  if (search.length > 200) throw refuse(ErrorCode.BadUserInput, 'search must be at most 200 characters');
  const where: string[] = [];
  const params: unknown[] = [];
  if (search) {
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push('(m.hostname ilike ? or m.machine_uid ilike ?)');
    params.push(pattern, pattern);
  }
  if (input.siteId) {
    where.push('m.site_id = ?');
    params.push(checkId(input.siteId, 'siteId'));
  }
  const online = `m.last_seen_at > now() - make_interval(secs => ${ONLINE_WITHIN_SECONDS})`;
  switch (input.filter ?? null) {
    case MachineFilter.Online:
      where.push(`m.status = 'active' and ${online}`);
      break;
    case MachineFilter.Offline:
      where.push(`m.status = 'active' and (m.last_seen_at is null or not ${online})`);
      break;
    case MachineFilter.Active:
    case MachineFilter.Pending:
    case MachineFilter.Retired:
      where.push('m.status = ?');
      params.push(input.filter);
      break;
    default:
      break;
  }
  const direction = input.descending ? 'desc' : 'asc';
  const order = `${sortColumn[input.sort ?? MachineSort.Hostname]} ${direction} nulls last, lower(m.hostname) ${direction}, m.id ${direction}`;
  const filter = where.length ? `where ${where.join(' and ')}` : '';
  return inTenant(ctx, async (em) => {
    const rows = await em.execute<(Record<string, unknown> & { total_count: string })[]>(
      `select m.*, count(*) over () as total_count
         from machines m join sites s on s.id = m.site_id
         ${filter}
        order by ${order}
        limit ? offset ?`,
      [...params, first, offset],
    );
    let total = rows[0] ? Number(rows[0].total_count) : 0;
    if (!rows.length && offset > 0) {
      const [count] = await em.execute<{ n: string }[]>(
        `select count(*) as n from machines m ${filter}`,
        params,
      );
      total = Number(count?.n ?? 0);
    }
    return {
      total,
      machines: rows.map(({ total_count: _, ...row }) => em.map(MachineSchema, row)),
    };
  });
}

/** Machines of each site of the caller's scope by state, counted by the database (the dashboard's numbers). */
export interface SiteMachineCounts {
  siteId: string;
  online: number;
  offline: number;
  pending: number;
  retired: number;
}

export async function machineCounts(ctx: ServiceContext): Promise<SiteMachineCounts[]> {
  const online = `last_seen_at > now() - make_interval(secs => ${ONLINE_WITHIN_SECONDS})`;
  return inTenant(ctx, async (em) => {
    const rows = await em.execute<Record<'site_id' | 'online' | 'offline' | 'pending' | 'retired', string>[]>(
      `select site_id,
              count(*) filter (where status = 'active' and ${online}) as online,
              count(*) filter (where status = 'active' and (last_seen_at is null or not ${online})) as offline,
              count(*) filter (where status = 'pending') as pending,
              count(*) filter (where status = 'retired') as retired
         from machines group by site_id order by site_id`,
    );
    return rows.map((r) => ({
      siteId: r.site_id,
      online: Number(r.online),
      offline: Number(r.offline),
      pending: Number(r.pending),
      retired: Number(r.retired),
    }));
  });
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

/** Machines by id, in one transaction (a list of runs naming their machines); ids not visible are left out. */
export async function machinesByIds(
  ctx: ServiceContext,
  ids: readonly string[],
): Promise<Pick<Machine, 'id' | 'hostname'>[]> {
  return inTenant(ctx, (em) =>
    em.find(
      MachineSchema,
      { id: { $in: [...ids] } },
      { fields: ['id', 'hostname'], disableIdentityMap: true },
    ),
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
