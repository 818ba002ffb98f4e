import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Client as TemporalClient } from '@temporalio/client';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { schema } from '../../api/graphql/schema';
import { roleRank } from '../../api/auth/identity';
import { fieldAccess } from '../../api/services/permissions';
import {
  ClientSchema,
  MachineSchema,
  MachineStatus,
  MembershipSchema,
  Role,
  SiteSchema,
  UserSchema,
} from '../../infra/db/entities';
import { installEscrowKey, storeEscrowedSecret } from '../../infra/db/escrow';
import { withTenant, type Orm } from '../../infra/db/orm';
import {
  generateTenantKey,
  keyFingerprint,
  parseWrappedTenantKey,
  publicPart,
  sealEscrowSecret,
  wrapTenantKey,
} from '../../infra/wire/escrow-envelope';
import { buildTestApp } from '../helpers/api';
import { mintApiToken } from '../helpers/auth';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';
import { freePort } from '../helpers/shared';
import { startTestWorker, testTemporalClient } from '../helpers/temporal';

/**
 * Acceptance 2 of issue 13: the whole GraphQL schema, every query, mutation and subscription found
 * by introspection, walked as every role, as a user scoped to one client, and as an admin of
 * another tenant. Each gets exactly what api/services/permissions.ts declares — a field without an
 * entry fails here — and an id it may not see answers exactly as an id that never existed.
 */

let db: TestDatabase;
let orm: Orm;
let temporal: TemporalClient;
let worker: { stop(): Promise<void>; taskQueue: string };
let app: FastifyInstance;
let baseUrl: string;
let a: TenantFixture;
let b: TenantFixture;

/** What an id argument points at. */
type Kind =
  | 'client'
  | 'site'
  | 'siteNoKey'
  | 'machine'
  | 'pendingMachine'
  | 'profile'
  | 'fleetRun'
  | 'machineRun'
  | 'tweakUndo'
  | 'machineTweakUndo'
  | 'user'
  | 'apiToken'
  | 'profileMigration'
  | 'profileMigrationBatch'
  | 'escrowedSecret';
type Ids = Record<Kind, string>;

/** The ids each argument of a root field refers to. A new id argument must be declared here. */
const idArgs: Record<string, Kind> = {
  'Query.fleetRun.id': 'fleetRun',
  'Query.machineRun.id': 'machineRun',
  'Query.machineRuns.machineId': 'machine',
  'Query.machineTweakUndo.id': 'machineTweakUndo',
  'Query.machineTweakUndos.machineId': 'machine',
  'Query.machines.siteId': 'site',
  'Query.machinePage.siteId': 'site',
  'Query.machine.id': 'machine',
  'Query.site.id': 'site',
  'Query.siteInstallers.siteId': 'site',
  'Query.installerBuild.siteId': 'site',
  'Query.discoveredHosts.siteId': 'site',
  'Query.siteDiscovery.siteId': 'site',
  'Query.siteJoinCredential.siteId': 'site',
  'Mutation.startSiteDiscovery.siteId': 'site',
  'Mutation.enumerateDirectoryNow.siteId': 'site',
  'Mutation.setMachineRole.machineId': 'machine',
  'Query.tweakUndo.id': 'tweakUndo',
  'Mutation.approveMachine.id': 'pendingMachine',
  'Mutation.rejectMachine.id': 'pendingMachine',
  'Mutation.buildSiteInstallers.siteId': 'siteNoKey',
  'Mutation.cancelTweakUndo.id': 'tweakUndo',
  'Mutation.collectInventory.machineId': 'machine',
  'Mutation.controlFleetRun.id': 'fleetRun',
  'Mutation.controlMachineRun.id': 'machineRun',
  'Mutation.provisionMachine.machineId': 'machine',
  'Mutation.rotateBitLockerRecoveryPassword.machineId': 'machine',
  'Mutation.rotateLocalAdminPassword.machineId': 'machine',
  'Mutation.provisionMachine.profileId': 'profile',
  'Mutation.retryMachineRun.id': 'machineRun',
  'Mutation.revokeAgentKey.machineId': 'machine',
  'Mutation.rotateEnrollmentKey.siteId': 'site',
  'Mutation.setProfileLayer.id': 'site',
  'Mutation.undoTweaks.machineId': 'machine',
  'Mutation.removeUser.userId': 'user',
  'Mutation.revokeApiToken.id': 'apiToken',
  'Subscription.fleetRunProgress.id': 'fleetRun',
  'Query.profileMigration.id': 'profileMigration',
  'Query.profileMigrationBatch.id': 'profileMigrationBatch',
  'Query.profileMigrations.machineId': 'machine',
  'Mutation.decideProfileMigration.id': 'profileMigration',
  'Mutation.cancelProfileMigration.id': 'profileMigration',
  'Query.escrowedSecrets.machineId': 'machine',
  'Mutation.revealSecret.id': 'escrowedSecret',
  'Query.passwordRotationSchedule.id': 'site',
  'Mutation.rotateLocalAdminPasswords.id': 'site',
  'Mutation.setPasswordRotationSchedule.id': 'site',
};

