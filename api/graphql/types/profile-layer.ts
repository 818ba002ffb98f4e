import { setProfileLayer } from '../../services/profiles';
import { builder } from '../builder';

const ProfileLayerScope = builder.enumType('ProfileLayerScope', {
  values: ['TENANT', 'CLIENT', 'SITE', 'MACHINE'] as const,
});

const scopes = { TENANT: 'tenant', CLIENT: 'client', SITE: 'site', MACHINE: 'machine' } as const;

builder.mutationField('setProfileLayer', (t) =>
  t.field({
    type: 'Boolean',
    description:
      'Sets the profile overrides of the tenant, a client, a site or a machine (engineer role). Refused with every error by path if the layer would make the Standard profile invalid.',
    args: {
      scope: t.arg({ type: ProfileLayerScope, required: true }),
      id: t.arg.id({ required: false, description: 'The client, site or machine (not for TENANT).' }),
      documentJson: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      setProfileLayer(ctx, { scope: scopes[args.scope], id: args.id, documentJson: args.documentJson }),
  }),
);
