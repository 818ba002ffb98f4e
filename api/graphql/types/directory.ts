import type { DiscoveredHost } from '../../../infra/db/discovered-hosts';
import {
  addManualHost,
  discoveredHostsOf,
  enumerateDirectoryNow,
  joinCredentialOf,
  setDomainCredential,
  setJoinCredential,
  setMachineRoleOf,
  siteDiscoveryOf,
  startSiteDiscovery,
  type SiteDiscovery,
} from '../../services/directory';
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
    deployState: t.exposeString('deployState', {
      nullable: true,
      description:
        'Its agent deployment (deployAgents): `queued`, `probing`, `installing`, `awaiting-enrollment`, `deployed`, `skipped` or `failed`; null if none was started.',
    }),
    deployReason: t.exposeString('deployReason', {
      nullable: true,
      description: 'Why it was skipped or failed, or what the install did, in words.',
    }),
    deployUpdatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (h) => h.deployUpdatedAt }),
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

type DomainController = NonNullable<SiteDiscovery['domain']>['domainControllers'][number];

const DomainControllerRef = builder.objectRef<DomainController>('DomainController').implement({
  fields: (t) => ({
    host: t.exposeString('host'),
    port: t.exposeInt('port'),
    addresses: t.exposeStringList('addresses'),
  }),
});

const DiscoveredDomainRef = builder
  .objectRef<NonNullable<SiteDiscovery['domain']>>('DiscoveredDomain')
  .implement({
    description: 'What the gateway found in DNS: the domain, its controllers, its AD site.',
    fields: (t) => ({
      domain: t.exposeString('domain'),
      baseDn: t.exposeString('baseDn', { nullable: true }),
      site: t.exposeString('site', { nullable: true }),
      domainControllers: t.field({ type: [DomainControllerRef], resolve: (d) => d.domainControllers }),
      certificateSha256: t.string({
        nullable: true,
        description: 'SHA-256 of the DC’s LDAPS certificate: compare it before trusting or pinning it.',
        resolve: (d) => d.certificate?.sha256 ?? null,
      }),
    }),
  });

const EnumerationSummaryRef = builder
  .objectRef<NonNullable<SiteDiscovery['enumeration']>>('EnumerationSummary')
  .implement({
    fields: (t) => ({
      domain: t.exposeString('domain'),
      pages: t.exposeInt('pages'),
      computers: t.exposeInt('computers'),
      added: t.int({ nullable: true, resolve: (e) => e.added ?? null }),
      updated: t.int({ nullable: true, resolve: (e) => e.updated ?? null }),
      disappeared: t.int({ nullable: true, resolve: (e) => e.disappeared ?? null }),
    }),
  });

const SiteDiscoveryRef = builder.objectRef<SiteDiscovery>('SiteDiscovery').implement({
  description:
    'A site’s discovery (the discoverSite workflow): its state, the domain found, the credential accepted (id and version, never the password), the enumeration.',
  fields: (t) => ({
    workflowId: t.exposeString('workflowId'),
    running: t.exposeBoolean('running'),
    state: t.string({
      description:
        '`discovering`, `awaiting-credential`, `testing-credential`, `enumerating`, `done`, `not-found` or `failed`.',
      resolve: (d) => d.state,
    }),
    gatewayMachineId: t.exposeID('gatewayMachineId', { nullable: true }),
    domain: t.field({ type: DiscoveredDomainRef, nullable: true, resolve: (d) => d.domain }),
    tried: t.exposeStringList('tried', { description: 'DNS suffixes tried when nothing was found.' }),
    credentialVersion: t.exposeInt('credentialVersion', { nullable: true }),
    reminders: t.exposeInt('reminders'),
    lastRefusal: t.exposeString('lastRefusal', {
      nullable: true,
      description: 'Why the last credential entered was refused.',
    }),
    enumeration: t.field({ type: EnumerationSummaryRef, nullable: true, resolve: (d) => d.enumeration }),
    lastError: t.exposeString('lastError', { nullable: true }),
  }),
});

builder.queryField('siteDiscovery', (t) =>
  t.field({
    type: SiteDiscoveryRef,
    nullable: true,
    description: 'The site’s latest discovery, or null if none was started (viewer role).',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => siteDiscoveryOf(ctx, String(args.siteId)),
  }),
);

builder.mutationField('startSiteDiscovery', (t) =>
  t.field({
    type: SiteDiscoveryRef,
    description:
      'Starts the site’s discovery through its gateway (engineer role): the domain from DNS, then it waits for the domain credential. RUN_IN_PROGRESS while one runs.',
    args: {
      siteId: t.arg.id({ required: true }),
      resolvers: t.arg.stringList({
        required: false,
        description: 'DNS servers to ask; default: the gateway’s own.',
      }),
      searchSuffixes: t.arg.stringList({
        required: false,
        description: 'DNS suffixes to try; default: the gateway’s own.',
      }),
    },
    resolve: (_root, args, ctx) =>
      startSiteDiscovery(ctx, {
        siteId: String(args.siteId),
        resolvers: args.resolvers,
        searchSuffixes: args.searchSuffixes,
      }),
  }),
);