let serial = 0;
const unique = () => `${Date.now().toString(36)}${(serial++).toString(36)}`.toUpperCase();

/** A value for each input object, from the ids of the side being walked. A new input type must be declared here. */
const inputs: Record<string, (ids: Ids) => Record<string, unknown>> = {
  CreateSiteInput: (ids) => ({ clientId: ids.client, code: `W-${unique()}`, name: 'Walk' }),
  FleetRunStartInput: (ids) => ({ profileId: ids.profile, machineIds: [ids.machine], concurrency: 1 }),
  TweakUndoFleetInput: (ids) => ({ machineIds: [ids.machine] }),
  BrandingInput: () => ({ displayName: 'Walk', accentColor: '#123456' }),
  AddUserInput: () => ({ email: `walk-${unique().toLowerCase()}@walk.test`, role: 'viewer' }),
  UserAccessInput: (ids) => ({ userId: ids.user, role: 'viewer' }),
  CreateApiTokenInput: () => ({ name: 'walk', role: 'viewer' }),
  SetDomainCredentialInput: (ids) => ({ siteId: ids.site, user: 'walk', password: 'Walk-Passw0rd' }),
  SetJoinCredentialInput: (ids) => ({
    siteId: ids.site,
    domain: 'walk.test',
    user: 'WALK\\svc-join',
    password: 'Walk-Passw0rd',
  }),
  // Not a key made for this tenant: refused as ESCROW_KEY_INVALID by whoever may call it.
  SetupEscrowKeyInput: () => ({ publicKey: 'walk', wrappedPrivateKey: 'ddk1.walk', keyVersion: 1 }),
  // No secret of any tenant: stored 0, or ESCROW_KEY_MISSING where escrow is not set up.
  SubmitRewrappedSecretsInput: () => ({ secrets: [] }),
  // A site's id is no host of it: the walk sees NOT_FOUND where the caller may deploy.
  DeployAgentsInput: (ids) => ({ siteId: ids.site, hostIds: [ids.site], concurrency: 1 }),
  AddManualHostInput: (ids) => ({
    siteId: ids.site,
    name: 'Walk',
    dnsName: `walk-${unique().toLowerCase()}.walk.test`,
  }),
  StartProfileMigrationInput: (ids) => ({
    machineId: ids.machine,
    source: `walk${unique().toLowerCase()}`,
    target: { kind: 'local', name: `new${unique().toLowerCase()}` },
    mode: 'in-place',
  }),
  StartProfileMigrationBatchInput: (ids) => ({
    pairs: [
      {
        machineId: ids.machine,
        source: `walk${unique().toLowerCase()}`,
        target: { kind: 'local', name: `new${unique().toLowerCase()}` },
      },
    ],
    mode: 'in-place',
  }),
};

