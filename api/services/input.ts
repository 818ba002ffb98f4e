import { uuidPattern } from '../../infra/db/orm';
import type { FleetSelection } from '../../infra/db/entities';
import { ErrorCode, refuse } from './errors';

/**
 * Checks of what callers send, shared by the services: each refuses with BAD_USER_INPUT naming the
 * argument. Never silently repaired: a wrong page or a wrong machine is worse than an error.
 */

/** Ids: each must be a uuid. */
export function checkIds(ids: readonly (string | number)[] | null | undefined, what: string): string[] {
  const out = (ids ?? []).map(String);
  const bad = out.find((id) => !uuidPattern.test(id));
  if (bad) throw refuse(ErrorCode.BadUserInput, `${what}: ${JSON.stringify(bad)} is not an id`);
  return out;
}

/** One id. */
export function checkId(id: string | number, what: string): string {
  return checkIds([id], what)[0]!;
}

/** A count or offset (`first`, `last`, `afterSeq`): an integer within [min, max]. */
export function checkRange(
  value: number | null | undefined,
  what: string,
  bounds: { min: number; max: number; fallback: number },
): number {
  const v = value ?? bounds.fallback;
  if (!Number.isInteger(v) || v < bounds.min || v > bounds.max)
    throw refuse(ErrorCode.BadUserInput, `${what} must be an integer from ${bounds.min} to ${bounds.max}`);
  return v;
}

/** What a fleet-wide run selects, as callers send it: ids, and labels as `key=value`. */
export interface SelectionInput {
  siteIds?: readonly (string | number)[] | null;
  clientIds?: readonly (string | number)[] | null;
  machineIds?: readonly (string | number)[] | null;
  tags?: readonly string[] | null;
}

export function checkSelection(input: SelectionInput): FleetSelection {
  const tags: Record<string, string> = {};
  for (const tag of input.tags ?? []) {
    const m = /^([^=]{1,64})=(.{0,256})$/.exec(tag);
    if (!m) throw refuse(ErrorCode.BadUserInput, `tag ${JSON.stringify(tag)} must be key=value`);
    tags[m[1]!] = m[2]!;
  }
  return {
    siteIds: checkIds(input.siteIds, 'siteIds'),
    clientIds: checkIds(input.clientIds, 'clientIds'),
    machineIds: checkIds(input.machineIds, 'machineIds'),
    tags,
  };
}
