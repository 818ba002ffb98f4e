import { createReadStream, existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { serverSecret } from '../../infra/config/env';
import { SiteInstallerSchema } from '../../infra/db/entities';
import { appendAudit } from '../../infra/db/audit';
import { redeemInstallerGrant } from '../../infra/db/installer-grants';
import { uuidPattern, withTenant } from '../../infra/db/orm';
import { checkDownloadLink } from '../../installer/download-links';
import type { AppDeps } from '../app';

/**
 * `GET /installers/:tenantId/:installerId/:fileName?expires&sig`: a signed installer, for as long
 * as its short-lived link (GraphQL `siteInstallers { downloadUrl }`) is valid and the installer is
 * still current (a key rotation removes it). The link is the authorization: an RMM can fetch it.
 */
export async function installerDownloadRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.get<{
    Params: { tenantId: string; installerId: string; fileName: string };
    Querystring: { expires?: string; sig?: string };
  }>('/installers/:tenantId/:installerId/:fileName', async (request, reply) => {
    const { tenantId, installerId, fileName } = request.params;
    const refuse = (status: number, code: string, message: string) =>
      reply.code(status).send({ error: { code, message } });
    if (!uuidPattern.test(tenantId) || !uuidPattern.test(installerId))
      return refuse(404, 'NOT_FOUND', 'no such installer');
    const check = checkDownloadLink(
      serverSecret(deps.env),
      tenantId,
      installerId,
      request.query.expires,
      request.query.sig,
      Date.now(),
    );
    if (check === 'invalid') return refuse(403, 'FORBIDDEN', 'this download link is not valid');
    if (check === 'expired')
      return refuse(410, 'LINK_EXPIRED', 'this download link has expired: ask for a new one');
    const row = await withTenant(deps.orm, tenantId, (em) =>
      em.findOne(SiteInstallerSchema, { id: installerId }),
    );
    if (!row || row.fileName !== fileName || !existsSync(row.storagePath))
      return refuse(
        410,
        'INSTALLER_SUPERSEDED',
        'this installer is no longer current: build the site’s installers again',
      );
    return reply
      .header(
        'content-type',
        row.kind === 'msi' ? 'application/x-msi' : 'application/vnd.microsoft.portable-executable',
      )
      .header('content-disposition', `attachment; filename="${row.fileName}"`)
      .header('content-length', String(row.sizeBytes))
      .header('cache-control', 'no-store')
      .header('x-content-sha256', row.sha256)
      .send(createReadStream(row.storagePath));
  });

  /**
   * `GET /installers/once/:tenantId/:grantId/:fileName?token`: the site's MSI through a one-time
   * link a gateway's claim carried (ADR 0043). The first download uses it up; every later one is
   * refused (`LINK_USED`), as is one after its 10 minutes.
   */
  app.get<{
    Params: { tenantId: string; grantId: string; fileName: string };
    Querystring: { token?: string };
  }>('/installers/once/:tenantId/:grantId/:fileName', async (request, reply) => {
    const { tenantId, grantId, fileName } = request.params;
    const refuse = (status: number, code: string, message: string) =>
      reply.code(status).send({ error: { code, message } });
    const token = request.query.token;
    if (!uuidPattern.test(tenantId) || !uuidPattern.test(grantId) || !token || token.length > 100)
      return refuse(404, 'NOT_FOUND', 'no such installer');
    const found = await withTenant(deps.orm, tenantId, async (em) => {
      const redeemed = await redeemInstallerGrant(em, { tenantId, grantId, token, from: request.ip });
      if (!redeemed.ok) return redeemed;
      const row = await em.findOne(SiteInstallerSchema, { id: redeemed.installerId });
      // Whoever holds the link can read the site's enrollment key once: each use is an audit event.
      if (row)
        await appendAudit(em, {
          tenantId,
          actor: `installer-link:${grantId}`,
          action: 'installer.one-time-link-used',
          subjectType: 'site',
          subjectId: row.siteId,
          data: { grantId, installerId: row.id, sourceIp: request.ip },
        });
      return { ok: true as const, row };
    });
    if (!found.ok) {
      request.log.warn({ grantId, reason: found.reason }, 'one-time installer link refused');
      if (found.reason === 'used')
        return refuse(410, 'LINK_USED', 'this one-time download link has been used already');
      if (found.reason === 'expired')
        return refuse(410, 'LINK_EXPIRED', 'this download link has expired: ask for a new one');
      return refuse(403, 'FORBIDDEN', 'this download link is not valid');
    }
    const row = found.row;
    if (!row || row.fileName !== fileName || !existsSync(row.storagePath))
      return refuse(
        410,
        'INSTALLER_SUPERSEDED',
        'this installer is no longer current: build the site’s installers again',
      );
    return reply
      .header('content-type', 'application/x-msi')
      .header('content-disposition', `attachment; filename="${row.fileName}"`)
      .header('content-length', String(row.sizeBytes))
      .header('cache-control', 'no-store')
      .header('x-content-sha256', row.sha256)
      .send(createReadStream(row.storagePath));
  });
}
