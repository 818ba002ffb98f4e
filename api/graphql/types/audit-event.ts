import { AuditEventSchema, Role, type AuditEvent } from '../../../infra/db/entities';
import { builder } from '../builder';
import { checkRange } from '../ids';
import { inTenant, requireIdentity } from '../tenant-scope';

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
    resolve: (_root, args, ctx) => {
      requireIdentity(ctx, Role.Engineer);
      const limit = checkRange(args.last, 'last', { min: 1, max: 500, fallback: 50 });
      return inTenant(ctx, (em) => em.find(AuditEventSchema, {}, { orderBy: { seq: 'desc' }, limit }));
    },
  }),
);
