import { randomUUID } from 'node:crypto';
import { ProfileVersionSchema, Role, type ProfileVersion } from '../../infra/db/entities';
import { setProfileLayer as writeProfileLayer, type ProfileLayerScope } from '../../infra/db/profile-layers';
import { resolveProfile, type ProfileError, type ProfileLayer } from '../../infra/provisioning/profile';
import { audited } from './audit';
import { ErrorCode, refuse } from './errors';
import { checkId } from './input';
import { authorize, inTenant, type ServiceContext } from './service-context';

/** Provisioning profiles (versioned, insert-only) and the layers tenants, clients, sites and machines put over them. */

export async function listProfiles(ctx: ServiceContext): Promise<ProfileVersion[]> {
  return inTenant(ctx, (em) =>
    em.find(ProfileVersionSchema, {}, { orderBy: { name: 'asc', version: 'desc' } }),
  );
}

/** A profile document merged over the built-in Standard profile; null if that is invalid. */
export function resolvedProfile(profile: ProfileVersion): unknown {
  const result = resolveProfile([profile.document]);
  return result.ok ? result.profile : null;
}

function parseDocument(json: string): { layer?: ProfileLayer; errors: ProfileError[] } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { errors: [{ path: '(root)', message: 'is not valid JSON' }] };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { errors: [{ path: '(root)', message: 'must be a JSON object' }] };
  }
  const result = resolveProfile([value as ProfileLayer]);
  return { layer: value as ProfileLayer, errors: result.ok ? [] : result.errors };
}

/** Checks a profile document (JSON) without saving it (any role); no errors means valid. */
export function validateProfile(ctx: ServiceContext, input: { documentJson: string }): ProfileError[] {
  authorize(ctx);
  return parseDocument(input.documentJson).errors;
}

/** Saves a new version of a profile (engineer role); an invalid document is refused with every error by path. */
export async function saveProfile(
  ctx: ServiceContext,
  input: { name: string; documentJson: string },
): Promise<ProfileVersion> {
  authorize(ctx, Role.Engineer);
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(input.name))
    throw refuse(
      ErrorCode.BadUserInput,
      'profile name must be 1–64 letters, digits, spaces, dots, dashes or underscores',
    );
  const { layer, errors } = parseDocument(input.documentJson);
  if (!layer || errors.length > 0)
    throw refuse(ErrorCode.InvalidProfile, `the profile has ${errors.length} error(s)`, { errors });
  return audited(
    ctx,
    async (em, caller) => {
      const latest = await em.findOne(
        ProfileVersionSchema,
        { name: input.name },
        { orderBy: { version: 'desc' } },
      );
      return em.create(ProfileVersionSchema, {
        id: randomUUID(),
        tenantId: caller.tenantId,
        name: input.name,
        version: (latest?.version ?? 0) + 1,
        document: layer,
        createdBy: caller.actor,
        createdAt: new Date(),
      });
    },
    (saved) => ({
      action: 'profile.saved',
      subjectType: 'profile',
      subjectId: saved.id,
      data: { name: saved.name, version: saved.version },
    }),
  );
}

/**
 * Sets the profile overrides of the tenant, a client, a site or a machine (engineer role; the
 * tenant's layer not for a caller scoped to some clients). Refused
 * with every error by path if the layer would make the Standard profile invalid.
 */
export async function setProfileLayer(
  ctx: ServiceContext,
  input: { scope: ProfileLayerScope; id?: string | number | null; documentJson: string },
): Promise<true> {
  // The tenant's layer applies to every client: not for a caller scoped to some of them.
  const caller = authorize(ctx, Role.Engineer, { tenantWide: input.scope === 'tenant' });
  let layer: unknown;
  try {
    layer = JSON.parse(input.documentJson);
  } catch {
    throw refuse(ErrorCode.BadUserInput, 'documentJson is not valid JSON');
  }
  if (typeof layer !== 'object' || layer === null || Array.isArray(layer))
    throw refuse(ErrorCode.BadUserInput, 'documentJson must be a JSON object');
  const resolved = resolveProfile([layer as ProfileLayer]);
  if (!resolved.ok)
    throw refuse(ErrorCode.InvalidProfile, `the layer has ${resolved.errors.length} error(s)`, {
      errors: resolved.errors,
    });
  const id = input.scope === 'tenant' ? caller.tenantId : checkId(input.id ?? '', 'id');
  return audited(
    ctx,
    async (em) => {
      const changed = await writeProfileLayer(em, input.scope, id, layer as Record<string, unknown>);
      if (changed === 0 && input.scope !== 'tenant') throw refuse(ErrorCode.NotFound, 'not found');
      return true as const;
    },
    () => ({ action: 'profile_layer.set', subjectType: input.scope, subjectId: id }),
  );
}
