import { randomUUID } from 'node:crypto';
import { serverSecret } from '../../../infra/config/env';
import { appendAudit } from '../../../infra/db/audit';
import { Role, SiteEnrollmentKeySchema, SiteSchema } from '../../../infra/db/entities';
import { fingerprint, generateKey, hashKeySecret, parseKey } from '../../../infra/security/keys';
import { builder } from '../builder';
import { apiError, ErrorCode } from '../errors';
import { inTenant, requireIdentity } from '../tenant-scope';

interface IssuedKey {
  siteId: string;
  version: number;
  fingerprint: string;
  key: string;
}

const IssuedKeyRef = builder.objectRef<IssuedKey>('IssuedEnrollmentKey').implement({
  description:
    'A new enrollment key. `key` is shown this once and stored only hashed: copy it into the site installer now.',
  fields: (t) => ({
    siteId: t.exposeID('siteId'),
    version: t.exposeInt('version'),
    fingerprint: t.exposeString('fingerprint', {
      description: '`vN (XXXX)`: compare it with the one on the installer.',
    }),
    key: t.exposeString('key'),
  }),
});

builder.mutationField('rotateEnrollmentKey', (t) =>
  t.field({
    type: IssuedKeyRef,
    description:
      "Issues the site's first enrollment key, or a new version of it. From then on older keys enroll nothing new; " +
      'machines already enrolled keep working with their own agent keys. Admin role.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Admin);
      const secret = serverSecret(ctx.env);
      return inTenant(ctx, async (em) => {
        const site = await em.findOne(SiteSchema, { id: String(args.siteId) });
        if (!site) throw apiError(ErrorCode.NotFound, 'site not found');
        const current = await em.find(
          SiteEnrollmentKeySchema,
          { siteId: site.id },
          { orderBy: { version: 'desc' } },
        );
        for (const k of current.filter((k) => k.active)) {
          k.active = false;
          k.retiredAt = new Date();
        }
        await em.flush();
        const version = (current[0]?.version ?? 0) + 1;
        const { key, keyId } = generateKey('dek');
        const fp = fingerprint(version, key);
        em.create(SiteEnrollmentKeySchema, {
          id: randomUUID(),
          tenantId: identity.tenantId,
          siteId: site.id,
          version,
          keyId,
          keyHash: hashKeySecret(secret, parseKey(key, 'dek')!),
          fingerprint: fp,
          active: true,
          createdBy: identity.actor,
          createdAt: new Date(),
        });
        await em.flush();
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: version === 1 ? 'enrollment_key.created' : 'enrollment_key.rotated',
          subjectType: 'site',
          subjectId: site.id,
          data: { siteCode: site.code, version, fingerprint: fp },
        });
        return { siteId: site.id, version, fingerprint: fp, key };
      });
    },
  }),
);
