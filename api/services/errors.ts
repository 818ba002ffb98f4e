/**
 * Stable error codes: the API's answer when a request is refused. The portal maps each to what it
 * shows; never rename one, add a new one. GraphQL carries them in `extensions.code`
 * (api/graphql/errors.ts); failure types of runs have their own codes (failures.ts).
 */
export enum ErrorCode {
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  BadUserInput = 'BAD_USER_INPUT',
  ClientNotFound = 'CLIENT_NOT_FOUND',
  SiteCodeTaken = 'SITE_CODE_TAKEN',
  InvalidProfile = 'INVALID_PROFILE',
  Unavailable = 'UNAVAILABLE',
  RunNotRunning = 'RUN_NOT_RUNNING',
  RunNotRetryable = 'RUN_NOT_RETRYABLE',
  RunInProgress = 'RUN_IN_PROGRESS',
  /** A request over a limit: document depth, aliases, tokens, cost, or transactions it opened. */
  QueryTooExpensive = 'QUERY_TOO_EXPENSIVE',
  /** Selected nothing to run (a fleet run whose selection matches no machine). */
  EmptySelection = 'EMPTY_SELECTION',
  /** A site without an enrollment key the server can put in an installer (ADR 0024). */
  InstallerKeyNotAvailable = 'INSTALLER_KEY_NOT_AVAILABLE',
  /** A user with that e-mail address is already in the tenant. */
  UserExists = 'USER_EXISTS',
  /** A host of that DNS name is already listed for the site (addManualHost). */
  HostExists = 'HOST_EXISTS',
  /** A domain credential the site's domain controller refused when its gateway tested it. */
  CredentialRefused = 'CREDENTIAL_REFUSED',
  /** Escrow (ADR 0044): the tenant already has a current escrow key and the new one is not its next version. */
  EscrowKeyExists = 'ESCROW_KEY_EXISTS',
  /** The public key or wrapped private key offered for escrow is not in its format, or they do not match. */
  EscrowKeyInvalid = 'ESCROW_KEY_INVALID',
  /** Escrow is not set up for the tenant: no escrow key. */
  EscrowKeyMissing = 'ESCROW_KEY_MISSING',
  /** Escrow: the key is current, or secrets are still sealed only to it (a key roll is not finished). */
  EscrowKeyInUse = 'ESCROW_KEY_IN_USE',
  /** Escrow: a re-wrapped envelope does not fit its secret or the current key. */
  EscrowEnvelopeRefused = 'ESCROW_ENVELOPE_REFUSED',
  /** Too many reveals by this person in the last minute; `extra.retryAfterSeconds` says when to ask again. */
  RevealRateLimited = 'REVEAL_RATE_LIMITED',
  /**
   * A reveal was audited but its password's post-reveal rotation could not be scheduled (Temporal
   * unreachable): no ciphertext was released (ADR 0047). Ask again shortly.
   */
  RotationUnavailable = 'ROTATION_UNAVAILABLE',
  /** The machine has no escrowed secret of that kind: nothing of Drydock's to rotate there. */
  NothingToRotate = 'NOTHING_TO_ROTATE',
}

/**
 * A service refusing a request: a stable code, a sentence for the person who asked, and details a
 * client may use (`extra`, e.g. the run that is in the way). Transports turn it into their own error
 * (GraphQL: api/graphql/errors.ts); anything else a service throws is an internal error.
 */
export class ServiceError extends Error {
  override name = 'ServiceError';

  constructor(
    readonly code: ErrorCode | string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const refuse = (code: ErrorCode | string, message: string, extra?: Record<string, unknown>) =>
  new ServiceError(code, message, extra);
