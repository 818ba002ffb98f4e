import { Type, type Static, type TProperties, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { HardwareFactsSchema, OsInfoSchema } from './agent-protocol';
import { StepKind, type StepResultBase } from './agent-steps';
import { profileResultSchemas } from './profile-steps';

/**
 * What the server accepts as a step's result, per task kind. An agent's result is stored and then
 * read by workflows, the portal and exports (the Autopilot CSV an admin imports into Intune), so it
 * is held to these schemas before anything is stored: no field the step does not produce, text
 * without control characters, identifiers in their own character sets. A result that does not fit
 * is refused with 400 and nothing is stored (docs/SECURITY.md). The result types of
 * `agent-steps.ts` are these schemas' `Static` types: what a step handler returns is what the
 * server accepts.
 */

/** Printable text: no control characters (CR, LF, NUL, …), bounded. */
const Text = (maxLength: number) => Type.String({ maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });
const Flags = { alreadyDone: Type.Optional(Type.Boolean()), reboot: Type.Optional(Type.Boolean()) };
const strict = { additionalProperties: false } as const;
const result = <F extends TProperties>(fields: F) => Type.Object({ ...Flags, ...fields }, strict);

/** A BitLocker key protector id as Windows prints it: a braced GUID. */
const ProtectorId = Type.String({
  pattern: '^\\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\}$',
});

/**
 * Autopilot fields as Intune imports them. A serial and a product id start with a letter or a
 * digit (never `=`, `+`, `-`, `@`: a spreadsheet formula) and hold no comma or quote; the hash is
 * base64 (a real 4K hash starts with `T0`; never with `+` or `/`).
 */
export const AutopilotSchema = Type.Object(
  {
    serial: Type.String({ maxLength: 64, pattern: '^([A-Za-z0-9][A-Za-z0-9 ._/-]*)?$' }),
    productId: Type.Union([
      Type.String({ maxLength: 64, pattern: '^([A-Za-z0-9][A-Za-z0-9-]*)?$' }),
      Type.Null(),
    ]),
    hardwareHash: Type.String({
      minLength: 4,
      maxLength: 16_384,
      pattern: '^[A-Za-z0-9][A-Za-z0-9+/]*={0,2}$',
    }),
  },
  strict,
);

const InventorySchema = Type.Object(
  {
    hostname: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$' }),
    os: OsInfoSchema,
    manufacturer: Type.Optional(Text(128)),
    model: Type.Optional(Text(128)),
    serial: Type.Optional(Text(128)),
    cpu: Type.Optional(Text(256)),
    memoryMb: Type.Optional(Type.Integer({ minimum: 0, maximum: 1 << 30 })),
    disks: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Text(128),
            sizeGb: Type.Number({ minimum: 0, maximum: 1e6 }),
            freeGb: Type.Number({ minimum: 0, maximum: 1e6 }),
          },
          strict,
        ),
        { maxItems: 64 },
      ),
    ),
    domain: Type.Optional(Type.Union([Text(255), Type.Null()])),
    hardware: HardwareFactsSchema,
    autopilot: Type.Optional(AutopilotSchema),
  },
  strict,
);

/** A catalogue tweak id (infra/provisioning/tweaks.ts). */
const TweakId = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' });
/** A restart indicator or an applicability reason: one short line. */
const Reason = Text(300);

const PreflightCheckSchema = Type.Object(
  {
    check: Type.Union([
      Type.Literal('ac-power'),
      Type.Literal('free-disk'),
      Type.Literal('api-reachable'),
      Type.Literal('tpm'),
      Type.Literal('secure-boot'),
      Type.Literal('os-build'),
    ]),
    ok: Type.Boolean(),
    detail: Text(500),
  },
  strict,
);

