import type { AuditEvent } from '../../../infra/db/entities';
import { auditChainStatus, listAuditEvents, type AuditChainStatus } from '../../services/audit';
import { builder } from '../builder';

export const AuditEventRef = builder.objectRef<AuditEvent>('AuditEvent').implement({
  description: 'One link of the tenant’s tamper-evident audit chain.',
  fields: (t) => ({
    seq: t.string({ resolve: (e) => String(e.seq) }),
    occurredAt: t.field({ type: 'DateTime', resolve: (e) => e.occurredAt }),
    actor: t.exposeString('actor'),
    action: t.exposeString('action'),
    subjectType: t.exposeString('subjectType'),
    subjectId: t.exposeString('subjectId'),
    hash: t.exposeString('hash'),
  }),
});

builder.queryField('auditEvents', (t) =>
  t.field({
    type: [AuditEventRef],
    description: 'The newest audit events, newest first (engineer role).',
    args: { last: t.arg.int({ required: false, defaultValue: 50 }) },
    resolve: (_root, args, ctx) => listAuditEvents(ctx, { last: args.last }),
  }),
);

const AuditChainStatusRef = builder.objectRef<AuditChainStatus>('AuditChainStatus').implement({
  description: 'The result of walking the tenant’s whole audit chain (as `drydock audit verify` does).',
  fields: (t) => ({
    ok: t.exposeBoolean('ok'),
    events: t.exposeInt('events'),
    headSeq: t.exposeString('headSeq', { nullable: true }),
    brokenAtSeq: t.exposeString('brokenAtSeq', { nullable: true, description: 'The first broken link.' }),
    problem: t.exposeString('problem', { nullable: true, description: 'What is wrong at brokenAtSeq.' }),
  }),
});

builder.queryField('auditChain', (t) =>
  t.field({
    type: AuditChainStatusRef,
    description: 'Verifies the tenant’s audit chain now (engineer role).',
    resolve: (_root, _args, ctx) => auditChainStatus(ctx),
  }),
);
