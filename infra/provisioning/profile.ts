import { z } from 'zod';
import { retiredTweakIds, standardTweakIds, tweakIds } from './tweaks';

/** Phases in the order provisionMachine runs them (security and join steps arrive later). */
export const PHASE_ORDER = [
  'preflight',
  'identity',
  'security',
  'join',
  'apps',
  'tweaks',
  'drivers',
  'locale',
  'inventory',
  'validation',
] as const;
export type Phase = (typeof PHASE_ORDER)[number];

const netbiosChars = /^[A-Za-z0-9{}-]+$/;
const sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a SHA-256 hex digest (64 hex digits)');

/**
 * Stable codes of the join phase's profile errors (ADR 0048): the portal and the API name them in
 * `ProfileError.code`, whatever the sentence says.
 */
export const JoinProfileError = {
  /** The join phase is on but names neither `domain` nor `entra`, or names both. */
  NoTarget: 'JOIN_TARGET_REQUIRED',
  DomainName: 'JOIN_DOMAIN_INVALID',
  OuPath: 'JOIN_OU_INVALID',
  Credential: 'JOIN_CREDENTIAL_INVALID',
  Server: 'JOIN_SERVER_INVALID',
  /** `method: 'provisioning-package'` without a package, a package with `autopilot`, or a bad package. */
  Package: 'JOIN_PACKAGE_INVALID',
} as const;

/** The code of an error at `path` in the join phase (zod carries no params on format checks). */
function joinErrorCode(path: string[]): string | undefined {
  if (path[0] !== 'phases' || path[1] !== 'join') return undefined;
  const [, , part, field] = path;
  if (part === 'entra') return JoinProfileError.Package;
  if (part !== 'domain') return JoinProfileError.NoTarget;
  switch (field) {
    case 'name':
      return JoinProfileError.DomainName;
    case 'ouPath':
      return JoinProfileError.OuPath;
    case 'credential':
      return JoinProfileError.Credential;
    case 'server':
      return JoinProfileError.Server;
    default:
      return JoinProfileError.NoTarget;
  }
}
const dnsLabel = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?';
const uuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * The join phase (issue 16, ADR 0048): an AD domain join with the site's join credential (by
 * reference: `'site'` for the current join credential of the machine's site, or a credential's id;
 * never a password), into an OU, optionally through one DC; or an Entra join, by a provisioning
 * package (a .ppkg with a bulk enrollment token, pinned by SHA-256) or Autopilot (nothing to run on
 * a running machine: the step checks and reports).
 */