const ValidationItemSchema = Type.Object(
  { item: Text(600), pass: Type.Boolean(), detail: Text(600) },
  strict,
);

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Iso = Type.String({ maxLength: 40, pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' });

const DiscoveredDomainSchema = Type.Object(
  {
    domain: Text(255),
    baseDn: Nullable(Text(1024)),
    site: Nullable(Text(255)),
    domainControllers: Type.Array(
      Type.Object(
        {
          host: Text(255),
          port: Type.Integer({ minimum: 0, maximum: 65535 }),
          priority: Type.Integer({ minimum: 0, maximum: 65535 }),
          weight: Type.Integer({ minimum: 0, maximum: 65535 }),
          addresses: Type.Array(Text(64), { maxItems: 16 }),
        },
        strict,
      ),
      { maxItems: 64 },
    ),
    kerberos: Type.Array(
      Type.Object({ host: Text(255), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, strict),
      { maxItems: 64 },
    ),
    certificate: Nullable(
      Type.Object(
        {
          sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          subject: Text(1024),
          issuer: Text(1024),
          validTo: Iso,
        },
        strict,
      ),
    ),
  },
  strict,
);

/** One computer object as the gateway read it from AD (agent/gateway/directory/ad-directory.ts). */
const DiscoveredComputerSchema = Type.Object(
  {
    objectGuid: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
    name: Text(255),
    dnsHostName: Nullable(Text(255)),
    operatingSystem: Nullable(Text(255)),
    operatingSystemVersion: Nullable(Text(64)),
    distinguishedName: Text(2048),
    ou: Text(2048),
    enabled: Type.Boolean(),
    lastLogonAt: Nullable(Iso),
    role: Type.Union([
      Type.Literal('domain-controller'),
      Type.Literal('server'),
      Type.Literal('workstation'),
    ]),
  },
  strict,
);

/**
 * The most computers one enumeration reports (a result past it is refused, not cut): it travels as
 * one step result, within the result route's body limit (api/routes/v1/reply.ts). Larger domains
 * need the result in parts, which is not built.
 */
export const MAX_ENUMERATED_COMPUTERS = 20_000;

const schemas = {
  [StepKind.Preflight]: result({
    checks: Type.Array(PreflightCheckSchema, { maxItems: 32 }),
    /** Windows' pending-restart indicators (CBS, WU, PendingFileRenameOperations, a pending name). */
    pendingReboot: Type.Optional(Type.Array(Reason, { maxItems: 16 })),
  }),
  [StepKind.Rename]: result({}),
  [StepKind.WingetReady]: result({
    path: Text(400),
    version: Text(64),
    /** How winget was made to start as SYSTEM (e.g. the VCLibs framework folder on its PATH). */
    runtime: Text(200),
  }),
  [StepKind.Winget]: result({
    exitCode: Type.Integer({ minimum: -(2 ** 31), maximum: 2 ** 32 - 1 }),
    /** The outcome, with the restart indicators found after the install. */
    outcome: Text(400),
  }),
  [StepKind.Installer]: result({
    exitCode: Type.Optional(Type.Integer({ minimum: -(2 ** 31), maximum: 2 ** 32 - 1 })),
  }),
  [StepKind.Tweaks]: result({
    changed: Type.Array(Text(600), { maxItems: 1000 }),
    /** Tweaks that could not be applied, each with its reason; the others were. */
    failed: Type.Optional(
      Type.Array(Type.Object({ id: TweakId, message: Text(1000) }, strict), { maxItems: 200 }),
    ),
    /** Tweaks that do not apply to this machine (edition, build, hardware). */
    skipped: Type.Optional(
      Type.Array(Type.Object({ id: TweakId, reason: Reason }, strict), { maxItems: 200 }),
    ),
  }),
  [StepKind.TweaksUndo]: result({
    /** Values and actions put back as they were before Drydock changed them: `registry:<path>\<name>` or `action:<action>`. */
    restored: Type.Array(Text(600), { maxItems: 1000 }),
    failed: Type.Array(Type.Object({ key: Text(600), message: Text(1000) }, strict), { maxItems: 1000 }),
  }),
  [StepKind.Locale]: result({}),
  [StepKind.Wifi]: result({
    added: Type.Array(Text(64), { maxItems: 64 }),
    /** Networks not added, with the reason (no Wi-Fi adapter, WPA3-Enterprise before Windows 11). */
    skipped: Type.Optional(
      Type.Array(Type.Object({ ssid: Text(64), reason: Reason }, strict), { maxItems: 64 }),
    ),
  }),
  [StepKind.Inventory]: InventorySchema,
  [StepKind.Validate]: result({ items: Type.Array(ValidationItemSchema, { maxItems: 2000 }) }),
  /** The boot id before the reboot: the workflow waits for a different one. */
  [StepKind.Reboot]: result({ bootId: Text(64) }),
  /** The `dde1` envelope of the new password (checked against the task by the API before it is stored). */
  [StepKind.LocalAdminEscrow]: result({
    envelope: Type.String({ maxLength: 4096, pattern: '^dde1\\.[A-Za-z0-9_.-]+$' }),
    secretVersion: Type.Integer({ minimum: 1 }),
  }),
  [StepKind.BitLockerEscrow]: result({
    envelope: Type.String({ maxLength: 4096, pattern: '^dde1\\.[A-Za-z0-9_.-]+$' }),
    secretVersion: Type.Integer({ minimum: 1 }),
  }),
  [StepKind.BitLockerApply]: result({
    /** The recovery-password protector that holds the escrowed version. */
    protectorId: ProtectorId,
    /** Other recovery-password protectors removed (a rotation). */
    removed: Type.Array(ProtectorId, { maxItems: 32 }),
    /** This step started encryption (the volume was fully decrypted). */
    enabled: Type.Boolean(),
    volumeStatus: Text(40),
    protectionStatus: Text(20),
    encryptionPercentage: Type.Number({ minimum: 0, maximum: 100 }),
  }),
  [StepKind.LocalAdminApply]: result({
    account: Text(20),
    secretVersion: Type.Integer({ minimum: 1 }),
    created: Type.Boolean(),
  }),
  [StepKind.BootId]: result({ bootId: Text(64) }),
  ...profileResultSchemas,
  /** The domain the gateway found, or null with the suffixes it tried. */
  [StepKind.DirectoryDiscover]: result({
    found: Nullable(DiscoveredDomainSchema),
    tried: Type.Array(Text(255), { maxItems: 256 }),
  }),
  [StepKind.DirectoryTestBind]: result({ domain: Text(255), user: Text(255) }),
  /**
   * Every computer object: stored with the task by the API and read from there into
   * discovered_hosts, never carried through a workflow history (ADR 0029).
   */
  [StepKind.DirectoryEnumerate]: result({
    domain: Text(255),
    pages: Type.Integer({ minimum: 0 }),
    computers: Type.Array(DiscoveredComputerSchema, { maxItems: MAX_ENUMERATED_COMPUTERS }),
  }),
  /** Which WinRM listener ports accepted a TCP connection, with what the others did, in words. */
  [StepKind.WinRmProbe]: result({
    http: Type.Boolean(),
    https: Type.Boolean(),
    detail: Text(500),
  }),
  /**
   * The install: msiexec's exit code (null when the service was already running: `alreadyDone`),
   * the service's state afterwards, and whether Windows asked for a restart (3010).
   */
  [StepKind.WinRmInstall]: result({
    exitCode: Nullable(Type.Integer({ minimum: -(2 ** 31), maximum: 2 ** 32 - 1 })),
    service: Text(64),
    restartRequired: Type.Boolean(),
    outcome: Text(500),
  }),
  /** The domain joined (or already a member of) and whether the reserved name was folded in. */
  [StepKind.JoinDomain]: result({ domain: Text(255), renamed: Type.Boolean() }),
  /** Whether the machine is Entra joined now; for Autopilot, what dsregcmd reports (nothing was changed). */
  [StepKind.JoinEntra]: result({
    method: Type.Union([Type.Literal('provisioning-package'), Type.Literal('autopilot')]),
    entraJoined: Type.Boolean(),
    tenantName: Nullable(Text(255)),
    detail: Text(500),
  }),
  [StepKind.JoinVerify]: result({
    name: Text(64),
    domain: Nullable(Text(255)),
    /** The computer's distinguished name as AD has it (null: not a member, or it could not be read). */
    distinguishedName: Nullable(Text(1024)),
    entraJoined: Type.Boolean(),
  }),
} satisfies Record<StepKind, TSchema>;

/** Each step kind's result: a step handler of kind K returns `StepResults[K]`, and the server accepts nothing else. */
export type StepResults = { [K in StepKind]: Static<(typeof schemas)[K]> };

export type PreflightCheck = Static<typeof PreflightCheckSchema>;
export type ValidationItem = Static<typeof ValidationItemSchema>;
export type DiscoveredComputer = Static<typeof DiscoveredComputerSchema>;

const compiled = new Map<string, TypeCheck<TSchema>>(
  Object.entries(schemas).map(([kind, schema]) => [kind, TypeCompiler.Compile(schema)]),
);

/** The kinds the server knows a result schema for: every kind it dispatches. */
export const resultKinds = (): string[] => [...compiled.keys()];

/**
 * Checks a successful step result against its kind's schema: null when it fits, else one line
 * naming the first field that does not (for the 400 answer and the server log).
 */
export function checkStepResult(kind: string, value: unknown): string | null {
  const check = compiled.get(kind);
  if (!check) return `no result schema for task kind ${JSON.stringify(kind)}`;
  if (check.Check(value)) return null;
  const first = check.Errors(value).First();
  return first ? `${first.path || '/'}: ${first.message}` : 'does not match the result schema';
}

/**
 * Whether `value` is a result of `kind` (a stored result the agent channel hands back to its
 * workflow). A result that fits is read with the flags every step may set: the strict schemas let
 * none through where a kind has none (inventory), so such a result simply does not carry them.
 */
export function isStepResult<K extends StepKind>(
  kind: K,
  value: unknown,
): value is StepResults[K] & StepResultBase {
  return compiled.get(kind)?.Check(value) ?? false;
}