/** Required scalar and enum arguments that are not ids, by name. */
const scalarArgs: Record<string, unknown> = {
  documentJson: '{}',
  // Not a blob of this tenant's key: ESCROW_KEY_INVALID for whoever may call it.
  wrappedPrivateKey: 'ddk1.walk',
  keyVersion: 1,
  name: 'Walk',
  action: 'PAUSE',
  scope: 'SITE',
  decision: 'keep',
  role: 'ENDPOINT',
  workflowId:
    'deploy-agents:00000000-0000-4000-8000-000000000000:00000000-0000-4000-8000-000000000000:00000000-0000-4000-8000-000000000000',
};

/** Fields that hand out a secret to callers with reveal-secrets only: the secret's subfield. */
const secretFields: Record<string, string> = {
  'Mutation.rotateEnrollmentKey': 'key',
  'Query.escrowKey': 'wrappedPrivateKey',
  // A list: its first item (the walk's tenant has a key, so it is never empty).
  'Query.escrowKeys': 'wrappedPrivateKey',
};

interface Answer {
  data: unknown;
  errors: { code: string; message: string }[];
}

interface Caller {
  name: string;
  token: string | null;
  role: Role;
  scoped: boolean;
  reveal: boolean;
}

const rootFields = (): {
  name: string;
  op: 'query' | 'mutation' | 'subscription';
  field: GraphQLField<unknown, unknown>;
}[] =>
  (
    [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ] as const
  ).flatMap(([op, type]) =>
    type
      ? Object.values(type.getFields()).map((field) => ({ name: `${type.name}.${field.name}`, op, field }))
      : [],
  );

function argValue(fieldName: string, arg: GraphQLArgument, ids: Ids): unknown {
  const kind = idArgs[`${fieldName}.${arg.name}`];
  if (kind) return ids[kind];
  const type = getNullableType(arg.type) as GraphQLInputType;
  if (isInputObjectType(type)) {
    const make = inputs[type.name];
    if (!make) throw new Error(`declare a value for input ${type.name} (argument ${fieldName}.${arg.name})`);
    return make(ids);
  }
  if (arg.name in scalarArgs) return scalarArgs[arg.name];
  throw new Error(`declare a value for argument ${fieldName}.${arg.name}`);
}

function operation(op: string, fieldName: string, field: GraphQLField<unknown, unknown>, ids: Ids) {
  const args = field.args.filter((x) => isNonNullType(x.type) || idArgs[`${fieldName}.${x.name}`]);
  const variables = Object.fromEntries(args.map((x) => [x.name, argValue(fieldName, x, ids)]));
  const defs = args.map((x) => `$${x.name}: ${x.type.toString()}`).join(', ');
  const call = args.map((x) => `${x.name}: $${x.name}`).join(', ');
  const type = getNamedType(field.type);
  let selection = '';
  if (isObjectType(type)) {
    const scalars = Object.values(type.getFields()).filter(
      (f) => f.args.length === 0 && (isScalarType(getNamedType(f.type)) || isEnumType(getNamedType(f.type))),
    );
    selection = `{ __typename ${scalars.map((f) => f.name).join(' ')} }`;
  }
  const query = `${op} Walk${defs ? `(${defs})` : ''} { ${field.name}${call ? `(${call})` : ''} ${selection} }`;
  return { query, variables };
}

