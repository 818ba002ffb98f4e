import { randomUUID } from 'node:crypto';
import { appendAudit } from '../../../infra/db/audit';
import { noticeSql } from '../../../infra/db/agent-notices';
import { AgentKeySchema, MachineSchema, MachineStatus, Role, type Machine } from '../../../infra/db/entities';
import type { EntityManager } from '../../../infra/db/orm';
import { clearMoveRequest } from '../../agent-channel/enrollment';
import { checkIds } from '../ids';
import { MachineIdKey, TenantIdKey } from '../../../workflows/search-attributes';
import {
  collectInventoryWorkflowId,
  type CollectInventoryInput,
} from '../../../workflows/machines/contracts';
import { builder } from '../builder';
import { apiError, ErrorCode } from '../errors';
import type { GraphQLContext } from '../context';
import { inTenant, requireIdentity } from '../tenant-scope';
import { MachineRef } from './machine';

builder.mutationField('approveMachine', (t) =>
  t.field({
    type: MachineRef,
    description:
      "Decides what a machine waits for (operator role). A pending machine becomes active as a machine of its own, or with `asReplacement` takes over the machine it claims to be (its site, its row, its history; that machine's old agent key stops working). A machine that asked to move to another site moves.",
    args: {
      id: t.arg.id({ required: true }),
      asReplacement: t.arg.boolean({
        required: false,
        defaultValue: false,
        description: 'For a pending machine: replace the machine it claims to be instead of adding one.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const [id] = checkIds([args.id], 'id');
      const outcome = await inTenant(ctx, (em) =>
        approve(em, identity.tenantId, identity.actor, id!, args.asReplacement ?? false),
      );
      forgetKeys(ctx, outcome.forget);
      return outcome.machine;
    },
  }),
);

builder.mutationField('rejectMachine', (t) =>
  t.field({
    type: MachineRef,
    description:
      'Refuses what a machine waits for (operator role): a pending machine is retired and its agent key revoked; a move request is dropped and the machine stays in its site.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const [id] = checkIds([args.id], 'id');
      let revoked: string[] = [];
      const decided = await inTenant(ctx, async (em) => {
        const machine = await em.findOne(MachineSchema, { id: id! });
        if (!machine) throw apiError(ErrorCode.NotFound, 'machine not found');
        if (machine.status === MachineStatus.Pending) {
          machine.status = MachineStatus.Retired;
          machine.pendingKind = null;
          revoked = await revokeKeys(em, machine.id, 'machine rejected');
        } else if (machine.requestedSiteId) {
          clearMoveRequest(machine);
        } else throw apiError(ErrorCode.BadUserInput, 'the machine waits for no decision');
        machine.decidedBy = identity.actor;
        machine.decidedAt = new Date();
        await em.flush();
        await notify(em, revoked, []);
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action:
            revoked.length || machine.status === MachineStatus.Retired
              ? 'machine.rejected'
              : 'machine.move_rejected',
          subjectType: 'machine',
          subjectId: machine.id,
          data: { machineUid: machine.machineUid, siteId: machine.siteId },
        });
        return machine;
      });
      forgetKeys(ctx, revoked);
      return decided;
    },
  }),
);

