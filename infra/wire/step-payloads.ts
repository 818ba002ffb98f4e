import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { StepKind } from './agent-steps';
import { profilePayloadSchemas } from './profile-steps';

/**
 * What each step kind takes, as the server builds it (infra/provisioning/plan.ts, the workflows)
 * and as the agent checks it before the step runs (agent/steps): the payload types of
 * `agent-steps.ts` are these schemas' `Static` types, so the two cannot drift. Unknown fields are
 * let through — agents in the field are older than the server, which may add a field — but a
 * field the step reads must have the type it reads it as; an enum value this agent does not know
 * (a newer edition family, a newer tweak action) is refused rather than guessed at.
 */

/** Editions as Windows names them in EditionID, lower-cased families (see infra/provisioning/tweaks.ts). */
const EditionFamilySchema = Type.Union([
  Type.Literal('home'),
  Type.Literal('pro'),
  Type.Literal('enterprise'),
  Type.Literal('education'),
  Type.Literal('ltsc'),
  Type.Literal('other'),
]);

/** Where a tweak does anything; elsewhere it is skipped with the reason (never written to no effect). */
const TweakApplicabilitySchema = Type.Object({
  editions: Type.Optional(Type.Array(EditionFamilySchema)),
  minBuild: Type.Optional(Type.Number()),
  /** Machines without a battery only (hibernation off drains a Modern Standby laptop). */
  desktopOnly: Type.Optional(Type.Boolean()),
});

const RegistrySettingSchema = Type.Object({
  path: Type.String(),
  name: Type.String(),
  type: Type.Union([Type.Literal('DWord'), Type.Literal('String')]),
  value: Type.Union([Type.Number(), Type.String()]),
  /** The tweak it belongs to and where it applies (validation skips it where the tweak does not apply). */
  tweak: Type.Optional(Type.String()),
  applies: Type.Optional(TweakApplicabilitySchema),
});

/** Actions a tweak takes besides registry values; typed, never a command line from a payload. */
const TweakActionSchema = Type.Union([Type.Literal('restore-point'), Type.Literal('hibernation-off')]);

const TweakSpecSchema = Type.Object({
  id: Type.String(),
  registry: Type.Array(RegistrySettingSchema),
  actions: Type.Optional(Type.Array(TweakActionSchema)),
  applies: Type.Optional(TweakApplicabilitySchema),
  /** What it needs before it takes effect: the step then asks for a restart. */
  needs: Type.Optional(Type.Union([Type.Literal('restart'), Type.Literal('sign-in')])),
});

const LocalePayloadSchema = Type.Object({
  timeZone: Type.String(),
  locale: Type.String(),
  keyboard: Type.String(),
  /** Regional formats (user locale) for new users; default: the locale. */
  formats: Type.Optional(Type.String()),
  /** Home location (GeoID, e.g. 244 = United States) for new users. */
  homeLocation: Type.Optional(Type.Number()),
});

/** Enterprise networks: the RADIUS server certificate the machine accepts (pinned, no prompt). */
const RadiusPinSchema = Type.Object({
  /** Server names the certificate must carry (ServerNames; `;`-joined in the profile). */
  serverNames: Type.Array(Type.String()),
  /** SHA-1 thumbprints (40 hex digits) of the root CAs that may issue it (TrustedRootCA). */
  trustedRootCaThumbprints: Type.Array(Type.String()),
});

const WifiNetworkSchema = Type.Object({
  ssid: Type.String(),
  authentication: Type.Union([
    Type.Literal('open'),
    Type.Literal('wpa2-enterprise'),
    Type.Literal('wpa3-enterprise'),
  ]),
  autoConnect: Type.Boolean(),
  radius: Type.Optional(RadiusPinSchema),
});

/** A local account name as Windows allows it: at most 20 characters, none of " / \\ [ ] : ; | = , + * ? < > @ */
const LocalAccountName = Type.String({
  minLength: 1,
  maxLength: 20,
  pattern: '^[^"/\\\\\\[\\]:;|=,+*?<>@\\u0000-\\u001f]+$',
});

/** The tenant key an escrow step seals to: public data (the server's current escrow key). */
const EscrowRecipientSchema = Type.Object({
  tenantId: Type.String({ maxLength: 128 }),
  keyVersion: Type.Integer({ minimum: 1 }),
  publicKey: Type.String({ maxLength: 128 }),
});
const EncryptionMethod = Type.Union([Type.Literal('XtsAes128'), Type.Literal('XtsAes256')]);
/** A volume by its drive letter (BitLocker). */
const MountPoint = Type.String({ pattern: '^[A-Z]:$' });

/** A step that takes nothing. */
const Nothing = Type.Object({});

