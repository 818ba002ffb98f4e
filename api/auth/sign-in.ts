import { randomUUID } from 'node:crypto';
import type { Env } from '../../infra/config/env';
import { appendAudit } from '../../infra/db/audit';
import { MembershipSchema, Role, UserSchema, type User } from '../../infra/db/entities';
import { withTenant, type Orm } from '../../infra/db/orm';
import { isRole, roleRank } from './identity';

/** Why a sign-in was refused: the code travels to /signin-error?code=… and the portal explains it. */
export class SignInError extends Error {
  override name = 'SignInError';
  constructor(
    readonly code:
      | 'NO_TENANT_MAPPING'
      | 'AMBIGUOUS_TENANT_MAPPING'
      | 'NOT_INVITED'
      | 'OIDC_STATE_MISMATCH'
      | 'OIDC_ERROR'
      | 'OIDC_UNAVAILABLE'
      | 'OIDC_FAILED',
    message: string,
  ) {
    super(message);
  }
}

export type IdTokenClaims = Record<string, unknown> & { sub: string };

/**
 * The Drydock tenant and user behind a verified ID token. The tenant comes from idp_mappings (the
 * issuer, the IdP tenant claim, a group); the user is keyed by issuer + subject (Entra: `oid`, stable
 * across apps, else `sub`), never by e-mail — except once, to bind a user an admin added by e-mail,
 * and only when the provider says the e-mail is verified.
 */
export async function signInUser(
  orm: Orm,
  env: Env,
  issuer: string,
  claims: IdTokenClaims,
): Promise<{ tenantId: string; userId: string }> {
  const subject = typeof claims.oid === 'string' ? claims.oid : claims.sub;
  const idpTenant = claims[env.OIDC_TENANT_CLAIM];
  const groupsClaim = claims[env.OIDC_GROUPS_CLAIM];
  const groups = Array.isArray(groupsClaim) ? groupsClaim.filter((g) => typeof g === 'string') : [];
  const mappings = (await orm.em.getConnection().execute('select * from auth_idp_mappings(?)', [issuer])) as {
    tenant_id: string;
    idp_tenant: string | null;
    idp_group: string | null;
    default_role: string | null;
  }[];
  const matching = mappings.filter(
    (m) =>
      (m.idp_tenant === null || m.idp_tenant === idpTenant) &&
      (m.idp_group === null || groups.includes(m.idp_group)),
  );
  const tenants = [...new Set(matching.map((m) => m.tenant_id))];
  if (tenants.length === 0)
    throw new SignInError('NO_TENANT_MAPPING', 'no Drydock tenant is mapped to your organisation or groups');
  if (tenants.length > 1)
    throw new SignInError(
      'AMBIGUOUS_TENANT_MAPPING',
      'your organisation or groups are mapped to more than one Drydock tenant',
    );
  const tenantId = tenants[0]!;
  const defaultRole = matching
    .map((m) => m.default_role)
    .filter(isRole)
    .sort((a, b) => roleRank[b] - roleRank[a])[0];
  const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : null;
  const name =
    typeof claims.name === 'string' && claims.name.trim()
      ? claims.name.trim().slice(0, 200)
      : (email ?? subject);

  return withTenant(orm, tenantId, async (em) => {
    let user: User | null = await em.findOne(UserSchema, { oidcIssuer: issuer, oidcSubject: subject });
    let how = 'known';
    // The provider vouches for the address: OIDC's email_verified, or Entra ID's optional claim
    // xms_edov (the e-mail's domain owner is verified; Entra sends no email_verified).
    if (
      !user &&
      email &&
      (claims.email_verified === true || claims.xms_edov === true || claims.xms_edov === '1')
    ) {
      user = await em.findOne(UserSchema, { email, oidcSubject: null });
      if (user) how = 'invited';
    }
    if (!user && defaultRole) {
      user = em.create(UserSchema, {
        id: randomUUID(),
        tenantId,
        email: email ?? subject,
        displayName: name,
        createdAt: new Date(),
      });
      await em.flush();
      em.create(MembershipSchema, {
        id: randomUUID(),
        tenantId,
        userId: user.id,
        role: defaultRole,
        createdAt: new Date(),
      });
      how = 'created';
    }
    if (!user || (how !== 'created' && !(await em.findOne(MembershipSchema, { userId: user.id }))))
      throw new SignInError(
        'NOT_INVITED',
        'you have no access to this Drydock tenant yet; ask one of its admins',
      );
    user.oidcIssuer = issuer;
    user.oidcSubject = subject;
    user.displayName = name;
    if (email) user.email = email;
    await em.flush();
    await appendAudit(em, {
      tenantId,
      actor: `user:${user.email}`,
      action: 'user.signed_in',
      subjectType: 'user',
      subjectId: user.id,
      data: { how },
    });
    return { tenantId, userId: user.id };
  });
}

export { Role };
