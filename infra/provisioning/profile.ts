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
        join: z.object({ enabled: z.boolean() }),
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
    errors: parsed.error.issues.map((i) => ({
      path: i.path.map(String).join('.') || '(root)',
      message: i.message,
    })),
  };
}
