import { currentViewer, updateBranding, brandingOf, type Branding, type Viewer } from '../../services/viewer';
import { builder } from '../builder';
import { TenantRef } from './tenant';

export const BrandingRef = builder.objectRef<Branding>('Branding').implement({
  description: 'White-label: what the portal shows for the tenant.',
  fields: (t) => ({
    displayName: t.exposeString('displayName'),
    logoUrl: t.exposeString('logoUrl', { nullable: true }),
    accentColor: t.exposeString('accentColor', { description: '#RRGGBB' }),
  }),
});

builder.objectField(TenantRef, 'branding', (t) =>
  t.field({ type: BrandingRef, resolve: (tenant) => brandingOf(tenant) }),
);

const ViewerUserRef = builder.objectRef<NonNullable<Viewer['user']>>('ViewerUser').implement({
  fields: (t) => ({ id: t.exposeID('id'), email: t.exposeString('email'), name: t.exposeString('name') }),
});

const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  description: 'Who is asking (the session of /auth/session, for GraphQL clients).',
  fields: (t) => ({
    user: t.field({
      type: ViewerUserRef,
      nullable: true,
      description: 'Null for an API token.',
      resolve: (v) => v.user,
    }),
    role: t.exposeString('role', { description: 'viewer, operator, engineer or admin' }),
    canRevealSecrets: t.exposeBoolean('canRevealSecrets'),
    clientScope: t.field({
      type: ['ID'],
      nullable: true,
      description: 'The clients this caller sees; null = all of the tenant’s.',
      resolve: (v) => v.clientScope,
    }),
    tenant: t.field({ type: TenantRef, resolve: (v) => v.tenant }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({ type: ViewerRef, resolve: (_root, _args, ctx) => currentViewer(ctx) }),
);

const BrandingInput = builder.inputType('BrandingInput', {
  fields: (t) => ({
    displayName: t.string({ required: true }),
    logoUrl: t.string({ required: false }),
    accentColor: t.string({ required: true }),
  }),
});

builder.mutationField('updateBranding', (t) =>
  t.field({
    type: BrandingRef,
    description: 'White-label the portal (admin).',
    args: { input: t.arg({ type: BrandingInput, required: true }) },
    resolve: (_root, { input }, ctx) => updateBranding(ctx, input),
  }),
);
