import { randomUUID } from 'node:crypto';
import { ClientSchema, MembershipSchema, Role, SessionSchema, UserSchema } from '../../infra/db/entities';
import type { EntityManager } from '../../infra/db/orm';
import { isRole } from '../auth/identity';
import { audited } from './audit';
import { ErrorCode, refuse } from './errors';
import { checkId, checkIds } from './input';
import { authorize, inTenant, type ServiceContext } from './service-context';

/** Users and their access (admin role, tenant-wide): role, reveal-secrets, client scope. */

export interface UserAccess {
  id: string;
  email: string;
  name: string;
  role: Role;
  canRevealSecrets: boolean;
  clientIds: string[] | null;
  /** Whether they have signed in (their identity-provider account is bound). */
  signedIn: boolean;
  createdAt: Date;
}

export interface AccessInput {
  role: string;
  canRevealSecrets?: boolean | null;
  clientIds?: readonly (string | number)[] | null;
}

const emailPattern = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,190}$/;

export async function listUsers(ctx: ServiceContext): Promise<UserAccess[]> {
  authorize(ctx, Role.Admin, { tenantWide: true });
  return inTenant(ctx, async (em) => {
    const memberships = await em.find(MembershipSchema, {});
    const users = await em.find(
      UserSchema,
      { id: { $in: memberships.map((m) => m.userId) } },
      { orderBy: { email: 'asc' } },
    );
    const byUser = new Map(memberships.map((m) => [m.userId, m]));
    return users.map((u) => view(u, byUser.get(u.id)!));
  });
}

/**
 * Adds a person by e-mail (admin): they get this access when they first sign in through a mapped
 * identity provider that vouches for the address (email_verified), and are bound to that account.
 */
export async function addUser(
  ctx: ServiceContext,
  input: AccessInput & { email: string; name?: string | null },
): Promise<UserAccess> {
  authorize(ctx, Role.Admin, { tenantWide: true });
  const email = input.email.trim().toLowerCase();
  if (!emailPattern.test(email))
    throw refuse(ErrorCode.BadUserInput, 'email must be an e-mail address', { field: 'email' });
  const name = input.name?.trim() || email;
  if (name.length > 200)
    throw refuse(ErrorCode.BadUserInput, 'name must be at most 200 characters', { field: 'name' });
  return audited(
    ctx,
    async (em, caller) => {
      const access = await checkAccess(em, input);
      if (await em.findOne(UserSchema, { email }))
        throw refuse(ErrorCode.UserExists, `${email} is already a user of this tenant`);
      const user = em.create(UserSchema, {
        id: randomUUID(),
        tenantId: caller.tenantId,
        email,
        displayName: name,
        createdAt: new Date(),
      });
      await em.flush();
      const membership = em.create(MembershipSchema, {
        id: randomUUID(),
        tenantId: caller.tenantId,
        userId: user.id,
        createdAt: new Date(),
        ...access,
      });
      return view(user, membership);
    },
    (u) => ({ action: 'user.added', subjectType: 'user', subjectId: u.id, data: accessData(u) }),
  );
}

/** Changes a user's role, reveal-secrets and client scope (admin); never one's own. */
export async function updateUserAccess(
  ctx: ServiceContext,
  input: AccessInput & { userId: string | number },
): Promise<UserAccess> {
  const caller = authorize(ctx, Role.Admin, { tenantWide: true });
  const userId = checkId(input.userId, 'userId');
  if (userId === caller.userId)
    throw refuse(ErrorCode.BadUserInput, 'you cannot change your own access; ask another admin');
  return audited(
    ctx,
    async (em) => {
      const access = await checkAccess(em, input);
      const user = await em.findOne(UserSchema, { id: userId });
      const membership = user && (await em.findOne(MembershipSchema, { userId }));
      if (!user || !membership) throw refuse(ErrorCode.NotFound, 'user not found');
      Object.assign(membership, access);
      return view(user, membership);
    },
    (u) => ({ action: 'user.access_changed', subjectType: 'user', subjectId: u.id, data: accessData(u) }),
  );
}

/** Takes a user's access away (admin; never one's own): membership removed, sessions revoked at once. */
export async function removeUser(ctx: ServiceContext, input: { userId: string | number }): Promise<boolean> {
  const caller = authorize(ctx, Role.Admin, { tenantWide: true });
  const userId = checkId(input.userId, 'userId');
  if (userId === caller.userId)
    throw refuse(ErrorCode.BadUserInput, 'you cannot remove yourself; ask another admin');
  return audited(
    ctx,
    async (em) => {
      const membership = await em.findOne(MembershipSchema, { userId });
      if (!membership) throw refuse(ErrorCode.NotFound, 'user not found');
      em.remove(membership);
      await em.nativeUpdate(SessionSchema, { userId, revokedAt: null }, { revokedAt: new Date() });
      return true;
    },
    () => ({ action: 'user.removed', subjectType: 'user', subjectId: userId }),
  );
}

/** Role, reveal-secrets and client ids as given, checked: the clients must be this tenant's (and the caller's to see). */
export async function checkAccess(
  em: EntityManager,
  input: AccessInput,
): Promise<{ role: Role; canRevealSecrets: boolean; clientIds: string[] | null }> {
  if (!isRole(input.role))
    throw refuse(ErrorCode.BadUserInput, 'role must be viewer, operator, engineer or admin', {
      field: 'role',
    });
  const clientIds = input.clientIds?.length ? [...new Set(checkIds(input.clientIds, 'clientIds'))] : null;
  if (clientIds && (await em.count(ClientSchema, { id: { $in: clientIds } })) !== clientIds.length)
    throw refuse(ErrorCode.ClientNotFound, 'one of clientIds is not a client of this tenant', {
      field: 'clientIds',
    });
  return { role: input.role, canRevealSecrets: input.canRevealSecrets ?? false, clientIds };
}

function view(
  user: { id: string; email: string; displayName: string; oidcSubject?: string | null; createdAt: Date },
  m: { role: Role; canRevealSecrets: boolean; clientIds?: string[] | null },
): UserAccess {
  return {
    id: user.id,
    email: user.email,
    name: user.displayName,
    role: m.role,
    canRevealSecrets: m.canRevealSecrets,
    clientIds: m.clientIds ?? null,
    signedIn: !!user.oidcSubject,
    createdAt: user.createdAt,
  };
}

const accessData = (u: UserAccess) => ({
  email: u.email,
  role: u.role,
  canRevealSecrets: u.canRevealSecrets,
  clientIds: u.clientIds,
});
