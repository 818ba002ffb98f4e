import { appendAudit } from '../../infra/db/audit';
import { AUDIT_CHAIN_SQL, checkAuditChain, type AuditChainRow } from '../../infra/db/audit-verify';
import { AuditEventSchema, Role, type AuditEvent } from '../../infra/db/entities';
import type { EntityManager } from '../../infra/db/orm';
import { checkRange } from './input';
import { authorize, inTenant, type Caller, type ServiceContext } from './service-context';

/** What happened, to what; who did it and in which tenant come from the caller. */
export interface AuditEntry {
  action: string;
  subjectType: string;
  subjectId: string;
  data?: Record<string, unknown>;
}

/** Appends the entry to the tenant's chain as `who`, inside the caller's transaction. */
export async function appendAuditAs(
  em: EntityManager,
  who: Pick<Caller, 'tenantId' | 'actor'>,
  entry: AuditEntry,
): Promise<unknown> {
  return appendAudit(em, { tenantId: who.tenantId, actor: who.actor, ...entry });
}

/**
 * A change and its audit event, in one tenant transaction of the caller: `write` runs and is
 * flushed, then the entry its result calls for is appended; both commit or neither does. Every
 * change an operator makes through a service goes through here (authorize first).
 */
export async function audited<T>(
  ctx: ServiceContext,
  write: (em: EntityManager, caller: Caller) => Promise<T>,
  entry: (result: T) => AuditEntry,
): Promise<T> {
  return inTenant(ctx, async (em, caller) => {
    const result = await write(em, caller);
    await em.flush();
    await appendAuditAs(em, caller, entry(result));
    return result;
  });
}

/** The audit event of a change made elsewhere (a signal to a workflow), in a transaction of its own. */
export async function auditAfter(ctx: ServiceContext, entry: AuditEntry): Promise<void> {
  return audited(
    ctx,
    async () => undefined,
    () => entry,
  );
}

/** The newest audit events, newest first (engineer role). */
export async function listAuditEvents(
  ctx: ServiceContext,
  input: { last?: number | null },
): Promise<AuditEvent[]> {
  authorize(ctx, Role.Engineer);
  const limit = checkRange(input.last, 'last', { min: 1, max: 500, fallback: 50 });
  return inTenant(ctx, async (em, caller) => {
    if (!caller.clientScope) return em.find(AuditEventSchema, {}, { orderBy: { seq: 'desc' }, limit });
    // A caller scoped to some clients sees the events about what it can see: those clients, their
    // sites, machines and runs (the subqueries run under the same client scope, ADR 0031).
    const rows = await em.execute<{ id: string }[]>(
      `select e.id::text from audit_events e
        where case when e.subject_id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then false
          else case e.subject_type
            when 'client' then exists (select 1 from clients c where c.id = e.subject_id::uuid)
            when 'site' then exists (select 1 from sites s where s.id = e.subject_id::uuid)
            when 'machine' then exists (select 1 from machines m where m.id = e.subject_id::uuid)
            when 'machine_run' then exists (select 1 from machine_runs r where r.id = e.subject_id::uuid)
            when 'fleet_run' then exists (select 1 from fleet_runs f where f.id = e.subject_id::uuid)
            when 'tweak_undo' then exists (select 1 from tweak_undos u where u.id = e.subject_id::uuid)
            when 'escrowed_secret' then exists (select 1 from escrowed_secrets x where x.id = e.subject_id::uuid)
            else false end end
        order by e.seq desc limit ?`,
      [limit],
    );
    return rows.length
      ? em.find(AuditEventSchema, { id: { $in: rows.map((r) => r.id) } }, { orderBy: { seq: 'desc' } })
      : [];
  });
}

export interface AuditChainStatus {
  ok: boolean;
  events: number;
  headSeq: string | null;
  brokenAtSeq: string | null;
  problem: string | null;
}

/**
 * Walks the caller's tenant's whole audit chain, as `drydock audit verify` does, inside the tenant's
 * own transaction (engineer role): ok, or the first broken link and what is wrong with it.
 */
export async function auditChainStatus(ctx: ServiceContext): Promise<AuditChainStatus> {
  authorize(ctx, Role.Engineer);
  return inTenant(ctx, async (em, caller) => {
    const rows = await em.execute<AuditChainRow[]>(AUDIT_CHAIN_SQL.replace('$1', '?'), [caller.tenantId]);
    const report = checkAuditChain(caller.tenantId, rows);
    return {
      ok: !report.break,
      events: report.events,
      headSeq: report.headSeq,
      brokenAtSeq: report.break?.seq ?? null,
      problem: report.break?.problem ?? null,
    };
  });
}
