import type { SiteInstaller } from '../../../infra/db/entities';
import {
  buildSiteInstallers,
  installerBuildOf,
  installerDownloadUrl,
  listSiteInstallers,
  type InstallerBuild,
} from '../../services/installers';
import { builder } from '../builder';

const InstallerKindRef = builder.enumType('InstallerKind', {
  values: { EXE: { value: 'exe' }, MSI: { value: 'msi' } } as const,
});

const SiteInstallerRef = builder.objectRef<SiteInstaller>('SiteInstaller').implement({
  description:
    'A signed installer for a site’s current enrollment key: the NSIS bootstrapper (EXE) or the MSI. ' +
    'It carries the site’s enrollment key: treat the file and its link like the key.',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: InstallerKindRef, resolve: (r) => r.kind }),
    fileName: t.exposeString('fileName'),
    fingerprint: t.exposeString('fingerprint', { description: '`vN (XXXX)` of the key it carries.' }),
    agentVersion: t.exposeString('agentVersion'),
    sha256: t.exposeString('sha256'),
    sizeBytes: t.float({ resolve: (r) => Number(r.sizeBytes) }),
    builtAt: t.field({ type: 'DateTime', resolve: (r) => r.builtAt }),
    downloadUrl: t.string({
      description: 'A link that works for 10 minutes (no sign-in needed: an RMM can fetch it).',
      resolve: (r, _args, ctx) => installerDownloadUrl(ctx, r).url,
    }),
    downloadUrlExpiresAt: t.field({
      type: 'DateTime',
      resolve: (r, _args, ctx) => installerDownloadUrl(ctx, r).expiresAt,
    }),
  }),
});

const InstallerBuildRef = builder.objectRef<InstallerBuild>('InstallerBuild').implement({
  description: 'A build of a site’s installers (the buildSiteInstallers workflow).',
  fields: (t) => ({
    workflowId: t.exposeString('workflowId'),
    fingerprint: t.exposeString('fingerprint'),
    agentVersion: t.exposeString('agentVersion'),
    state: t.exposeString('state', { description: 'RUNNING, COMPLETED or FAILED.' }),
    percent: t.exposeInt('percent'),
    stage: t.exposeString('stage', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

builder.queryField('siteInstallers', (t) =>
  t.field({
    type: [SiteInstallerRef],
    description:
      'The current signed EXE and MSI of a site (its active key, this agent version); empty until built ' +
      '(buildSiteInstallers) and again after a key rotation. Operator role.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => listSiteInstallers(ctx, String(args.siteId)),
  }),
);

builder.queryField('installerBuild', (t) =>
  t.field({
    type: InstallerBuildRef,
    nullable: true,
    description:
      'Progress of the build of the site’s installers for its current key; null if none was started.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => installerBuildOf(ctx, String(args.siteId)),
  }),
);

builder.mutationField('buildSiteInstallers', (t) =>
  t.field({
    type: InstallerBuildRef,
    description:
      'Builds the site’s signed EXE and MSI for its current enrollment key (a Temporal workflow; cached per ' +
      'agent version and key version, so repeating it is cheap). Returns at once: follow installerBuild. Operator role.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => buildSiteInstallers(ctx, String(args.siteId)),
  }),
);
