import type { FastifyRequest } from 'fastify';
import type { Env } from '../../infra/config/env';
import { Role } from '../../infra/db/entities';
import { demoTenantId } from '../../infra/db/seed-demo';

export interface Identity {
  tenantId: string;
  actor: string;
  role: Role;
}

const roleRank: Record<Role, number> = { viewer: 0, operator: 1, engineer: 2, admin: 3 };

export function hasRole(identity: Identity, needed: Role): boolean {
  return roleRank[identity.role] >= roleRank[needed];
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const loopbackAddress = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
/**
 * Development identity, until OIDC sign-in lands: outside production every request acts as an
 * admin of the demo tenant, or of the tenant named by the `x-drydock-tenant` header (tests use
 * it to act as two tenants), with the role named by `x-drydock-role` (default admin; tests use it
 * to prove role checks). Only for callers on this machine: the API binds loopback only in
 * development (assertIdentitySafe), and a request from any other address gets no identity. In
 * production there is no identity, so every query is refused.
 */
export function resolveIdentity(env: Env, request: FastifyRequest): Identity | null {
  if (env.DRYDOCK_ENV === 'production') return null;
  if (!loopbackAddress.test(request.socket.remoteAddress ?? '')) return null;
  const header = request.headers['x-drydock-tenant'];
  const tenantId =
    typeof header === 'string' && uuid.test(header)
      ? header.toLowerCase()
      : demoTenantId(env.DRYDOCK_DEMO_TENANT);
  const asked = request.headers['x-drydock-role'];
  const role = typeof asked === 'string' && asked in roleRank ? (asked as Role) : Role.Admin;
  return { tenantId, actor: `dev:local-${role}`, role };
}
