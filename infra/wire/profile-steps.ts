import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { StepKind } from './agent-steps';
import { SID_PATTERN } from './entra-sid';

/**
 * The profile-migration steps' payloads and results (issue 17, ADR 0036): spread into the one map
 * per direction of `step-payloads.ts` and `step-results.ts` (ADR 0019), so they are checked where
 * every other step's are — the payload on the agent before the step runs, the result on the server
 * before it is stored. SIDs travel in their string form only, checked by pattern on both ends.
 */

const Sid = Type.String({ pattern: SID_PATTERN, maxLength: 184 });
/** Printable text: no control characters, bounded (as step-results.ts). */
const Text = (maxLength: number) => Type.String({ maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });
const Flags = { alreadyDone: Type.Optional(Type.Boolean()), reboot: Type.Optional(Type.Boolean()) };
const strict = { additionalProperties: false } as const;
/** A backup's id on the machine: the run's business key, letters, digits and dashes. */
const BackupId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9-]{0,79}$' });
/** A local path on the machine (C:\Users\alice). */
const LocalPath = Type.String({ pattern: '^[A-Za-z]:\\\\[^\\u0000-\\u001f"*?<>|]*$', maxLength: 260 });

export const MigrationModeSchema = Type.Union([
  Type.Literal('in-place'),
  Type.Literal('copy'),
  Type.Literal('cloud'),
]);

/** Who gets the profile: a local account, a domain account (looked up through the machine's own domain) or an Entra ID user. */
export const MigrationTargetSchema = Type.Union([
  Type.Object({ kind: Type.Literal('local'), name: Text(104) }),
  Type.Object({ kind: Type.Literal('domain'), name: Text(256) }),
  Type.Object({
    kind: Type.Literal('entra'),
    objectId: Type.String({ pattern: '^[0-9a-fA-F-]{36}$' }),
    tenantId: Type.String({ pattern: '^[0-9a-fA-F-]{36}$' }),
    /** `S-1-12-1-…`, derived from the object id by the server (infra/wire/entra-sid.ts); the agent derives it again. */
    sid: Sid,
    /** The user principal name, for the profile's display and the user's notification. */
    upn: Type.Optional(Text(256)),
  }),
]);

const Common = { backupId: BackupId, sourceSid: Sid, targetSid: Sid };

export const profilePayloadSchemas = {
  [StepKind.ProfileCheck]: Type.Object({
    mode: MigrationModeSchema,
    /** The account whose profile moves: a SID or a name (local, or DOMAIN\user). */
    source: Text(256),
    target: MigrationTargetSchema,
    minFreeDiskGb: Type.Number({ minimum: 0 }),
  }),
  [StepKind.ProfileNotify]: Type.Object({
    sid: Sid,
    message: Text(500),
    seconds: Type.Integer({ minimum: 0 }),
  }),
  [StepKind.ProfileBackup]: Type.Object({
    ...Common,
    mode: MigrationModeSchema,
    profilePath: LocalPath,
    targetProfilePath: Type.Optional(LocalPath),
  }),
  [StepKind.ProfileReassign]: Type.Object({
    ...Common,
    profilePath: LocalPath,
    /** Give the new SID the local group memberships the old one had (e.g. Administrators). */
    copyGroups: Type.Boolean(),
  }),
  [StepKind.ProfileCopy]: Type.Object({
    ...Common,
    profilePath: LocalPath,
    targetProfilePath: LocalPath,
    /** Folder names left behind (robocopy /XD), relative to the profile. */
    excludeDirs: Type.Array(Text(200), { maxItems: 64 }),
    copyGroups: Type.Boolean(),
  }),
  [StepKind.ProfileCloud]: Type.Object({
    ...Common,
    /** The Microsoft 365 tenant the user's OneDrive belongs to (KFMSilentOptIn). */
    tenantId: Type.String({ pattern: '^[0-9a-fA-F-]{36}$' }),
    notifyUser: Type.Boolean(),
  }),
  [StepKind.ProfileRepair]: Type.Object({ ...Common, profilePath: LocalPath }),
  [StepKind.ProfileVerify]: Type.Object({
    ...Common,
    mode: MigrationModeSchema,
    profilePath: LocalPath,
    targetProfilePath: Type.Optional(LocalPath),
    tenantId: Type.Optional(Type.String()),
    copyGroups: Type.Boolean(),
  }),
  [StepKind.ProfileRestore]: Type.Object({ backupId: BackupId }),
  [StepKind.ProfileRetire]: Type.Object({
    backupId: BackupId,
    sourceSid: Sid,
    action: Type.Union([Type.Literal('disable'), Type.Literal('delete')]),
  }),
} satisfies Partial<Record<StepKind, TSchema>>;

