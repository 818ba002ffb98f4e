import { Type, type Static } from '@sinclair/typebox';

/**
 * The agent ↔ API wire protocol (`/v1`). The API validates with these schemas and serves them as
 * OpenAPI; the agent uses the same types. Change only additively: agents in the field are older.
 */
const Str = (maxLength: number, minLength = 0) => Type.String({ maxLength, minLength });

export const HardwareFactsSchema = Type.Object(
  {
    smbiosUuid: Type.Optional(Str(64)),
    systemSerial: Type.Optional(Str(128)),
    baseboardSerial: Type.Optional(Str(128)),
    diskSerials: Type.Optional(Type.Array(Str(128), { maxItems: 16 })),
    machineGuid: Type.Optional(Str(64)),
    macs: Type.Optional(
      Type.Array(Type.String({ pattern: '^[0-9A-F]{2}(:[0-9A-F]{2}){5}$' }), { maxItems: 32 }),
    ),
    manufacturer: Type.Optional(Str(128)),
    model: Type.Optional(Str(128)),
  },
  { additionalProperties: false },
);

export const OsInfoSchema = Type.Object(
  { name: Str(128, 1), version: Str(64, 1), build: Str(32, 1) },
  { additionalProperties: false },
);

export const EnrollRequestSchema = Type.Object(
  {
    siteCode: Type.String({ pattern: '^[A-Z0-9-]{3,32}$' }),
    enrollmentKey: Str(100, 1),
    machineUid: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    hostname: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$' }),
    hardware: HardwareFactsSchema,
    os: OsInfoSchema,
    agentVersion: Type.String({ pattern: '^[0-9A-Za-z.+-]{1,32}$' }),
    /** The `vN (XXXX)` the installer carried, reported for the operator's benefit. */
    fingerprint: Type.Optional(Type.String({ pattern: '^v[0-9]{1,6} \\([0-9A-F]{4}\\)$' })),
    /**
     * A random secret the agent keeps (protected) until it has stored its agent key: the same
     * request repeated after its answer was lost (ADR 0009) proves it is the install the first one
     * enrolled, and lands on that machine instead of asking for a second row.
     */
    attempt: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' })),
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$' }), Str(128), {
        maxProperties: 16,
        additionalProperties: false,
      }),
    ),
  },
  { additionalProperties: false },
);
export type EnrollRequest = Static<typeof EnrollRequestSchema>;

export const MachineStatusSchema = Type.Union([
  Type.Literal('active'),
  Type.Literal('pending'),
  Type.Literal('retired'),
]);

export const EnrollResponseSchema = Type.Object({
  machineId: Type.String(),
  /** Returned once; store it protected and forget the enrollment key. */
  agentKey: Type.String(),
  status: MachineStatusSchema,
  pollSeconds: Type.Integer(),
});
export type EnrollResponse = Static<typeof EnrollResponseSchema>;

export const CheckInRequestSchema = Type.Object(
  {
    bootId: Str(64, 1),
    uptimeSeconds: Type.Integer({ minimum: 0, maximum: 10 * 365 * 86400 }),
    agentVersion: Type.String({ pattern: '^[0-9A-Za-z.+-]{1,32}$' }),
    hostname: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$' })),
    inventory: Type.Optional(
      Type.Object(
        {
          os: Type.Optional(OsInfoSchema),
          manufacturer: Type.Optional(Str(128)),
          model: Type.Optional(Str(128)),
          serial: Type.Optional(Str(128)),
          domain: Type.Optional(Type.Union([Str(255), Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CheckInRequest = Static<typeof CheckInRequestSchema>;

export const CheckInResponseSchema = Type.Object({
  machineId: Type.String(),
  status: MachineStatusSchema,
  serverTime: Type.String(),
  pollSeconds: Type.Integer(),
});
export type CheckInResponse = Static<typeof CheckInResponseSchema>;

export const PollQuerySchema = Type.Object(
  // Digits only: number coercion would let "Infinity" or "1e400" through.
  {
    wait: Type.Optional(
      Type.String({ pattern: '^([0-9]|[1-9][0-9]|1[01][0-9]|120)$', description: 'seconds, 0–120' }),
    ),
  },
  { additionalProperties: false },
);

export const AgentTaskSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown()),
  /** Stable across redeliveries and activity retries: the agent journals results under it. */
  idempotencyKey: Type.String(),
  /**
   * The site's domain credential, when the payload names one (`credentialRef`) and the machine is an
   * active gateway of that site: resolved into this claim response only, never stored in the task,
   * a history or a log (ADR 0026). The agent keeps it in memory for the step and journals no payload.
   */
  credential: Type.Optional(
    Type.Object({ domain: Type.String(), user: Type.String(), password: Type.String() }),
  ),
  /**
   * For a `winrm.install` step: a one-time, short-lived link to the site's installer, minted by the
   * API into this claim response only (it can fetch the site's enrollment key once): never stored in
   * the task, a history, the journal or a log (ADR 0043).
   */
  installerUrl: Type.Optional(Type.String()),
});
export type AgentTaskMessage = Static<typeof AgentTaskSchema>;

export const PollResponseSchema = Type.Object({ task: AgentTaskSchema });

/** With `?wait=N` the answer also carries the machine's next task, as soon as one is queued (≤ N s). */
export const ResultResponseSchema = Type.Object({
  accepted: Type.Literal(true),
  task: Type.Optional(AgentTaskSchema),
});
export type ResultResponse = Static<typeof ResultResponseSchema>;

// A plain pattern, not format 'uuid', which also accepts a `urn:uuid:` prefix PostgreSQL refuses.
export const TaskParamsSchema = Type.Object(
  {
    id: Type.String({
      pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
    }),
  },
  { additionalProperties: false },
);

export const ProgressRequestSchema = Type.Object(
  { percent: Type.Integer({ minimum: 0, maximum: 100 }), message: Str(200) },
  { additionalProperties: false },
);
export type ProgressRequest = Static<typeof ProgressRequestSchema>;

export const TaskErrorSchema = Type.Object(
  {
    type: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]{0,63}$' }),
    message: Str(1000),
    retryable: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const ResultRequestSchema = Type.Union([
  Type.Object(
    { ok: Type.Literal(true), result: Type.Record(Type.String(), Type.Unknown(), { maxProperties: 200 }) },
    { additionalProperties: false },
  ),
  Type.Object({ ok: Type.Literal(false), error: TaskErrorSchema }, { additionalProperties: false }),
]);
export type ResultRequest = Static<typeof ResultRequestSchema>;

export const ErrorResponseSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

/** Stable error codes of `/v1`. Never rename one: add a new one. */
export enum WireErrorCode {
  BadRequest = 'BAD_REQUEST',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  Unauthorized = 'UNAUTHORIZED',
  EnrollmentRejected = 'ENROLLMENT_REJECTED',
  MachineUidMismatch = 'MACHINE_UID_MISMATCH',
  RateLimited = 'RATE_LIMITED',
  LockedOut = 'LOCKED_OUT',
  NotFound = 'NOT_FOUND',
  Conflict = 'CONFLICT',
  Internal = 'INTERNAL',
}