async function ask(
  caller: Caller,
  op: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<Answer> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(op === 'subscription' ? { accept: 'text/event-stream' } : {}),
      ...(caller.token ? { authorization: `Bearer ${caller.token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(20_000),
  });
  let body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
  if (op === 'subscription') {
    // The first event of the stream is the answer (a refusal ends the stream).
    const text = await res.text();
    const first = /^data: (.*)$/m.exec(text);
    body = first ? JSON.parse(first[1]!) : {};
  } else body = (await res.json()) as typeof body;
  return {
    data: body.data ?? null,
    errors: (body.errors ?? []).map((e) => ({ code: e.extensions?.code ?? 'NONE', message: e.message })),
  };
}

/** The answer with the ids of the request replaced, so two requests differing only in ids compare. */
const normalised = (answer: Answer, ids: Ids) => {
  let text = JSON.stringify(answer);
  for (const id of Object.values(ids)) text = text.split(id).join('<id>');
  // Values made fresh per request (site codes, e-mails) are not part of the answer's shape.
  return (
    text
      // Tokens first: a token's random part may hold "W-…", which is not a site code.
      .replace(/ddt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/g, '<token>')
      .replace(/W-[A-Z0-9]+/g, '<code>')
      .replace(/walk-[a-z0-9]+@walk\.test/g, '<email>')
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<new id>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
  );
};

const nonexistent = (): Ids =>
  Object.fromEntries(
    [
      'client',
      'site',
      'siteNoKey',
      'machine',
      'pendingMachine',
      'profile',
      'fleetRun',
      'machineRun',
      'tweakUndo',
      'machineTweakUndo',
      'user',
      'apiToken',
      'profileMigration',
      'profileMigrationBatch',
      'escrowedSecret',
    ].map((k) => [k, randomUUID()]),
  ) as Ids;

let visible: Ids; // tenant A, client 1: what every caller of A (the scoped one too) may address
let outOfScope: Ids; // tenant A, client 2: not for the caller scoped to client 1
let callers: Record<string, Caller>;

async function addClientWithSite(t: TenantFixture): Promise<{ clientId: string; siteId: string }> {
  return withTenant(orm, t.tenantId, async (em) => {
    const client = em.create(ClientSchema, {
      id: randomUUID(),
      tenantId: t.tenantId,
      name: 'Second',
      createdAt: new Date(),
    });
    await em.flush();
    const site = em.create(SiteSchema, {
      id: randomUUID(),
      tenantId: t.tenantId,
      clientId: client.id,
      code: `S-${unique()}`,
      name: 'Second site',
      createdAt: new Date(),
    });
    await em.flush();
    return { clientId: client.id, siteId: site.id };
  });
}

async function addSite(t: TenantFixture, clientId: string): Promise<string> {
  return withTenant(orm, t.tenantId, async (em) => {
    const site = em.create(SiteSchema, {
      id: randomUUID(),
      tenantId: t.tenantId,
      clientId,
      code: `S-${unique()}`,
      name: 'No key',
      createdAt: new Date(),
    });
    await em.flush();
    return site.id;
  });
}

async function addMachine(t: TenantFixture, siteId: string, status: MachineStatus): Promise<string> {
  return withTenant(orm, t.tenantId, async (em) => {
    const m = em.create(MachineSchema, {
      id: randomUUID(),
      tenantId: t.tenantId,
      siteId,
      machineUid: randomUUID(),
      hostname: `PC-${unique().slice(-6)}`,
      status,
      cloneKey: '',
      hardware: {},
      os: {},
      labels: {},
      createdAt: new Date(),
    });
    await em.flush();
    return m.id;
  });
}

async function addUser(t: TenantFixture): Promise<string> {
  return withTenant(orm, t.tenantId, async (em) => {
    const user = em.create(UserSchema, {
      id: randomUUID(),
      tenantId: t.tenantId,
      email: `u-${unique().toLowerCase()}@walk.test`,
      displayName: 'Target',
      createdAt: new Date(),
    });
    await em.flush();
    em.create(MembershipSchema, {
      id: randomUUID(),
      tenantId: t.tenantId,
      userId: user.id,
      role: Role.Viewer,
      createdAt: new Date(),
    });
    await em.flush();
    return user.id;
  });
}

/** As tenant A's admin: a profile, a fleet run, a machine run, undos — the run-shaped things to address. */
async function runsFor(
  admin: Caller,
  ids: Omit<
    Ids,
    | 'profile'
    | 'fleetRun'
    | 'machineRun'
    | 'tweakUndo'
    | 'machineTweakUndo'
    | 'profileMigration'
    | 'profileMigrationBatch'
    | 'escrowedSecret'
  >,
  profile: string,
  undoMachine: string,
  fleetUndoMachine: string,
): Promise<Ids> {
  const must = async (query: string, variables: Record<string, unknown>) => {
    const r = await ask(admin, 'mutation', query, variables);
    if (r.errors.length) throw new Error(`${query}: ${JSON.stringify(r.errors)}`);
    return r.data as Record<string, Record<string, unknown>>;
  };
  const fleet = await must('mutation($i: FleetRunStartInput!) { startFleetRun(input: $i) { id } }', {
    i: { profileId: profile, machineIds: [ids.machine], concurrency: 1 },
  });
  const fleetRunId = fleet.startFleetRun!.id as string;
  const runs = await must('query($m: ID!) { machineRuns(machineId: $m) { id } }', { m: ids.machine });
  const machineRunId = (runs.machineRuns as unknown as { id: string }[])[0]!.id;
  const undo = await must('mutation($m: ID!) { undoTweaks(machineId: $m) { id } }', { m: undoMachine });
  const fleetUndo = await must('mutation($i: TweakUndoFleetInput!) { undoTweaksFleet(input: $i) { id } }', {
    i: { machineIds: [fleetUndoMachine] },
  });
  const migration = await must(
    'mutation($i: StartProfileMigrationInput!) { startProfileMigration(input: $i) { id } }',
    {
      i: inputs.StartProfileMigrationInput!(ids as Ids),
    },
  );
  const batch = await must(
    'mutation($i: StartProfileMigrationBatchInput!) { startProfileMigrationBatch(input: $i) { id } }',
    { i: inputs.StartProfileMigrationBatchInput!(ids as Ids) },
  );
  return {
    ...ids,
    profileMigration: migration.startProfileMigration!.id as string,
    profileMigrationBatch: batch.startProfileMigrationBatch!.id as string,
    profile,
    fleetRun: fleetRunId,
    machineRun: machineRunId,
    machineTweakUndo: undo.undoTweaks!.id as string,
    tweakUndo: fleetUndo.undoTweaksFleet!.id as string,
    escrowedSecret: '', // filled in once the escrow key is installed (beforeAll)
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  temporal = await testTemporalClient();
  worker = await startTestWorker(orm);
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  app = await buildTestApp(orm, temporal, db.appUrl, worker.taskQueue);
  await app.listen({ host: '127.0.0.1', port });
  a = await createTenant(orm);
  b = await createTenant(orm);
  const second = await addClientWithSite(a);

  const token = (
    t: TenantFixture,
    role: Role,
    opts: { clientIds?: string[]; canRevealSecrets?: boolean } = {},
  ) => mintApiToken(orm, t.tenantId, role, opts);
  callers = {
    anonymous: { name: 'anonymous', token: null, role: Role.Viewer, scoped: false, reveal: false },
    viewer: {
      name: 'viewer',
      token: await token(a, Role.Viewer),
      role: Role.Viewer,
      scoped: false,
      reveal: false,
    },
    operator: {
      name: 'operator',
      token: await token(a, Role.Operator),
      role: Role.Operator,
      scoped: false,
      reveal: false,
    },
    engineer: {
      name: 'engineer',
      token: await token(a, Role.Engineer),
      role: Role.Engineer,
      scoped: false,
      reveal: false,
    },
    admin: {
      name: 'admin',
      token: await token(a, Role.Admin, { canRevealSecrets: true }),
      role: Role.Admin,
      scoped: false,
      reveal: true,
    },
    adminNoReveal: {
      name: 'admin without reveal-secrets',
      token: await token(a, Role.Admin, { canRevealSecrets: false }),
      role: Role.Admin,
      scoped: false,
      reveal: false,
    },
    scopedOperator: {
      name: 'operator scoped to client 1',
      token: await token(a, Role.Operator, { clientIds: [a.clientId] }),
      role: Role.Operator,
      scoped: true,
      reveal: false,
    },
    scopedAdmin: {
      name: 'admin scoped to client 1',
      token: await token(a, Role.Admin, { clientIds: [a.clientId], canRevealSecrets: true }),
      role: Role.Admin,
      scoped: true,
      reveal: true,
    },
    otherTenantAdmin: {
      name: 'admin of another tenant',
      token: await token(b, Role.Admin, { canRevealSecrets: true }),
      role: Role.Admin,
      scoped: false,
      reveal: true,
    },
  };

  const profile = await ask(
    callers.admin!,
    'mutation',
    'mutation { saveProfile(name: "Walk", documentJson: "{}") { id } }',
    {},
  );
  const profileId = (profile.data as { saveProfile: { id: string } }).saveProfile.id;
  const tokenRow = async () => {
    const r = await ask(
      callers.admin!,
      'mutation',
      'mutation { createApiToken(input: { name: "target", role: "viewer" }) { apiToken { id } } }',
      {},
    );
    return (r.data as { createApiToken: { apiToken: { id: string } } }).createApiToken.apiToken.id;
  };
  const side = async (clientId: string, siteId: string) => {
    const base = {
      client: clientId,
      site: siteId,
      siteNoKey: await addSite(a, clientId),
      machine: await addMachine(a, siteId, MachineStatus.Active),
      pendingMachine: await addMachine(a, siteId, MachineStatus.Pending),
      user: await addUser(a),
      apiToken: await tokenRow(),
    };
    return runsFor(
      callers.admin!,
      base,
      profileId,
      await addMachine(a, siteId, MachineStatus.Active),
      await addMachine(a, siteId, MachineStatus.Active),
    );
  };
  visible = await side(a.clientId, a.siteId);
  outOfScope = await side(second.clientId, second.siteId);
  // Escrow (ADR 0044): a tenant key and one escrowed secret per side (rows only: no machine escrowed them).
  const escrow = await generateTenantKey({ tenantId: a.tenantId, keyVersion: 1 });
  const wrapped = await wrapTenantKey(escrow, 'walk-passphrase-long-enough');
  const info = parseWrappedTenantKey(wrapped);
  // The other tenant has a key of its own (its admin reads it, with the wrapped private key).
  const bKey = await generateTenantKey({ tenantId: b.tenantId, keyVersion: 1 });
  const bWrapped = await wrapTenantKey(bKey, 'walk-passphrase-long-enough');
  await withTenant(orm, b.tenantId, async (em) =>
    installEscrowKey(em, {
      tenantId: b.tenantId,
      keyVersion: 1,
      publicKey: bKey.publicKey,
      wrappedPrivateKey: bWrapped,
      kdf: parseWrappedTenantKey(bWrapped).kdf,
      fingerprint: await keyFingerprint(bKey.publicKey),
      createdBy: 'walk',
    }),
  );
  await withTenant(orm, a.tenantId, async (em) => {
    await installEscrowKey(em, {
      tenantId: a.tenantId,
      keyVersion: 1,
      publicKey: escrow.publicKey,
      wrappedPrivateKey: wrapped,
      kdf: info.kdf,
      fingerprint: await keyFingerprint(escrow.publicKey),
      createdBy: 'walk',
    });
    for (const side of [visible, outOfScope]) {
      const record = { machineId: side.machine, kind: 'local-admin-password' as const, secretVersion: 1 };
      const { secret } = await storeEscrowedSecret(em, {
        tenantId: a.tenantId,
        ...record,
        keyVersion: 1,
        envelope: await sealEscrowSecret(publicPart(escrow), record, 'Walk-Secret-1'),
      });
      side.escrowedSecret = secret.id;
    }
  });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await worker?.stop();
  await temporal?.connection.close();
  await db?.drop();
});

const refusedCodes = new Set(['FORBIDDEN', 'UNAUTHENTICATED']);

describe('the whole schema, walked', () => {
  it('has an access rule for every root field, and none for a field that is gone', () => {
    const names = rootFields().map((f) => f.name);
    expect(names.filter((n) => !fieldAccess[n])).toEqual([]);
    expect(Object.keys(fieldAccess).filter((n) => !names.includes(n))).toEqual([]);
    expect(names.length).toBeGreaterThan(40);
  });

  it('gives an id another tenant owns, or another client scope, exactly the answer of an id that does not exist', async () => {
    const pairs: [Caller, Ids][] = [
      [callers.otherTenantAdmin!, visible],
      [callers.otherTenantAdmin!, outOfScope],
      [callers.scopedOperator!, outOfScope],
      [callers.scopedAdmin!, outOfScope],
    ];
    const compared: string[] = [];
    for (const [caller, foreign] of pairs) {
      for (const { name, op, field } of rootFields()) {
        if (
          !field.args.some((x) => idArgs[`${name}.${x.name}`] || isInputObjectType(getNullableType(x.type)))
        )
          continue;
        const asForeign = operation(op, name, field, foreign);
        // A scoped caller of the same tenant does see the tenant's profiles, users and tokens.
        const missing = caller.scoped
          ? { ...nonexistent(), profile: foreign.profile, user: foreign.user, apiToken: foreign.apiToken }
          : nonexistent();
        const asMissing = operation(op, name, field, missing);
        const [x, y] = [
          await ask(caller, op, asForeign.query, asForeign.variables),
          await ask(caller, op, asMissing.query, asMissing.variables),
        ];
        expect({ caller: caller.name, field: name, answer: normalised(x, foreign) }).toEqual({
          caller: caller.name,
          field: name,
          answer: normalised(y, missing),
        });
        compared.push(`${caller.name} ${name}`);
      }
    }
    expect(compared.length).toBeGreaterThan(80);
  });

  it('answers every field for every role exactly as the table declares, and never shows what is out of reach', async () => {
    const aIds = [...Object.values(visible), ...Object.values(outOfScope), a.tenantId];
    for (const caller of Object.values(callers)) {
      // The other tenant's admin walks with its own ids (which its own tenant lacks): no A id may come back.
      // Profiles, users and tokens belong to the whole tenant, not to a client.
      const clientBound = (Object.keys(outOfScope) as Kind[])
        .filter((k) => !['profile', 'user', 'apiToken'].includes(k))
        .map((k) => outOfScope[k]);
      const forbiddenIds = caller === callers.otherTenantAdmin ? aIds : caller.scoped ? clientBound : [];
      for (const { name, op, field } of rootFields()) {
        const access = fieldAccess[name]!;
        // A live subscription to a real run streams until the run ends: walked above (refusals and ids) instead.
        if (op === 'subscription' && caller.token && caller !== callers.otherTenantAdmin) continue;
        const ids = caller === callers.otherTenantAdmin ? nonexistent() : visible;
        const { query, variables } = operation(op, name, field, ids);
        const answer = await ask(caller, op, query, variables);
        const codes = answer.errors.map((e) => e.code);
        const allowed =
          !!caller.token &&
          roleRank[caller.role] >= roleRank[access.role] &&
          !(access.tenantWide && caller.scoped) &&
          !(access.revealSecrets === 'required' && !caller.reveal);
        const expected = !caller.token ? ['UNAUTHENTICATED'] : allowed ? 'not refused' : ['FORBIDDEN'];
        const got = codes.some((c) => refusedCodes.has(c)) ? codes : 'not refused';
        expect({ caller: caller.name, field: name, got }).toEqual({
          caller: caller.name,
          field: name,
          got: expected,
        });
        if (!allowed)
          expect({
            field: name,
            value: (answer.data as Record<string, unknown> | null)?.[field.name] ?? null,
          }).toEqual({
            field: name,
            value: null,
          });
        const text = JSON.stringify(answer);
        for (const id of forbiddenIds)
          if (text.includes(id))
            throw new Error(`${caller.name} saw ${id} in ${name}: ${text.slice(0, 500)}`);
        const secret = secretFields[name];
        if (access.revealSecrets === 'redacted') {
          if (!secret) throw new Error(`declare the secret subfield of ${name} in secretFields`);
          if (allowed && answer.data) {
            const got = (answer.data as Record<string, unknown>)[field.name];
            if (Array.isArray(got))
              expect({ field: name, items: got.length > 0 }).toEqual({ field: name, items: true });
            const value = ((Array.isArray(got) ? got[0] : got) as Record<string, unknown> | null)?.[secret];
            expect({ caller: caller.name, field: name, secretShown: value != null }).toEqual({
              caller: caller.name,
              field: name,
              secretShown: caller.reveal,
            });
          }
        }
      }
    }
  }, 300_000);
});
