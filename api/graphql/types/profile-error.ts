import type { ProfileError } from '../../../infra/provisioning/profile';
import { builder } from '../builder';

export const ProfileErrorRef = builder.objectRef<ProfileError>('ProfileError').implement({
  description:
    'One problem in a profile document, with its path (for example phases.apps.installers.0.sha256).',
  fields: (t) => ({
    path: t.exposeString('path'),
    message: t.exposeString('message'),
    code: t.exposeString('code', {
      nullable: true,
      description:
        'A stable code where the schema gives one (the join phase: JOIN_TARGET_REQUIRED, JOIN_OU_INVALID, …).',
    }),
  }),
});
