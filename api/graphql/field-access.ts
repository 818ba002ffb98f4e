import { defaultFieldResolver, type GraphQLSchema } from 'graphql';
import { auditRefusedReveal } from '../services/escrow';
import { ErrorCode, refuse } from '../services/errors';
import { fieldAccess } from '../services/permissions';
import { authorize } from '../services/service-context';
import type { GraphQLContext } from './context';

/**
 * Every root field (query, mutation, subscription) checks the declared role × field table before
 * its resolver runs; a field with no entry refuses everyone (fail closed), so a new field cannot go
 * out unchecked. The services keep their own checks (ADR 0017); this one makes the table the truth.
 */
/**
 * Root fields whose refusals go on the audit chain (issue 16: a reveal without the permission is
 * refused AND audited). The event commits before the refusal is answered.
 */
const auditedRefusals: Record<string, (ctx: GraphQLContext, args: Record<string, unknown>) => Promise<void>> =
  {
    'Mutation.revealSecret': (ctx, args) => auditRefusedReveal(ctx, args.id, 'no-permission'),
  };

export function guardRootFields(schema: GraphQLSchema): GraphQLSchema {
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (!type) continue;
    for (const field of Object.values(type.getFields())) {
      const name = `${type.name}.${field.name}`;
      const access = fieldAccess[name];
      const check = (ctx: GraphQLContext) => {
        if (!access) {
          authorize(ctx);
          throw refuse(ErrorCode.Forbidden, `no access rule is declared for ${name}`);
        }
        authorize(ctx, access.role, {
          tenantWide: access.tenantWide,
          revealSecrets: access.revealSecrets === 'required',
        });
      };
      if (type === schema.getSubscriptionType() && field.subscribe) {
        const subscribe = field.subscribe;
        field.subscribe = (root, args, ctx: GraphQLContext, info) => {
          check(ctx);
          return subscribe(root, args, ctx, info);
        };
      } else {
        const resolve = field.resolve ?? defaultFieldResolver;
        const auditRefusal = auditedRefusals[name];
        field.resolve = (root, args, ctx: GraphQLContext, info) => {
          try {
            check(ctx);
          } catch (err) {
            if (!auditRefusal || !ctx.caller) throw err;
            return auditRefusal(ctx, args as Record<string, unknown>).then(() => {
              throw err;
            });
          }
          return resolve(root, args, ctx, info);
        };
      }
    }
  }
  return schema;
}
