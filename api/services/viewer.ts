import { Role, TenantSchema, UserSchema, type Tenant } from '../../infra/db/entities';
import { audited } from './audit';
import { ErrorCode, refuse } from './errors';
import { authorize, inTenant, type ServiceContext } from './service-context';

export interface Branding {
  displayName: string;
  logoUrl: string | null;
  accentColor: string;
}

export interface Viewer {
  user: { id: string; email: string; name: string } | null;
  role: Role;
  canRevealSecrets: boolean;
  clientScope: string[] | null;
  tenant: Tenant;
}

export const brandingOf = (tenant: Tenant): Branding => ({
  displayName: tenant.displayName ?? tenant.name,
  logoUrl: tenant.logoUrl ?? null,
  accentColor: tenant.accentColor,
});

/** Who is asking: the session's person (or the API token's scope), their role and their tenant. */
export async function currentViewer(ctx: ServiceContext): Promise<Viewer> {
  return inTenant(ctx, async (em, caller) => {
    const tenant = await em.findOneOrFail(TenantSchema, { id: caller.tenantId });
    const user = caller.userId ? await em.findOne(UserSchema, { id: caller.userId }) : null;
    return {
      user: user ? { id: user.id, email: user.email, name: user.displayName } : null,
      role: caller.role,
      canRevealSecrets: caller.canRevealSecrets,
      clientScope: caller.clientScope,
      tenant,
    };
  });
}

const accent = /^#[0-9a-fA-F]{6}$/;
const logo = /^(https:\/\/|\/)[^\s"'<>]{1,1000}$/;

/** White-label (admin): the name, logo and accent colour the portal shows. */
export async function updateBranding(
  ctx: ServiceContext,
  input: { displayName: string; logoUrl?: string | null; accentColor: string },
): Promise<Branding> {
  authorize(ctx, Role.Admin);
  const displayName = input.displayName.trim();
  if (displayName.length < 1 || displayName.length > 100)
    throw refuse(ErrorCode.BadUserInput, 'displayName must be 1–100 characters', { field: 'displayName' });
  if (!accent.test(input.accentColor))
    throw refuse(ErrorCode.BadUserInput, 'accentColor must be a colour like #1c7ed6', {
      field: 'accentColor',
    });
  const logoUrl = input.logoUrl?.trim() || null;
  if (logoUrl && !logo.test(logoUrl))
    throw refuse(ErrorCode.BadUserInput, 'logoUrl must be an https:// URL or a path on this server', {
      field: 'logoUrl',
    });
  return audited(
    ctx,
    async (em, caller) => {
      const tenant = await em.findOneOrFail(TenantSchema, { id: caller.tenantId });
      Object.assign(tenant, { displayName, logoUrl, accentColor: input.accentColor.toLowerCase() });
      return brandingOf(tenant);
    },
    (branding) => ({
      action: 'tenant.branding_updated',
      subjectType: 'tenant',
      subjectId: ctx.caller!.tenantId,
      data: { ...branding },
    }),
  );
}
