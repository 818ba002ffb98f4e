import { rotateSiteEnrollmentKey } from '../../services/keys';
import { builder } from '../builder';

const IssuedKeyRef = builder
  .objectRef<Awaited<ReturnType<typeof rotateSiteEnrollmentKey>>>('IssuedEnrollmentKey')
  .implement({
    description:
      'A new enrollment key. `key` is shown this once (to a caller with reveal-secrets; null to others) and stored only hashed: copy it into the site installer now.',
    fields: (t) => ({
      siteId: t.exposeID('siteId'),
      version: t.exposeInt('version'),
      fingerprint: t.exposeString('fingerprint', {
        description: '`vN (XXXX)`: compare it with the one on the installer.',
      }),
      key: t.exposeString('key', { nullable: true }),
    }),
  });

builder.mutationField('rotateEnrollmentKey', (t) =>
  t.field({
    type: IssuedKeyRef,
    description:
      "Issues the site's first enrollment key, or a new version of it. From then on older keys enroll nothing new; " +
      'machines already enrolled keep working with their own agent keys. Engineer role.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => rotateSiteEnrollmentKey(ctx, { siteId: args.siteId }),
  }),
);