async function approve(
  em: EntityManager,
  tenantId: string,
  actor: string,
  id: string,
  asReplacement: boolean,
): Promise<{ machine: Machine; forget: string[] }> {
  const machine = await em.findOne(MachineSchema, { id });
  if (!machine) throw apiError(ErrorCode.NotFound, 'machine not found');
  const decided = { decidedBy: actor, decidedAt: new Date() };
  if (machine.status === MachineStatus.Pending && asReplacement) {
    const target = machine.replacesMachineId
      ? await em.findOne(MachineSchema, { id: machine.replacesMachineId })
      : null;
    if (!target || target.status === MachineStatus.Retired)
      throw apiError(ErrorCode.BadUserInput, 'this machine replaces no machine that is still enrolled');
    // The new install takes the old row over: its site, its facts, and its agent key.
    const revoked = await revokeKeys(em, target.id, `replaced by ${machine.hostname} (${actor})`);
    const moved = await em.find(AgentKeySchema, { machineId: machine.id, revokedAt: null });
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
    await em.execute(`update agent_keys set machine_id = ? where machine_id = ? and revoked_at is null`, [
      target.id,
      machine.id,
    ]);
    await notify(
      em,
      revoked,
      moved.map((k) => k.keyId),
      target.id,
    );
    await appendAudit(em, {
      tenantId,
      actor,
      action: 'machine.replaced',
      subjectType: 'machine',
      subjectId: target.id,
      data: { by: machine.id, fromSiteId: fromSite, siteId: target.siteId, requestedBy: machine.requestedBy },
    });
    return { machine: target, forget: [...revoked, ...moved.map((k) => k.keyId)] };
  }
  if (machine.status === MachineStatus.Pending) {
    Object.assign(machine, { status: MachineStatus.Active, pendingKind: null, ...decided });
    await em.flush();
    await notify(em, [], [], machine.id);
    await appendAudit(em, {
      tenantId,
      actor,
      action: 'machine.approved',
      subjectType: 'machine',
      subjectId: machine.id,
      data: { machineUid: machine.machineUid, siteId: machine.siteId },
    });
    return { machine, forget: [] };
  }
  if (machine.requestedSiteId) {
    const fromSiteId = machine.siteId;
    machine.siteId = machine.requestedSiteId;
    clearMoveRequest(machine);
    Object.assign(machine, decided);
    await em.flush();
    await appendAudit(em, {
      tenantId,
      actor,
      action: 'machine.moved',
      subjectType: 'machine',
      subjectId: machine.id,
      data: { fromSiteId, siteId: machine.siteId },
    });
    return { machine, forget: [] };
  }
  throw apiError(ErrorCode.BadUserInput, 'the machine waits for no decision');
}

/** In the transaction: revoked keys end their polls with 401, moved keys with 204; work wakes the machine. */
async function notify(em: EntityManager, revoked: string[], rekeyed: string[], wake?: string): Promise<void> {
  const notices = [
    ...revoked.map((k) => noticeSql({ t: 'revoked', k })),
    ...rekeyed.map((k) => noticeSql({ t: 'rekeyed', k })),
    ...(wake ? [noticeSql({ t: 'task', m: wake })] : []),
  ];
  for (const n of notices) await em.execute(n.sql, n.params);
}

/** After the commit: this process stops trusting the keys now, not when their notice arrives. */
function forgetKeys(ctx: GraphQLContext, keyIds: string[]): void {
  for (const keyId of keyIds) ctx.agentKeys?.forget(keyId);
}

async function revokeKeys(em: EntityManager, machineId: string, reason: string): Promise<string[]> {
  const keys = await em.find(AgentKeySchema, { machineId, revokedAt: null });
  for (const k of keys) {
    k.revokedAt = new Date();
    k.revokedReason = reason;
  }
  return keys.map((k) => k.keyId);
}

builder.mutationField('revokeAgentKey', (t) =>
  t.field({
    type: 'Int',
    description:
      "Revokes the machine's agent key(s): its requests get 401 at once, its long-poll ends. Admin role. Returns how many.",
    args: { machineId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Admin);
      const revoked = await inTenant(ctx, async (em) => {
        const machine = await em.findOne(MachineSchema, { id: String(args.machineId) });
        if (!machine) throw apiError(ErrorCode.NotFound, 'machine not found');
        const revoked = await revokeKeys(em, machine.id, `revoked by ${identity.actor}`);
        await em.flush();
        for (const keyId of revoked) {
          const n = noticeSql({ t: 'revoked', k: keyId });
          await em.execute(n.sql, n.params);
        }
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: 'agent_key.revoked',
          subjectType: 'machine',
          subjectId: machine.id,
          data: { keys: revoked.length },
        });
        return revoked;
      });
      forgetKeys(ctx, revoked);
      return revoked.length;
    },
  }),
);

builder.mutationField('collectInventory', (t) =>
  t.field({
    type: 'String',
    description:
      'Starts a collectInventory workflow for the machine; returns its workflow id. Operator role.',
    args: { machineId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Operator);
      const machine = await inTenant(ctx, (em) => em.findOne(MachineSchema, { id: String(args.machineId) }));
      if (!machine) throw apiError(ErrorCode.NotFound, 'machine not found');
      const workflowId = collectInventoryWorkflowId(machine.id, randomUUID());
      const input: CollectInventoryInput = { tenantId: identity.tenantId, machineId: machine.id };
      await ctx.temporal.workflow.start('collectInventory', {
        taskQueue: ctx.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: TenantIdKey, value: identity.tenantId },
          { key: MachineIdKey, value: machine.id },
        ],
      });
      return workflowId;
    },
  }),
);
