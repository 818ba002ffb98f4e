import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { appendAudit } from '../../../infra/db/audit';
import { ProfileVersionSchema, Role, type ProfileVersion } from '../../../infra/db/entities';
import { resolveProfile, type ProfileError, type ProfileLayer } from '../../../infra/provisioning/profile';
import { builder } from '../builder';
import { ErrorCode } from '../errors';
import { inTenant, requireIdentity } from '../tenant-scope';

const ProfileErrorRef = builder.objectRef<ProfileError>('ProfileError').implement({
  description:
    'One problem in a profile document, with its path (for example phases.apps.installers.0.sha256).',
  fields: (t) => ({ path: t.exposeString('path'), message: t.exposeString('message') }),
});

const ProfileRef = builder.objectRef<ProfileVersion>('Profile').implement({
  description: 'One saved version of a provisioning profile.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    version: t.exposeInt('version'),
    documentJson: t.string({
      description: 'The document as saved (a layer over the Standard profile).',
      resolve: (p) => JSON.stringify(p.document),
    }),
    resolvedJson: t.string({
      description: 'The document merged over the built-in Standard profile.',
      resolve: (p) => {
        const result = resolveProfile([p.document]);
        return JSON.stringify(result.ok ? result.profile : null);
      },
    }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
  }),
});

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

builder.queryField('profiles', (t) =>
  t.field({
    type: [ProfileRef],
    description: 'Every saved version, newest first.',
    resolve: (_root, _args, ctx) =>
      inTenant(ctx, (em) => em.find(ProfileVersionSchema, {}, { orderBy: { name: 'asc', version: 'desc' } })),
  }),
);

builder.queryField('validateProfile', (t) =>
  t.field({
    type: [ProfileErrorRef],
    description: 'Checks a profile document (JSON) without saving it; an empty list means valid.',
    args: { documentJson: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      requireIdentity(ctx);
      return parseDocument(args.documentJson).errors;
    },
  }),
);

builder.mutationField('saveProfile', (t) =>
  t.field({
    type: ProfileRef,
    description:
      'Saves a new version of a profile (engineer role). An invalid document is refused with every error by path.',
    args: { name: t.arg.string({ required: true }), documentJson: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      const identity = requireIdentity(ctx, Role.Engineer);
      if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(args.name)) {
        throw new GraphQLError(
          'profile name must be 1–64 letters, digits, spaces, dots, dashes or underscores',
          {
            extensions: { code: ErrorCode.BadUserInput },
          },
        );
      }
      const { layer, errors } = parseDocument(args.documentJson);
      if (!layer || errors.length > 0) {
        throw new GraphQLError(`the profile has ${errors.length} error(s)`, {
          extensions: { code: ErrorCode.InvalidProfile, errors },
        });
      }
      return inTenant(ctx, async (em) => {
        const latest = await em.findOne(
          ProfileVersionSchema,
          { name: args.name },
          { orderBy: { version: 'desc' } },
        );
        const saved = em.create(ProfileVersionSchema, {
          id: randomUUID(),
          tenantId: identity.tenantId,
          name: args.name,
          version: (latest?.version ?? 0) + 1,
          document: layer,
          createdBy: identity.actor,
          createdAt: new Date(),
        });
        await em.flush();
        await appendAudit(em, {
          tenantId: identity.tenantId,
          actor: identity.actor,
          action: 'profile.saved',
          subjectType: 'profile',
          subjectId: saved.id,
          data: { name: saved.name, version: saved.version },
        });
        return saved;
      });
    },
  }),
);
