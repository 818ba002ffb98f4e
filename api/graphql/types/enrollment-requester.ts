import type { EnrollmentRequester } from '../../../infra/db/entities';
import { builder } from '../builder';

export const EnrollmentRequesterRef = builder
  .objectRef<EnrollmentRequester>('EnrollmentRequester')
  .implement({
    description: 'Who asked for the decision: the enrollment request behind it.',
    fields: (t) => ({
      sourceIp: t.exposeString('sourceIp'),
      siteId: t.exposeID('siteId'),
      siteCode: t.exposeString('siteCode'),
      hostname: t.exposeString('hostname'),
      keyVersion: t.exposeInt('keyVersion'),
      at: t.exposeString('at'),
    }),
  });
