import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { appendAudit } from '../../infra/db/audit';
import { AlertKind } from '../../infra/db/entities';
import { escrowRecipientOf } from '../../infra/db/escrow';
import { withTenant, type EntityManager, type Orm } from '../../infra/db/orm';
import type { TenantPublicKey } from '../../infra/wire/escrow-envelope';
import { RotationFailure, type RotationScope } from '../../workflows/escrow/contracts';

const permanent = (type: RotationFailure, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true });

/** What a rotation of one machine's local admin password needs: the account and the tenant's current key. */
export interface PreparedRotation {
  account: string;
  recipient: TenantPublicKey;
}

/**
 * The database side of local admin password rotation (ADR 0047): what to rotate, which machines a
 * site or client has, and the rotation's audit events. Each is idempotent or append-only bookkeeping,
 * retried until the database answers. The escrow and confirmation themselves are provisioning's
 * (nextEscrowVersion, confirmEscrow): one home for escrow before change.
 */
export function createRotationActivities(deps: { orm: Orm }) {
  return {
    /**
     * The account to rotate — the one the machine's latest escrowed local admin password is for —
     * and the tenant's current escrow key. Permanent failures: the machine is not active, it has no
     * escrowed local admin password (Drydock never set one: nothing of ours to rotate), no escrow key.
     */
    async prepareRotation(input: { tenantId: string; machineId: string }): Promise<PreparedRotation> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        await activeMachine(em, input);
        const [latest] = await em.execute<{ account: string | null }[]>(
          `select account from escrowed_secrets
            where tenant_id = ? and machine_id = ? and kind = 'local-admin-password' and account is not null
            order by secret_version desc limit 1`,
          [input.tenantId, input.machineId],
        );
        if (!latest?.account)
          throw permanent(
            RotationFailure.RotationNoLocalAdmin,
            'the machine has no escrowed local admin password (provision it with a security phase first)',
          );
        const recipient = await escrowRecipientOf(em, input.tenantId);
        if (!recipient) throw permanent(RotationFailure.RotationNoEscrowKey, 'the tenant has no escrow key');
        return { account: latest.account, recipient };
      });
    },

    /**
     * What a rotation of one machine's BitLocker recovery password needs: its volume (provisioning
     * turns BitLocker on for C: only) and the tenant's current escrow key. Permanent failures: the
     * machine is not active, no recovery password of it was ever confirmed (Drydock did not turn
     * BitLocker on there: nothing of ours to rotate), no escrow key.
     */
    async prepareBitLockerRotation(input: {
      tenantId: string;
      machineId: string;
    }): Promise<{ mountPoint: string; recipient: TenantPublicKey }> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        await activeMachine(em, input);
        const [confirmed] = await em.execute<{ n: number }[]>(
          `select count(*)::int as n from escrowed_secrets
            where tenant_id = ? and machine_id = ? and kind = 'bitlocker-recovery-password'
              and confirmed_at is not null`,
          [input.tenantId, input.machineId],
        );
        if (!confirmed?.n)
          throw permanent(
            RotationFailure.RotationNoBitLocker,
            'the machine has no escrowed BitLocker recovery password (provision it with BitLocker first)',
          );
        const recipient = await escrowRecipientOf(em, input.tenantId);
        if (!recipient) throw permanent(RotationFailure.RotationNoEscrowKey, 'the tenant has no escrow key');
        return { mountPoint: 'C:', recipient };
      });
    },

    /**
     * The active machines of a site or client that have an escrowed local admin password, by id,
     * a page at a time after `afterMachineId`.
     */
    async rotationMachines(input: {
      tenantId: string;
      scope: RotationScope;
      afterMachineId?: string;
      limit: number;
    }): Promise<{ machineIds: string[] }> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const rows = await em.execute<{ id: string }[]>(
          `select m.id::text from machines m join sites s on s.tenant_id = m.tenant_id and s.id = m.site_id
            where m.tenant_id = ? and m.status = 'active'
              and ${input.scope.kind === 'site' ? 's.id' : 's.client_id'} = ?
              and m.id > ?::uuid
              and exists (select 1 from escrowed_secrets e where e.tenant_id = m.tenant_id
                            and e.machine_id = m.id and e.kind = 'local-admin-password')
            order by m.id limit ?`,
          [
            input.tenantId,
            input.scope.id,
            input.afterMachineId ?? '00000000-0000-0000-0000-000000000000',
            input.limit,
          ],
        );
        return { machineIds: rows.map((r) => r.id) };
      });
    },

    /**
     * A rotation's start or failure on the record (its success is `escrow.rotated`, appended with
     * the confirmation). Keyed by the workflow's run and the event: a retried attempt appends nothing twice.
     */
    async auditRotation(input: {
      tenantId: string;
      machineId: string;
      action: 'escrow.rotation-started' | 'escrow.rotation-failed';
      actor: string;
      /** Workflow id and run id and round: what makes this event unique. */
      key: string;
      data: Record<string, unknown>;
    }): Promise<void> {
      await withTenant(deps.orm, input.tenantId, async (em) => {
        await em.execute(`select pg_advisory_xact_lock(hashtext('escrow-rotation-audit:' || ?))`, [
          input.key,
        ]);
        const [seen] = await em.execute<{ n: string }[]>(
          `select count(*)::text as n from audit_events
            where tenant_id = ? and action = ? and subject_type = 'machine' and subject_id = ? and data->>'key' = ?`,
          [input.tenantId, input.action, input.machineId, input.key],
        );
        if (Number(seen?.n ?? 0) > 0) return;
        await appendAudit(em, {
          tenantId: input.tenantId,
          actor: input.actor,
          action: input.action,
          subjectType: 'machine',
          subjectId: input.machineId,
          data: { ...input.data, key: input.key },
        });
        // A revealed value the rotation gave up on stays valid: someone must see that without looking.
        if (input.action === 'escrow.rotation-failed' && input.data.stillRevealed === true) {
          const what =
            input.data.kind === 'bitlocker-recovery-password'
              ? 'BitLocker recovery password'
              : 'local admin password';
          await em.execute(
            `insert into alerts (id, tenant_id, kind, machine_id, site_id, message, data)
             select ?, ?, ?, m.id, m.site_id, 'The revealed ' || ? || ' of ' || m.hostname || ?, ?::jsonb
               from machines m where m.tenant_id = ? and m.id = ?`,
            [
              randomUUID(),
              input.tenantId,
              AlertKind.EscrowRotationFailed,
              what,
              ` could not be rotated and is still valid (${String(input.data.reason ?? 'no reason given')}). Rotate it on demand once the machine is online.`,
              JSON.stringify({
                workflowId: input.data.workflowId ?? null,
                kind: input.data.kind ?? 'local-admin-password',
              }),
              input.tenantId,
              input.machineId,
            ],
          );
        }
      });
    },
  };
}

export type RotationActivities = ReturnType<typeof createRotationActivities>;

/** A rotation changes active machines only (RotationMachineInactive otherwise: for good). */
async function activeMachine(
  em: EntityManager,
  input: { tenantId: string; machineId: string },
): Promise<void> {
  const [machine] = await em.execute<{ status: string }[]>(
    `select status from machines where tenant_id = ? and id = ?`,
    [input.tenantId, input.machineId],
  );
  if (!machine || machine.status !== 'active')
    throw permanent(
      RotationFailure.RotationMachineInactive,
      machine ? `the machine is ${machine.status}, not active` : 'the machine does not exist',
    );
}
