import { serverSecret } from '../../../infra/config/env';
import { Role, SiteSchema } from '../../../infra/db/entities';
import { rotateEnrollmentKey, type IssuedEnrollmentKey } from '../../../infra/db/enrollment-keys';
import { builder } from '../builder';
import { apiError, ErrorCode } from '../errors';
import { inTenant, requireIdentity } from '../tenant-scope';

const IssuedKeyRef = builder.objectRef<IssuedEnrollmentKey>('IssuedEnrollmentKey').implement({
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
        return rotateEnrollmentKey(em, site, identity.actor, secret);
      });
    },
  }),
);