/** How the gateway reaches a DC over LDAP: LDAPS or StartTLS, a private CA and/or a certificate pin. */
const DirectoryEndpointSchema = Type.Object({
  host: Type.String({ minLength: 1, maxLength: 255 }),
  /** Where to connect when not to `host` (the address discovery found for it); the certificate must still name `host`. */
  address: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  security: Type.Union([Type.Literal('ldaps'), Type.Literal('starttls')]),
  caPem: Type.Optional(Type.String({ maxLength: 20_000 })),
  pinSha256: Type.Optional(Type.String({ maxLength: 128 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
});
/** A bind with the site's credential: the API resolves `credentialRef` into the gateway's claim. */
const DirectoryBindSchema = {
  credentialRef: Type.String({
    pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
  }),
  domain: Type.String({ minLength: 1, maxLength: 255 }),
  endpoint: DirectoryEndpointSchema,
};

/** A host the gateway reaches over WinRM: its DNS name, or the address to connect to instead. */
const WinRmTargetSchema = {
  host: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9][A-Za-z0-9.:-]*$' }),
  httpPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  httpsPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
};

/** An AD domain's DNS name (contoso.com). */
const DomainName = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern:
    '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$',
});
/** An OU's distinguished name (OU=Laptops,DC=contoso,DC=com); no control characters. */
const OuPath = Type.String({
  minLength: 4,
  maxLength: 1024,
  pattern: '^(?:OU|ou|Ou|oU)=[^\\u0000-\\u001f]+$',
});
/** A computer name as the rename step renders it (NetBIOS: ≤ 15). */
const ComputerName = Type.String({ pattern: '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,13}[A-Za-z0-9])?$' });

const payloadSchemas = {
  [StepKind.Preflight]: Type.Object({
    requireAcPower: Type.Boolean(),
    minFreeDiskGb: Type.Number(),
    requireTpm: Type.Boolean(),
    requireSecureBoot: Type.Boolean(),
    minOsBuild: Type.Number(),
  }),
  /** The name reserved for the machine server-side (prepareMachineRun), not its template. */
  [StepKind.Rename]: Type.Object({ name: Type.String() }),
  [StepKind.WingetReady]: Nothing,
  [StepKind.Winget]: Type.Object({ id: Type.String(), version: Type.Optional(Type.String()) }),
  [StepKind.Installer]: Type.Object({
    name: Type.String(),
    url: Type.String(),
    sha256: Type.String(),
    arguments: Type.Array(Type.String()),
  }),
  [StepKind.Tweaks]: Type.Object({ tweaks: Type.Array(TweakSpecSchema) }),
  [StepKind.TweaksUndo]: Type.Object({
    /** Tweak ids to undo; empty or absent: every tweak the machine has a record of. */
    tweaks: Type.Optional(Type.Array(Type.String())),
  }),
  [StepKind.Locale]: LocalePayloadSchema,
  [StepKind.Wifi]: Type.Object({ networks: Type.Array(WifiNetworkSchema) }),
  /** collectInventory sends none: no Autopilot hash then. */
  [StepKind.Inventory]: Type.Object({ autopilotHash: Type.Optional(Type.Boolean()) }),
  /** What validation compares the machine against: the state the resolved config asked for. */
  [StepKind.Validate]: Type.Object({
    hostname: Type.Optional(Type.String()),
    apps: Type.Array(Type.String()),
    installers: Type.Array(Type.Object({ name: Type.String(), sha256: Type.String() })),
    registry: Type.Array(RegistrySettingSchema),
    locale: Type.Optional(LocalePayloadSchema),
    wifi: Type.Array(Type.String()),
    /** Of `wifi`, the WPA3-Enterprise networks (not expected before Windows 11). */
    wifiWpa3Enterprise: Type.Optional(Type.Array(Type.String())),
  }),
  /** The reason goes into the restart's comment (shutdown.exe /c). */
  [StepKind.Reboot]: Type.Object({ reason: Type.Optional(Type.String()) }),
  [StepKind.BootId]: Nothing,
  ...profilePayloadSchemas,
  [StepKind.DirectoryDiscover]: Type.Object({
    /** DNS servers to ask; default: the gateway's own. */
    resolvers: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 8 })),
    /** Search suffixes to try; default: the gateway's own. */
    searchSuffixes: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 16 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 30_000 })),
  }),
  [StepKind.DirectoryTestBind]: Type.Object(DirectoryBindSchema),
  [StepKind.DirectoryEnumerate]: Type.Object({
    ...DirectoryBindSchema,
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  }),
  [StepKind.LocalAdminEscrow]: Type.Object({
    /** The local account (Windows: at most 20 characters); created disabled-free if `create` and absent. */
    account: LocalAccountName,
    create: Type.Optional(Type.Boolean()),
    recipient: EscrowRecipientSchema,
    /** This machine's, the secret version the envelope is bound to (chosen by the workflow). */
    machineId: Type.String({ maxLength: 128 }),
    secretVersion: Type.Integer({ minimum: 1 }),
    length: Type.Optional(Type.Integer({ minimum: 14, maximum: 64 })),
  }),
  [StepKind.BitLockerEscrow]: Type.Object({
    mountPoint: MountPoint,
    recipient: EscrowRecipientSchema,
    machineId: Type.String({ maxLength: 128 }),
    secretVersion: Type.Integer({ minimum: 1 }),
    /** For the apply task that follows (the workflow copies them): the escrow step itself ignores them. */
    encryptionMethod: Type.Optional(EncryptionMethod),
    usedSpaceOnly: Type.Optional(Type.Boolean()),
  }),
  [StepKind.BitLockerApply]: Type.Object({
    mountPoint: MountPoint,
    secretVersion: Type.Integer({ minimum: 1 }),
    envelopeDigest: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    encryptionMethod: Type.Optional(EncryptionMethod),
    /** Encrypt only the used space (a new machine: fast; what Intune's silent enable does by default). */
    usedSpaceOnly: Type.Optional(Type.Boolean()),
  }),
  [StepKind.LocalAdminApply]: Type.Object({
    account: LocalAccountName,
    create: Type.Optional(Type.Boolean()),
    secretVersion: Type.Integer({ minimum: 1 }),
    /** SHA-256 (hex) of the envelope the server stored: the agent sets the password only if it sealed that one. */
    envelopeDigest: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  }),
  [StepKind.WinRmProbe]: Type.Object(WinRmTargetSchema),
  [StepKind.WinRmInstall]: Type.Object({
    ...WinRmTargetSchema,
    credentialRef: DirectoryBindSchema.credentialRef,
    /** HTTPS (5986, NTLM over TLS) instead of HTTP (5985, NTLM with message encryption). */
    https: Type.Boolean(),
    /** SHA-256 of the listener's certificate, for HTTPS to a self-signed listener. */
    pinSha256: Type.Optional(Type.String({ maxLength: 128 })),
    /** The site installer the API mints a one-time link for into the claim (site_installers id). */
    installerId: DirectoryBindSchema.credentialRef,
    fileName: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*\\.msi$' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    /** How long msiexec may run before the step gives up (default 15 minutes). */
    installTimeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
  }),
  [StepKind.JoinDomain]: Type.Object({
    domain: DomainName,
    ouPath: Type.Optional(OuPath),
    /** The site's join credential: the API resolves it into this machine's claim only (ADR 0048). */
    credentialRef: DirectoryBindSchema.credentialRef,
    /** A DC to use (-Server), when the machine must not pick one from DNS. */
    server: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9][A-Za-z0-9.-]*$' }),
    ),
    /** The name the identity phase reserved: folded into the join (-NewName) when it is not the active name yet. */
    newName: Type.Optional(ComputerName),
  }),
  [StepKind.JoinEntra]: Type.Union([
    Type.Object({
      method: Type.Literal('provisioning-package'),
      /** The .ppkg, downloaded and checked against its SHA-256 before Install-ProvisioningPackage. */
      package: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$' }),
        url: Type.String({ maxLength: 2048, pattern: '^https://' }),
        sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$' }),
      }),
    }),
    Type.Object({ method: Type.Literal('autopilot') }),
  ]),
  [StepKind.JoinVerify]: Type.Object({
    /** Expect membership of this domain (and, with `ouPath`, the computer in that OU). */
    domain: Type.Optional(DomainName),
    ouPath: Type.Optional(OuPath),
    /** Expect this active computer name. */
    name: Type.Optional(ComputerName),
    /** Expect dsregcmd's AzureAdJoined : YES. */
    entra: Type.Optional(Type.Boolean()),
  }),
} satisfies Record<StepKind, TSchema>;

