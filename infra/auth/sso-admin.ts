import { randomUUID } from 'node:crypto';
import { appendAudit } from '../db/audit';
import { IdpMappingSchema, MembershipSchema, Role, TenantSchema, UserSchema } from '../db/entities';
import { uuidPattern, withTenant, type Orm } from '../db/orm';
import { ConfigError } from '../config/env';

/**
 * The install's operator, not a tenant admin, says which identity-provider tenants and groups sign
 * in to which Drydock tenant (`drydock sso …`, docs/sso.md): a tenant admin who could map any
 * issuer and `tid` could pull another organisation's people into their tenant.
 */

/** A tenant by id, or by slug (found with the maintenance role, as `drydock audit verify` does). */
async function tenantBySlug(orm: Orm, slugOrId: string): Promise<string> {
  if (uuidPattern.test(slugOrId)) return slugOrId.toLowerCase();
  const rows = (await orm.em
    .getConnection()
    .execute('select tenant_id::text from tenants where slug = ?', [slugOrId])) as { tenant_id: string }[];
  const id = rows[0]?.tenant_id;
  if (!id) throw new ConfigError(`no tenant with slug ${JSON.stringify(slugOrId)} (or give its id)`);
  return id;
}

export interface MappingInput {
  tenant: string;
  issuer: string;
  idpTenant?: string;
  group?: string;
  defaultRole?: string;
}

export async function addIdpMapping(orm: Orm, input: MappingInput): Promise<string> {
  if (!/^https:\/\/|^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(input.issuer))
    throw new ConfigError('invalid --issuer: must be an https:// issuer URL');
  if (input.defaultRole && !(Object.values(Role) as string[]).includes(input.defaultRole))
    throw new ConfigError('invalid --default-role: viewer, operator, engineer or admin');
  if (!input.idpTenant && !input.group)
    throw new ConfigError(
      'give --idp-tenant or --group (or both): a bare issuer would admit everyone it knows',
    );
  const tenantId = await tenantBySlug(orm, input.tenant);
  return withTenant(orm, tenantId, async (em) => {
    const row = em.create(IdpMappingSchema, {
      id: randomUUID(),
      tenantId,
      issuer: input.issuer.replace(/\/$/, ''),
      idpTenant: input.idpTenant ?? null,
      idpGroup: input.group ?? null,
      defaultRole: (input.defaultRole as Role | undefined) ?? null,
      createdAt: new Date(),
    });
    await em.flush();
    await appendAudit(em, {
      tenantId,
      actor: 'system:drydock-sso',
      action: 'sso.mapping_added',
      subjectType: 'tenant',
      subjectId: tenantId,
      data: {
        issuer: row.issuer,
        idpTenant: row.idpTenant,
        idpGroup: row.idpGroup,
        defaultRole: row.defaultRole,
      },
    });
    return row.id;
  });
}

export async function listIdpMappings(orm: Orm, slug: string) {
  const tenantId = await tenantBySlug(orm, slug);
  return withTenant(orm, tenantId, (em) => em.find(IdpMappingSchema, {}, { orderBy: { createdAt: 'asc' } }));
}

/** The first admin of a tenant (there is nobody yet to add them in the portal): bound at first sign-in. */
export async function addTenantUser(
  orm: Orm,
  input: { tenant: string; email: string; role: string; revealSecrets: boolean },
): Promise<void> {
  if (!(Object.values(Role) as string[]).includes(input.role))
    throw new ConfigError('invalid --role: viewer, operator, engineer or admin');
  const email = input.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new ConfigError('invalid --email');
  const tenantId = await tenantBySlug(orm, input.tenant);
  await withTenant(orm, tenantId, async (em) => {
    if (!(await em.findOne(TenantSchema, { id: tenantId }))) throw new ConfigError('tenant not found');
    const user =
      (await em.findOne(UserSchema, { email })) ??
      em.create(UserSchema, { id: randomUUID(), tenantId, email, displayName: email, createdAt: new Date() });
    await em.flush();
    const membership =
      (await em.findOne(MembershipSchema, { userId: user.id })) ??
      em.create(MembershipSchema, {
        id: randomUUID(),
        tenantId,
        userId: user.id,
        role: input.role as Role,
        createdAt: new Date(),
      });
    membership.role = input.role as Role;
    membership.canRevealSecrets = input.revealSecrets;
    await em.flush();
    await appendAudit(em, {
      tenantId,
      actor: 'system:drydock-sso',
      action: 'user.added',
      subjectType: 'user',
      subjectId: user.id,
      data: { email, role: input.role, canRevealSecrets: input.revealSecrets },
    });
  });
}