const DirectorySecurityEnum = builder.enumType('DirectorySecurity', {
  values: { LDAPS: { value: 'ldaps' }, STARTTLS: { value: 'starttls' } } as const,
});

const SetDomainCredentialInput = builder.inputType('SetDomainCredentialInput', {
  fields: (t) => ({
    siteId: t.id({ required: true }),
    user: t.string({
      required: true,
      description: 'user@domain, DOMAIN\\user, or a name of the found domain.',
    }),
    password: t.string({ required: true }),
    security: t.field({ type: DirectorySecurityEnum, required: false, description: 'Default LDAPS.' }),
    caPem: t.string({
      required: false,
      description: 'The private CA that issued the DC’s certificate (PEM).',
    }),
    pinSha256: t.string({
      required: false,
      description: 'Accept only the DC certificate with this SHA-256.',
    }),
  }),
});

const DomainCredentialRef = builder
  .objectRef<{ version: number | null; domain: string; user: string }>('DomainCredential')
  .implement({
    description: 'A site’s accepted domain credential (never its password).',
    fields: (t) => ({
      version: t.exposeInt('version', { nullable: true }),
      domain: t.exposeString('domain'),
      user: t.exposeString('user'),
    }),
  });

builder.mutationField('setDomainCredential', (t) =>
  t.field({
    type: DomainCredentialRef,
    description:
      'Enters the site’s domain credential (engineer role) while its discovery waits for one: tested by a bind through the gateway and accepted only if it succeeds; CREDENTIAL_REFUSED with the reason if not. The password is stored sealed and is never returned.',
    args: { input: t.arg({ type: SetDomainCredentialInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      setDomainCredential(ctx, {
        siteId: String(input.siteId),
        user: input.user,
        password: input.password,
        security: input.security ?? null,
        caPem: input.caPem ?? null,
        pinSha256: input.pinSha256 ?? null,
      }),
  }),
);

const SetJoinCredentialInput = builder.inputType('SetJoinCredentialInput', {
  fields: (t) => ({
    siteId: t.id({ required: true }),
    domain: t.string({ required: true, description: 'The domain’s DNS name (contoso.com).' }),
    user: t.string({
      required: true,
      description:
        'DOMAIN\\user or user@domain: an account that may create computer objects in the join OU, nothing more.',
    }),
    password: t.string({ required: true }),
  }),
});

builder.mutationField('setJoinCredential', (t) =>
  t.field({
    type: DomainCredentialRef,
    description:
      'Stores the site’s join credential (engineer role; ADR 0048): the account its machines join the domain with when a profile’s join phase names credential "site". Sealed, never returned; it reaches only the claim of a join.domain task of a machine of the site.',
    args: { input: t.arg({ type: SetJoinCredentialInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      setJoinCredential(ctx, {
        siteId: String(input.siteId),
        domain: input.domain,
        user: input.user,
        password: input.password,
      }),
  }),
);

builder.queryField('siteJoinCredential', (t) =>
  t.field({
    type: DomainCredentialRef,
    nullable: true,
    description:
      'The site’s join credential: its domain, account and version, never the password; null when it has none (viewer role).',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => joinCredentialOf(ctx, String(args.siteId)),
  }),
);

builder.mutationField('enumerateDirectoryNow', (t) =>
  t.field({
    type: 'Boolean',
    description:
      'Runs the site’s enumeration now (operator role), with its current credential and gateway. NOT_FOUND before its discovery set a schedule.',
    args: { siteId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => enumerateDirectoryNow(ctx, String(args.siteId)),
  }),
);

const MachineRoleEnum = builder.enumType('MachineRole', {
  description: 'What a machine does: an endpoint, or its site’s gateway (LAN work: discovery, enumeration).',
  values: { ENDPOINT: { value: 'endpoint' }, GATEWAY: { value: 'gateway' } } as const,
});

const MachineRoleChangeRef = builder
  .objectRef<{ id: string; role: string }>('MachineRoleChange')
  .implement({ fields: (t) => ({ id: t.exposeID('id'), role: t.exposeString('role') }) });

builder.mutationField('setMachineRole', (t) =>
  t.field({
    type: MachineRoleChangeRef,
    description:
      'Makes an active machine its site’s gateway, or an endpoint again (engineer role). Only an active gateway is handed its site’s domain credential. Audited.',
    args: { machineId: t.arg.id({ required: true }), role: t.arg({ type: MachineRoleEnum, required: true }) },
    resolve: (_root, args, ctx) =>
      setMachineRoleOf(ctx, { machineId: String(args.machineId), role: args.role }),
  }),
);
