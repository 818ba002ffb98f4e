import { randomUUID } from 'node:crypto';
import { appendAudit } from '../../../infra/db/audit';
import { noticeSql } from '../../../infra/db/agent-notices';
import { AgentKeySchema, MachineSchema, MachineStatus, Role } from '../../../infra/db/entities';
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

function decide(action: 'approve' | 'reject') {
  return builder.mutationField(`${action}Machine`, (t) =>
    t.field({
      type: MachineRef,
      description:
        action === 'approve'
          ? 'Lets a pending machine (a detected clone) become active and receive work. Operator role.'
          : 'Refuses a pending machine: it is retired and its agent key revoked. Operator role.',
      args: { id: t.arg.id({ required: true }) },
      resolve: async (_root, args, ctx) => {
        const identity = requireIdentity(ctx, Role.Operator);
        let revoked: string[] = [];
        const decided = await inTenant(ctx, async (em) => {
          const machine = await em.findOne(MachineSchema, { id: String(args.id) });
          if (!machine) throw apiError(ErrorCode.NotFound, 'machine not found');
          if (machine.status !== MachineStatus.Pending)
            throw apiError(ErrorCode.BadUserInput, 'only a pending machine can be approved or rejected');
          machine.status = action === 'approve' ? MachineStatus.Active : MachineStatus.Retired;
          machine.decidedBy = identity.actor;
          machine.decidedAt = new Date();
          revoked = action === 'reject' ? await revokeKeys(em, machine.id, 'machine rejected') : [];
          await em.flush();
          for (const keyId of revoked) {
            const n = noticeSql({ t: 'revoked', k: keyId });
            await em.execute(n.sql, n.params);
          }
          // Wake its long-poll so an approved machine gets its queued work at once.
          const n = noticeSql({ t: 'task', m: machine.id });
          await em.execute(n.sql, n.params);
          await appendAudit(em, {
            tenantId: identity.tenantId,
            actor: identity.actor,
            action: `machine.${action === 'approve' ? 'approved' : 'rejected'}`,
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
}
decide('approve');
decide('reject');

/** After the commit: this process stops trusting the keys now, not when their notice arrives. */
function forgetKeys(ctx: GraphQLContext, keyIds: string[]): void {
  for (const keyId of keyIds) ctx.agentKeys?.forget(keyId);
}

async function revokeKeys(
  em: import('../../../infra/db/orm').EntityManager,
  machineId: string,
  reason: string,
): Promise<string[]> {
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
