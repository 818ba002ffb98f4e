import { defaultFieldResolver, type GraphQLSchema } from 'graphql';
import { ErrorCode, refuse } from '../services/errors';
import { fieldAccess } from '../services/permissions';
import { authorize } from '../services/service-context';
import type { GraphQLContext } from './context';

/**
 * Every root field (query, mutation, subscription) checks the declared role × field table before
 * its resolver runs; a field with no entry refuses everyone (fail closed), so a new field cannot go
 * out unchecked. The services keep their own checks (ADR 0017); this one makes the table the truth.
 */
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
        field.resolve = (root, args, ctx: GraphQLContext, info) => {
          check(ctx);
          return resolve(root, args, ctx, info);
        };
      }
    }
  }
  return schema;
}
