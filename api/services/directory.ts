import { Role, SiteSchema } from '../../infra/db/entities';
import {
  addManualHost as insertManualHost,
  listDiscoveredHosts,
  ManualHostExists,
  type DiscoveredHost,
} from '../../infra/db/discovered-hosts';
import { audited } from './audit';
import { ErrorCode, refuse } from './errors';
import { checkId } from './input';
import { authorize, inTenant, type ServiceContext } from './service-context';

/**
 * A site's directory (issue 15, ADR 0029): the hosts its gateway found in Active Directory and
 * those an operator added by hand. The discoverSite and enumerateDirectory workflows are not built
 * yet; enumerations reach `discovered_hosts` through the agent channel.
 */

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$/;

/** The site's discovered hosts (current first, then those gone from AD). Viewer role, client scope. */
export async function discoveredHostsOf(ctx: ServiceContext, siteId: string): Promise<DiscoveredHost[]> {
  authorize(ctx, Role.Viewer);
  const id = checkId(siteId, 'siteId');
  return inTenant(ctx, async (em, caller) => {
    if (!(await em.findOne(SiteSchema, { id }))) throw refuse(ErrorCode.NotFound, 'site not found');
    return listDiscoveredHosts(em, caller.tenantId, id);
  });
}

/** Adds a host by hand (operator role): enumerations fill it in, never overwrite it. Audited. */
export async function addManualHost(
  ctx: ServiceContext,
  input: { siteId: string; name: string; dnsName?: string | null; os?: string | null },
): Promise<DiscoveredHost> {
  authorize(ctx, Role.Operator);
  const siteId = checkId(input.siteId, 'siteId');
  const name = input.name.trim();
  if (name.length < 1 || name.length > 255 || /[\u0000-\u001f\u007f]/.test(name))
    throw refuse(ErrorCode.BadUserInput, 'name must be 1–255 printable characters');
  const dnsName = input.dnsName?.trim().toLowerCase().replace(/\.$/, '') || null;
  if (dnsName !== null && (dnsName.length > 253 || !DNS_NAME.test(dnsName)))
    throw refuse(ErrorCode.BadUserInput, 'dnsName must be a DNS host name (letters, digits, dashes, dots)');
  const os = input.os?.trim() || null;
  if (os !== null && (os.length > 255 || /[\u0000-\u001f\u007f]/.test(os)))
    throw refuse(ErrorCode.BadUserInput, 'os must be at most 255 printable characters');
  try {
    return await audited(
      ctx,
      async (em, caller) => {
        if (!(await em.findOne(SiteSchema, { id: siteId })))
          throw refuse(ErrorCode.NotFound, 'site not found');
        return insertManualHost(em, {
          tenantId: caller.tenantId,
          siteId,
          name,
          dnsName,
          os,
          actor: caller.actor,
        });
      },
      (host) => ({
        action: 'discovered-host.added',
        subjectType: 'site',
        subjectId: siteId,
        data: { hostId: host.id, name, dnsName },
      }),
    );
  } catch (err) {
    if (err instanceof ManualHostExists) throw refuse(ErrorCode.HostExists, err.message);
    throw err;
  }
}
