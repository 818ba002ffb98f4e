import type { DiscoveredHost } from '../../../infra/db/discovered-hosts';
import { addManualHost, discoveredHostsOf } from '../../services/directory';
import { builder } from '../builder';

const DiscoveredHostRef = builder.objectRef<DiscoveredHost>('DiscoveredHost').implement({
  description:
    'A computer of a site: found in its Active Directory by the site’s gateway (source DIRECTORY) or ' +
    'added by hand (MANUAL; enumerations fill it in, never overwrite it).',
  fields: (t) => ({
    id: t.exposeID('id'),
    source: t.string({ description: '`directory` or `manual`.', resolve: (h) => h.source }),
    objectGuid: t.exposeString('objectGuid', { nullable: true }),
    name: t.exposeString('name'),
    dnsName: t.exposeString('dnsName', { nullable: true }),
    os: t.exposeString('os', { nullable: true }),
    osVersion: t.exposeString('osVersion', { nullable: true }),
    ouDn: t.exposeString('ouDn', { nullable: true }),
    enabled: t.exposeBoolean('enabled', { nullable: true }),
    lastLogonAt: t.field({ type: 'DateTime', nullable: true, resolve: (h) => h.lastLogonAt }),
    role: t.string({
      nullable: true,
      description: '`domain-controller`, `server` or `workstation`.',
      resolve: (h) => h.role,
    }),
    machineId: t.exposeID('machineId', { nullable: true }),
    firstSeenAt: t.field({ type: 'DateTime', resolve: (h) => h.firstSeenAt }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (h) => h.lastSeenAt }),
    disappearedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When an enumeration no longer found it in AD (it is kept, not deleted).',
      resolve: (h) => h.disappearedAt,
    }),
  }),
});

builder.queryField('discoveredHosts', (t) =>
  t.field({
    type: [DiscoveredHostRef],
    description: 'The site’s discovered and manual hosts, current first, then those gone from AD.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => discoveredHostsOf(ctx, String(args.siteId)),
  }),
);

const AddManualHostInput = builder.inputType('AddManualHostInput', {
  fields: (t) => ({
    siteId: t.id({ required: true }),
    name: t.string({ required: true }),
    dnsName: t.string({ description: 'Its DNS host name; an enumeration matches it by this name.' }),
    os: t.string(),
  }),
});

builder.mutationField('addManualHost', (t) =>
  t.field({
    type: DiscoveredHostRef,
    description: 'Adds a host to a site by hand (operator role). HOST_EXISTS if its DNS name is listed.',
    args: { input: t.arg({ type: AddManualHostInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      addManualHost(ctx, {
        siteId: String(input.siteId),
        name: input.name,
        dnsName: input.dnsName,
        os: input.os,
      }),
  }),
);