const PreconditionSchema = Type.Object(
  {
    check: Type.Union([
      Type.Literal('source-profile'),
      Type.Literal('signed-out'),
      Type.Literal('target-resolves'),
      Type.Literal('target-profile'),
      Type.Literal('entra-joined'),
      Type.Literal('free-disk'),
      Type.Literal('no-pending-reboot'),
    ]),
    ok: Type.Boolean(),
    detail: Text(500),
  },
  strict,
);

const result = <F extends Record<string, TSchema>>(fields: F) => Type.Object({ ...Flags, ...fields }, strict);

export const profileResultSchemas = {
  [StepKind.ProfileCheck]: result({
    checks: Type.Array(PreconditionSchema, { maxItems: 16 }),
    sourceSid: Type.Union([Sid, Type.Null()]),
    profilePath: Type.Union([Text(260), Type.Null()]),
    targetSid: Type.Union([Sid, Type.Null()]),
    targetProfilePath: Type.Union([Text(260), Type.Null()]),
    /** The user is signed in or the hive is loaded: the run waits (and asks the user to sign out). */
    loaded: Type.Boolean(),
    profileSizeMb: Type.Number({ minimum: 0 }),
  }),
  [StepKind.ProfileNotify]: result({ sessions: Type.Integer({ minimum: 0, maximum: 64 }) }),
  [StepKind.ProfileBackup]: result({
    /** SHA-256 (hex) of the backup's manifest: the run keeps it, the restore checks it. */
    checksum: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    location: Text(260),
  }),
  [StepKind.ProfileReassign]: result({ changed: Type.Array(Text(600), { maxItems: 64 }) }),
  [StepKind.ProfileCopy]: result({
    copied: Type.Integer({ minimum: 0 }),
    skipped: Type.Integer({ minimum: 0 }),
    /** An earlier, interrupted run of this copy had done part of it. */
    resumed: Type.Boolean(),
    exitCode: Type.Integer(),
    log: Text(260),
    changed: Type.Array(Text(600), { maxItems: 64 }),
  }),
  [StepKind.ProfileCloud]: result({ changed: Type.Array(Text(600), { maxItems: 64 }) }),
  [StepKind.ProfileRepair]: result({
    /** AppX packages registered for the new SID (at its first sign-in on Windows). */
    appx: Type.Array(Text(200), { maxItems: 500 }),
    caches: Type.Array(Text(300), { maxItems: 64 }),
    /** What cannot move and is reported, not silently lost (DPAPI-protected secrets, …). */
    notMovable: Type.Array(Type.Object({ item: Text(300), reason: Text(500) }, strict), { maxItems: 100 }),
  }),
  [StepKind.ProfileVerify]: result({
    items: Type.Array(Type.Object({ item: Text(600), pass: Type.Boolean(), detail: Text(600) }, strict), {
      maxItems: 500,
    }),
  }),
  [StepKind.ProfileRestore]: result({ restored: Type.Array(Text(600), { maxItems: 64 }) }),
  [StepKind.ProfileRetire]: result({ action: Text(64), changed: Type.Boolean() }),
} satisfies Partial<Record<StepKind, TSchema>>;

export type MigrationMode = Static<typeof MigrationModeSchema>;
export type MigrationTarget = Static<typeof MigrationTargetSchema>;
export type Precondition = Static<typeof PreconditionSchema>;
