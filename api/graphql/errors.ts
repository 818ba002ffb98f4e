import { GraphQLError } from 'graphql';
import { ErrorCode, ServiceError } from '../services/errors';

export { ErrorCode };

/** A GraphQL error with a stable code in `extensions.code` (and any details beside it). */
export function apiError(
  code: ErrorCode | string,
  message: string,
  extra: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extra, code } });
}

/**
 * A service's refusal as the GraphQL error the portal reads: its message, its stable code and its
 * details in `extensions`, at the field that asked. The one place service errors become GraphQL
 * errors (yoga's maskError calls it); null for anything else, which stays masked as internal.
 */
export function fromServiceError(error: unknown): GraphQLError | null {
  const located = error instanceof GraphQLError ? error : null;
  const cause = located ? located.originalError : error;
  if (!(cause instanceof ServiceError)) return null;
  return new GraphQLError(cause.message, {
    ...(located
      ? { nodes: located.nodes, source: located.source, positions: located.positions, path: located.path }
      : {}),
    originalError: cause,
    extensions: { ...cause.extra, code: cause.code },
  });
}