const JoinPhaseSchema = z
  .object({
    enabled: z.boolean(),
    domain: z
      .object({
        name: z
          .string()
          .max(255)
          .regex(new RegExp(`^${dnsLabel}(?:\\.${dnsLabel})+$`), {
            message: "must be the domain's DNS name (contoso.com), not its NetBIOS name",
          }),
        ouPath: z
          .string()
          .max(1024)
          .regex(/^OU=[^,\u0000-\u001f]+(?:,(?:OU|CN|DC)=[^,\u0000-\u001f]+)*,DC=[^,\u0000-\u001f]+$/i, {
            message: "must be an OU's distinguished name (OU=Laptops,OU=Computers,DC=contoso,DC=com)",
          })
          .optional(),
        credential: z.string().refine((c) => c === 'site' || uuid.test(c), {
          message:
            "must be 'site' (the site's current join credential) or a join credential's id; never a user name or password",
        }),
        server: z
          .string()
          .max(255)
          .regex(new RegExp(`^${dnsLabel}(?:\\.${dnsLabel})*$`), {
            message: "must be a domain controller's DNS name",
          })
          .optional(),
      })
      .strict()
      .optional(),
    entra: z
      .object({
        method: z.enum(['provisioning-package', 'autopilot']),
        package: z
          .object({
            name: z
              .string()
              .min(1)
              .max(100)
              .regex(
                /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/,
                'may use letters, digits, spaces, dots, dashes and underscores',
              ),
            url: z
              .string()
              .url()
              .refine((u) => u.startsWith('https://'), 'must be an https:// URL')
              .refine((u) => /\.ppkg$/i.test(new URL(u).pathname), 'must name a .ppkg file'),
            sha256,
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((join, ctx) => {
    if (join.enabled && !join.domain === !join.entra)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message:
          'an enabled join phase names exactly one of domain { name, ouPath, credential } or entra { method }',
        params: { code: JoinProfileError.NoTarget },
      });
    const entra = join.entra;
    if (entra && (entra.method === 'provisioning-package') !== (entra.package !== undefined))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['entra', 'package'],
        message:
          entra.method === 'provisioning-package'
            ? 'the provisioning-package method needs package { name, url, sha256 } (a .ppkg made with Windows Configuration Designer)'
            : 'autopilot runs nothing on the machine: it takes no package',
        params: { code: JoinProfileError.Package },
      });
  });

/** A provisioning profile: which phases and steps run, with their settings. */
export const ProfileSchema = z
  .object({
    schemaVersion: z.literal(1),
    phases: z
      .object({
        preflight: z.object({
          enabled: z.boolean(),
          requireAcPower: z.boolean(),
          minFreeDiskGb: z.number().int().min(0).max(10_000),
          requireTpm: z.boolean(),
          requireSecureBoot: z.boolean(),
          minOsBuild: z.number().int().min(10240),
        }),
        identity: z.object({
          enabled: z.boolean(),
          /** Tokens: {SITE}, {SERIAL4} (last 4 of the serial), {SEQ3} (3-digit sequence in the site). */
          nameTemplate: z
            .string()
            .min(1)
            .regex(netbiosChars, 'may use letters, digits, dashes and {TOKENS} only')
            .refine(
              (t) =>
                [...t.matchAll(/\{([^}]*)\}/g)].every((m) => ['SITE', 'SERIAL4', 'SEQ3'].includes(m[1]!)),
              'uses an unknown token (the tokens are {SITE}, {SERIAL4} and {SEQ3})',
            )
            .refine(
              (t) => renderNameLength(t) <= 15,
              'renders longer than 15 characters (the NetBIOS limit)',
            ),
        }),
        security: z
          .object({
            enabled: z.boolean(),
            /**
             * LAPS-style local administrator (issue 16, ADR 0044): a random password per machine,
             * escrowed to the tenant key before it is set. `create`: make the account if absent
             * (a dedicated account) instead of failing.
             */
            localAdmin: z
              .object({
                account: z
                  .string()
                  .min(1)
                  .max(20)
                  .regex(/^[^"/\\[\]:;|=,+*?<>@\u0000-\u001f]+$/, 'is not a valid local account name'),
                create: z.boolean().optional(),
                length: z.number().int().min(14).max(64).optional(),
              })
              .strict()
              .optional(),
            /**
             * BitLocker on the system volume (ADR 0044): a recovery password escrowed before it is
             * added and before encryption starts with the TPM; an encrypted volume gets its recovery
             * password rotated instead (never decrypted).
             */
            bitlocker: z
              .object({
                encryptionMethod: z.enum(['XtsAes128', 'XtsAes256']).optional(),
                usedSpaceOnly: z.boolean().optional(),
              })
              .strict()
              .optional(),
          })
          .strict(),
        join: JoinPhaseSchema,
        apps: z.object({
          enabled: z.boolean(),
          winget: z
            .array(
              z
                .object({
                  id: z
                    .string()
                    .max(128)
                    .regex(
                      /^[A-Za-z0-9][A-Za-z0-9+_-]*(?:\.[A-Za-z0-9+_-]+)+$/,
                      'is not a winget package id (Publisher.Package, e.g. Google.Chrome)',
                    ),
                  version: z.string().max(64).optional(),
                })
                .strict(),
            )
            .max(200),
          installers: z
            .array(
              z
                .object({
                  name: z.string().min(1).max(100),
                  url: z
                    .string()
                    .url()
                    .refine((u) => u.startsWith('https://'), 'must be an https:// URL')
                    .refine(
                      (u) => /\.(exe|msi)$/i.test(new URL(u).pathname),
                      'must name an .exe or .msi file (the agent runs only those)',
                    ),
                  sha256,
                  arguments: z.array(z.string().max(200)).max(20).default([]),
                })
                .strict(),
            )
            .max(50),
        }),
        tweaks: z.object({
          enabled: z.boolean(),
          selected: z
            .array(
              z
                .string()
                .refine(
                  (id) => tweakIds.has(id) || retiredTweakIds.has(id),
                  'is not a tweak in the catalogue',
                ),
            )
            .max(200),
        }),
        drivers: z.object({ enabled: z.boolean() }),
        locale: z.object({
          enabled: z.boolean(),
          timeZone: z.string().min(1).max(64),
          locale: z.string().regex(/^[a-z]{2,3}-[A-Z]{2}$/, 'must look like en-US'),
          keyboard: z
            .string()
            .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{8}$/, 'must be a Windows input locale like 0409:00000409')
            // As Windows reports it, so comparisons are exact.
            .transform((k) => k.toUpperCase()),
          /** Regional formats (user locale) new users get; default: the same as `locale`. */
          formats: z
            .string()
            .regex(/^[a-z]{2,3}-[A-Z]{2}$/, 'must look like en-GB')
            .optional(),
          /** Home location as a Windows GeoID (244 = United States, 242 = United Kingdom, 94 = Germany). */
          homeLocation: z.number().int().min(1).max(999_999).default(244),
          /**
           * Wi-Fi profiles to add. Open and 802.1X (enterprise, machine authentication) networks only:
           * a pre-shared key is a secret, and secrets never travel in a profile or a workflow history.
           */
          wifi: z
            .array(
              z
                .object({
                  ssid: z.string().min(1).max(32),
                  authentication: z.enum(['open', 'wpa2-enterprise', 'wpa3-enterprise']),
                  autoConnect: z.boolean().default(true),
                  /**
                   * Enterprise networks must pin the RADIUS server: without it a machine-mode PEAP
                   * profile accepts any certificate from any trusted root for any name.
                   */
                  radius: z
                    .object({
                      serverNames: z
                        .array(
                          z.string().regex(/^[A-Za-z0-9*](?:[A-Za-z0-9.*-]{0,252})$/, 'must be a DNS name'),
                        )
                        .min(1)
                        .max(10),
                      trustedRootCaThumbprints: z
                        .array(
                          z.string().regex(/^[0-9a-fA-F]{40}$/, 'must be a SHA-1 thumbprint (40 hex digits)'),
                        )
                        .min(1)
                        .max(10),
                    })
                    .strict()
                    .optional(),
                })
                .strict()
                .refine(
                  (w) => w.authentication === 'open' || w.radius !== undefined,
                  'an enterprise network needs radius { serverNames, trustedRootCaThumbprints } (the RADIUS certificate is pinned)',
                ),
            )
            .max(20)
            .default([]),
        }),
        inventory: z.object({ enabled: z.boolean(), autopilotHash: z.boolean() }),
        validation: z.object({ enabled: z.boolean() }),
      })
      .strict(),
  })
  .strict();

export type Profile = z.infer<typeof ProfileSchema>;

/** Longest rendering of a name template: tokens count at their widest. */
function renderNameLength(template: string): number {
  const widths: Record<string, number> = { SITE: 6, SERIAL4: 4, SEQ3: 3 };
  return template.replace(/\{([A-Z0-9]+)\}/g, (m, token: string) => 'x'.repeat(widths[token] ?? m.length))
    .length;
}

export const standardProfile: Profile = {
  schemaVersion: 1,
  phases: {
    preflight: {
      enabled: true,
      requireAcPower: true,
      minFreeDiskGb: 20,
      requireTpm: true,
      requireSecureBoot: true,
      minOsBuild: 19045,
    },
    identity: { enabled: true, nameTemplate: '{SITE}-{SEQ3}' },
    security: { enabled: false },
    join: { enabled: false },
    apps: {
      enabled: true,
      winget: [{ id: 'Google.Chrome' }, { id: '7zip.7zip' }, { id: 'Adobe.Acrobat.Reader.64-bit' }],
      installers: [],
    },
    tweaks: { enabled: true, selected: standardTweakIds },
    drivers: { enabled: false },
    locale: {
      enabled: true,
      timeZone: 'UTC',
      locale: 'en-US',
      keyboard: '0409:00000409',
      homeLocation: 244,
      wifi: [],
    },
    inventory: { enabled: true, autopilotHash: true },
    validation: { enabled: true },
  },
};

export type ProfileLayer = { [key: string]: unknown };

export interface ProfileError {
  path: string;
  message: string;
  /** A stable code where the schema gives one (the join phase's, JoinProfileError). */
  code?: string;
}

/** Objects merge key by key; arrays and scalars in a later layer replace earlier ones. */
export function mergeLayers(base: unknown, ...layers: unknown[]): unknown {
  let out = base;
  for (const layer of layers) out = mergeTwo(out, layer);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mergeTwo(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (!isPlainObject(a) || !isPlainObject(b)) return structuredClone(b);
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    out[k] = mergeTwo(a[k], v);
  }
  return out;
}

/**
 * Effective config = tenant defaults ⊕ client ⊕ site ⊕ profile ⊕ per-machine overrides, over the
 * built-in Standard profile. Returns the resolved profile, or every error with its path.
 */
export function resolveProfile(
  layers: ProfileLayer[],
): { ok: true; profile: Profile } | { ok: false; errors: ProfileError[] } {
  const merged = mergeLayers(standardProfile, ...layers);
  const parsed = ProfileSchema.safeParse(merged);
  if (parsed.success) return { ok: true, profile: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((i) => {
      const given = (i as { params?: { code?: unknown } }).params?.code;
      const code = typeof given === 'string' ? given : joinErrorCode(i.path.map(String));
      return {
        path: i.path.map(String).join('.') || '(root)',
        message: i.message,
        ...(typeof code === 'string' ? { code } : {}),
      };
    }),
  };
}
