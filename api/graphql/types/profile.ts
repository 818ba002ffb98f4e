import type { ProfileVersion } from '../../../infra/db/entities';
import { listProfiles, resolvedProfile, saveProfile, validateProfile } from '../../services/profiles';
import { builder } from '../builder';
import { ProfileErrorRef } from './profile-error';

const ProfileRef = builder.objectRef<ProfileVersion>('Profile').implement({
  description: 'One saved version of a provisioning profile.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    version: t.exposeInt('version'),
    documentJson: t.string({
      description: 'The document as saved (a layer over the Standard profile).',
      resolve: (p) => JSON.stringify(p.document),
    }),
    resolvedJson: t.string({
      description: 'The document merged over the built-in Standard profile.',
      resolve: (p) => JSON.stringify(resolvedProfile(p)),
    }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
  }),
});

builder.queryField('profiles', (t) =>
  t.field({
    type: [ProfileRef],
    description: 'Every saved version, newest first.',
    resolve: (_root, _args, ctx) => listProfiles(ctx),
  }),
);

builder.queryField('validateProfile', (t) =>
  t.field({
    type: [ProfileErrorRef],
    description: 'Checks a profile document (JSON) without saving it; an empty list means valid.',
    args: { documentJson: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => validateProfile(ctx, { documentJson: args.documentJson }),
  }),
);

builder.mutationField('saveProfile', (t) =>
  t.field({
    type: ProfileRef,
    description:
      'Saves a new version of a profile (engineer role). An invalid document is refused with every error by path.',
    args: { name: t.arg.string({ required: true }), documentJson: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => saveProfile(ctx, { name: args.name, documentJson: args.documentJson }),
  }),
);
