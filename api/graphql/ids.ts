import { uuidPattern } from '../../infra/db/orm';
import { apiError, ErrorCode } from './errors';

/** Ids from arguments: each must be a uuid, else BAD_USER_INPUT naming the argument. */
export function checkIds(ids: readonly (string | number)[] | null | undefined, what: string): string[] {
  const out = (ids ?? []).map(String);
  const bad = out.find((id) => !uuidPattern.test(id));
  if (bad) throw apiError(ErrorCode.BadUserInput, `${what}: ${JSON.stringify(bad)} is not an id`);
  return out;
}

/**
 * A count or offset argument (`first`, `last`, `afterSeq`): an integer within [min, max], else
 * BAD_USER_INPUT naming it and its bounds. Never silently clamped: a wrong page is worse than an error.
 */
export function checkRange(
  value: number | null | undefined,
  what: string,
  bounds: { min: number; max: number; fallback: number },
): number {
  const v = value ?? bounds.fallback;
  if (!Number.isInteger(v) || v < bounds.min || v > bounds.max)
    throw apiError(ErrorCode.BadUserInput, `${what} must be an integer from ${bounds.min} to ${bounds.max}`);
  return v;
}