/** Each step kind's payload: a `PlanStep`, a dispatch and a step handler of kind K carry `StepPayloads[K]`. */
export type StepPayloads = { [K in StepKind]: Static<(typeof payloadSchemas)[K]> };

export type EditionFamily = Static<typeof EditionFamilySchema>;
export type TweakApplicability = Static<typeof TweakApplicabilitySchema>;
export type RegistrySetting = Static<typeof RegistrySettingSchema>;
export type TweakAction = Static<typeof TweakActionSchema>;
export type TweakSpec = Static<typeof TweakSpecSchema>;
export type RadiusPin = Static<typeof RadiusPinSchema>;
export type WifiNetwork = Static<typeof WifiNetworkSchema>;

const compiled = new Map<string, TypeCheck<TSchema>>(
  Object.entries(payloadSchemas).map(([kind, schema]) => [kind, TypeCompiler.Compile(schema)]),
);

/** The kinds the agent knows a payload schema for: every kind the server dispatches. */
export const payloadKinds = (): string[] => [...compiled.keys()];

/**
 * Checks a step's payload against its kind's schema: null when it fits, else one line naming the
 * first field that does not (never its value: the agent reports it as the step's failure).
 */
export function checkStepPayload(kind: StepKind, value: unknown): string | null {
  const check = compiled.get(kind);
  if (!check) return `no payload schema for task kind ${JSON.stringify(kind)}`;
  if (check.Check(value)) return null;
  const first = check.Errors(value).First();
  return first ? `${first.path || '/'}: ${first.message}` : 'does not match the payload schema';
}

/** Whether `value` is a payload of `kind`: the agent's step dispatcher narrows with it before running a step. */
export function isStepPayload<K extends StepKind>(kind: K, value: unknown): value is StepPayloads[K] {
  return compiled.get(kind)?.Check(value) ?? false;
}
