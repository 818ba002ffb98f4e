import path from 'node:path';
import { z } from 'zod';

/** Raised for bad configuration; entry points print `message` as one line and exit 78 (EX_CONFIG). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const repoRoot = path.resolve(__dirname, '..', '..');

const postgresUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (
      (u.protocol === 'postgres:' || u.protocol === 'postgresql:') &&
      u.hostname !== '' &&
      u.pathname.length > 1
    );
  } catch {
    return false;
  }
}, 'must be a URL like postgres://user@host:5432/database');

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'must be host:port, for example 127.0.0.1:7233');

const port = z.coerce.number().int().min(1).max(65535);

const schema = z.object({
  DRYDOCK_ENV: z.enum(['development', 'test', 'production']).default('development'),
  DRYDOCK_DATA_DIR: z.string().min(1).default(path.join(repoRoot, '.drydock')),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_APP_URL: postgresUrl.optional(),
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'must be a Temporal namespace name')
    .default('default'),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  /** TLS to the Temporal frontend (infra/temporal/tls.ts): its CA, and a client certificate for mTLS (files). */
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** A file holding a Temporal Cloud API key (TLS with the system's CAs); never the key itself. */
  TEMPORAL_API_KEY_FILE: z.string().min(1).optional(),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('core'),
  /** Serve the worker's Temporal metrics (task latencies, slots, cache) for Prometheus at host:port `/metrics`. */
  WORKER_METRICS_ADDRESS: hostPort.optional(),
  /** OTLP/HTTP collector for traces (API and worker), e.g. http://otel-collector:4318; unset = no tracing, nothing sent. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** Serve the API's metrics (requests, long-polls, deliveries, runs by state) for Prometheus at host:port `/metrics`. */
  API_METRICS_ADDRESS: hostPort.optional(),
  /** A prebuilt workflow bundle (bundleWorkflowCode output); unset = the worker bundles workflows/ at start. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  /**
   * Worker Deployment Versioning (ADR 0049): `on` = the worker polls as version
   * WORKER_DEPLOYMENT_NAME / DRYDOCK_BUILD_ID, machine runs stay pinned to the build that started
   * them, and a new build takes new work only once it is made current (`drydock deploy
   * set-current`). `off` (default) = an unversioned worker, as in development.
   */
  WORKER_VERSIONING: z.enum(['on', 'off']).default('off'),
  /** The Worker Deployment this worker belongs to (one per installation and namespace). */
  WORKER_DEPLOYMENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be letters, digits, _ or - (no dots)')
    .default('drydock'),
  /** This worker's build id; unset = `<package version>-<sha-256 of the workflow bundle, 12 hex>`. */
  DRYDOCK_BUILD_ID: z
    .string()
    .regex(/^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,99}$/, 'must be letters, digits and . _ + - (at most 100)')
    .optional(),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port.default(3000),
  /** Client connections the API holds at once; unset = the open-file limit less a reserve (docs/SECURITY.md). */
  API_MAX_CONNECTIONS: z.coerce.number().int().min(16).max(1_000_000).optional(),
  /**
   * Proxies whose X-Forwarded-For the API believes (Fastify trustProxy: comma-separated addresses or
   * CIDRs). Unset = none: the client address is the socket's, as the enrollment guard needs it.
   */
  API_TRUST_PROXY: z
    .string()
    .regex(/^[0-9A-Fa-f:.\/]+(,\s*[0-9A-Fa-f:.\/]+)*$/, 'must be comma-separated addresses or CIDRs')
    .optional(),
  /**
   * Origins (scheme://host[:port]) a browser may call /graphql from with credentials; unset = none
   * (the portal is served from the API's own origin and needs no CORS).
   */
  API_CORS_ORIGINS: z
    .string()
    .regex(
      /^https?:\/\/[^\s,/]+(,\s*https?:\/\/[^\s,/]+)*$/,
      'must be comma-separated origins like https://portal.example.com',
    )
    .optional(),
  /**
   * Host names /graphql answers to (DNS rebinding defence), comma-separated, ports allowed; the
   * loopback names are always allowed. Production: the API's public name(s).
   */
  API_ALLOWED_HOSTS: z
    .string()
    .regex(/^[A-Za-z0-9.\-[\]:]+(,\s*[A-Za-z0-9.\-[\]:]+)*$/, 'must be comma-separated host names')
    .optional(),
  /**
   * The API's public base URL as browsers reach it (scheme://host[:port], no path): the OIDC
   * redirect URI is PUBLIC_URL/auth/callback, and cookies are Secure when it is https.
   * Default http://API_HOST:API_PORT. Required in production.
   */
  PUBLIC_URL: z
    .string()
    .regex(
      /^https?:\/\/[A-Za-z0-9.\-_[\]:]+$/,
      'must be an origin like https://drydock.example.com (no path)',
    )
    .optional(),
  /**
   * The OIDC provider (docs/sso.md). Entra ID: https://login.microsoftonline.com/<tenant-id>/v2.0.
   * Unset outside production: `drydock up` starts the development provider and sets it.
   */
  OIDC_ISSUER: z
    .string()
    .regex(
      /^https?:\/\/[^\s]+$/,
      'must be the issuer URL, e.g. https://login.microsoftonline.com/<tenant-id>/v2.0',
    )
    .optional(),
  OIDC_CLIENT_ID: z.string().min(1).max(200).optional(),
  /** A file holding the client secret (Entra: a client secret of the app registration); unset = public client (PKCE only). */
  OIDC_CLIENT_SECRET_FILE: z.string().min(1).optional(),
  OIDC_SCOPES: z
    .string()
    .regex(/^openid( [\x21-\x7e]+)*$/, 'must be space-separated scopes starting with openid')
    .default('openid profile email'),
  /** The ID token claim naming the person's IdP tenant (Entra: tid), matched against idp_mappings. */
  OIDC_TENANT_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,100}$/)
    .default('tid'),
  /** The ID token claim listing the person's groups (Entra: groups, as object ids), matched against idp_mappings. */
  OIDC_GROUPS_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,100}$/)
    .default('groups'),
  /** A session lives this long after sign-in (then the person signs in again). */
  SESSION_TTL_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(12),
  /** Port of the development OIDC provider `drydock up` starts when OIDC_ISSUER is unset. */
  DEV_IDP_PORT: port.default(3001),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  /** The Temporal UI's base URL for the portal's workflow links; default the dev server's UI outside production. */
  TEMPORAL_UI_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+[^/\s]$/, 'must be an http(s) URL without a trailing slash')
    .optional(),
  DRYDOCK_DEMO_TENANT: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .default('demo'),
  /** Server secret for key HMACs. Required in production; a fixed development value otherwise. */
  DRYDOCK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /**
   * Keys for secrets the server reads back (domain credentials): "id:base64-32-bytes,…", the first
   * seals, all open (rotation: prepend a new key, re-seal, then drop the old). Unset = one key derived
   * from DRYDOCK_SECRET. `infra/secrets/server-secrets.ts`, ADR 0026.
   */
  DRYDOCK_SECRET_KEYS: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]+(,\s*[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]+)*$/,
      'must be id:base64-key pairs separated by commas',
    )
    .optional(),
  /** Valid enrollments one site may make per minute (sized for imaging hundreds behind one address). */
  ENROLL_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(1000),
  /** Failed enrollments one source (IPv4 address, IPv6 /64) may make per ENROLL_LOCKOUT_SECONDS. */
  ENROLL_LOCKOUT_FAILURES: z.coerce.number().int().min(1).max(1_000_000).default(10),
  ENROLL_LOCKOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  /** A machine_uid seen from another MachineGuid within this window is a clone, not a re-image. */
  COLLISION_WINDOW_SECONDS: z.coerce.number().int().min(0).default(86_400),
  AGENT_POLL_MAX_SECONDS: z.coerce.number().int().min(1).max(120).default(30),
  /**
   * How often each API process looks for steps no machine picked up by their delivery deadline
   * and hands them to their retry, which fails them `MachineUnreachable` (api/agent-channel/delivery-sweep.ts).
   */
  AGENT_DELIVERY_SWEEP_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
  /** How long a machine may be unreachable (offline, rebooting) before its provisioning run fails. */
  PROVISION_OFFLINE_LIMIT_SECONDS: z.coerce
    .number()
    .int()
    .min(30)
    .max(7 * 24 * 3600)
    .default(3600),
  /** How long a failed provisioning run waits for "retry from step" before it ends. */
  PROVISION_FAILED_HOLD_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 24 * 3600)
    .default(3 * 24 * 3600),
  /** The first pause before a failed step runs again (it doubles per attempt). */
  PROVISION_RETRY_BACKOFF_SECONDS: z.coerce.number().int().min(0).max(3600).default(5),
  /** A fleet run continues as new after starting this many machines (keeps each history small). */
  PROVISION_FLEET_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** A fleet run checks the runs it waits for this often (a lost settle, a run closed outside Drydock). */
  PROVISION_FLEET_RECONCILE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** Retention (ADR 0039): finished agent tasks are deleted this many days after their work ended. */
  RETENTION_AGENT_TASK_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** How often the worker's retention schedule prunes expired rows. */
  RETENTION_INTERVAL_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(60),
  /** Site discovery (issue 15): the "credential needed" alert is raised again this often while none is accepted. */
  DIRECTORY_REMINDER_HOURS: z.coerce
    .number()
    .min(0.001)
    .max(24 * 30)
    .default(24),
  /** A site's directory is enumerated again this often (its Temporal Schedule). */
  DIRECTORY_ENUMERATION_HOURS: z.coerce
    .number()
    .min(0.01)
    .max(24 * 30)
    .default(24),
  /** Agent push (ADR 0043): how long a deployment waits for the installed agent to enroll. */
  DEPLOY_ENROLLMENT_WAIT_SECONDS: z.coerce
    .number()
    .int()
    .min(5)
    .max(7 * 24 * 3600)
    .default(3600),
  /** How often a waiting deployment looks for its enrolled machine (a lost signal must not hang it). */
  DEPLOY_ENROLLMENT_CHECK_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /**
   * Escrow rotation (ADR 0047): a revealed local admin password or BitLocker recovery password is
   * rotated this long after its latest reveal (fractions allowed: 0.25 = 15 minutes).
   */
  ESCROW_ROTATION_GRACE_HOURS: z.coerce
    .number()
    .min(0.0001)
    .max(24 * 30)
    .default(8),
  /**
   * A revealed secret's rotation that failed on the machine (offline past the limit, a failed task)
   * is tried again after this many hours, doubling per failure up to a day apart (fractions allowed)…
   */
  ESCROW_ROTATION_RETRY_HOURS: z.coerce.number().min(0.0001).max(24).default(1),
  /** …for this many days after its first failure; then the rotation fails for good (0: never tried again). */
  ESCROW_ROTATION_RETRY_DAYS: z.coerce.number().min(0).max(90).default(7),
  /** Machines whose local admin passwords a site's or client's rotation changes at once. */
  ESCROW_ROTATION_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(10),
  /** Rows per delete statement while pruning. */
  RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(5000),
  /** Code signing (docs/installers.md): a PKCS#12 file, or a PEM certificate chain and key. */
  SIGNING_PFX: z.string().min(1).optional(),
  SIGNING_CERT: z.string().min(1).optional(),
  SIGNING_KEY: z.string().min(1).optional(),
  /** A file holding the PFX's (or encrypted PEM key's) password; never the password itself. */
  SIGNING_PASSWORD_FILE: z.string().min(1).optional(),
  /** RFC 3161 timestamp servers, comma-separated; none = signatures carry no timestamp. */
  SIGNING_TIMESTAMP_URL: z
    .string()
    .regex(/^https?:\/\/[^\s,]+(,https?:\/\/[^\s,]+)*$/, 'must be http(s) URLs separated by commas')
    .optional(),
  /** The API address agents use, written into every installer (default http://API_HOST:API_PORT). */
  INSTALLER_API_URL: z
    .string()
    .regex(/^https?:\/\/[A-Za-z0-9.\-_[\]:]+(\/[A-Za-z0-9._~\/-]*)?$/, 'must be an http(s) URL')
    .optional(),
  /** Build time for reproducible artifacts (reproducible-builds.org); default 2026-01-01. */
  SOURCE_DATE_EPOCH: z.coerce.number().int().min(315_532_800).max(4_102_444_800).optional(),
});

export type Env = z.infer<typeof schema>;

const DEVELOPMENT_SECRET = 'drydock-development-secret-not-for-production';

/** The API's public origin (PUBLIC_URL, else http://API_HOST:API_PORT). */
export function publicUrl(env: Env): string {
  if (env.PUBLIC_URL) return env.PUBLIC_URL.replace(/\/$/, '');
  const host =
    env.API_HOST.includes(':') && !env.API_HOST.startsWith('[') ? `[${env.API_HOST}]` : env.API_HOST;
  return `http://${host}:${env.API_PORT}`;
}

export function serverSecret(env: Env): string {
  if (env.DRYDOCK_SECRET) return env.DRYDOCK_SECRET;
  if (env.DRYDOCK_ENV === 'production')
    throw new ConfigError('invalid DRYDOCK_SECRET: required in production');
  return DEVELOPMENT_SECRET;
}

/** Parses the environment; the first problem becomes one ConfigError line naming the variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Treat empty strings as unset, as shells and .env files often produce them.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`invalid ${name}: ${issue.message}`);
  }
  return parsed.data;
}
