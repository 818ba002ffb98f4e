import { Role } from '../../infra/db/entities';

/**
 * Who is calling, once authenticated: a signed-in person (a session) or a script (an API token).
 * Both carry the same scope — a role in one tenant, reveal-secrets on top, optionally only some of
 * the tenant's clients (ADR 0031) — so the service layer checks one shape.
 */
export interface Identity {
  tenantId: string;
  /** What the audit log records: `user:<email>` or `token:<name>`. */
  actor: string;
  role: Role;
  canRevealSecrets: boolean;
  /** The clients this caller may see; null = all of the tenant's. */
  clientScope: string[] | null;
  /** The signed-in user; null for an API token. */
  userId: string | null;
  via: 'session' | 'token';
}

export const roleRank: Record<Role, number> = { viewer: 0, operator: 1, engineer: 2, admin: 3 };

export function hasRole(identity: Pick<Identity, 'role'>, needed: Role): boolean {
  return roleRank[identity.role] >= roleRank[needed];
}

export const isRole = (value: unknown): value is Role =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(roleRank, value);
