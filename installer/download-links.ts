import { signDownload, verifyDownload } from '../infra/security/sealed-keys';

/** How long a download link works. Short: whoever holds it can download the site's enrollment key. */
export const DOWNLOAD_LINK_SECONDS = 600;

/** `/installers/<tenant>/<installer id>/<file name>?expires=<unix>&sig=<hmac>`, relative to the API. */
export function downloadPath(
  secret: string,
  row: { tenantId: string; id: string; fileName: string },
  nowMs: number,
): { path: string; expiresAt: Date } {
  const expires = Math.floor(nowMs / 1000) + DOWNLOAD_LINK_SECONDS;
  const sig = signDownload(secret, `${row.tenantId}/${row.id}`, expires);
  return {
    path: `/installers/${row.tenantId}/${row.id}/${encodeURIComponent(row.fileName)}?expires=${expires}&sig=${sig}`,
    expiresAt: new Date(expires * 1000),
  };
}

export type LinkCheck = 'ok' | 'expired' | 'invalid';

export function checkDownloadLink(
  secret: string,
  tenantId: string,
  installerId: string,
  expires: string | undefined,
  sig: string | undefined,
  nowMs: number,
): LinkCheck {
  if (!expires || !/^[0-9]{1,12}$/.test(expires) || !sig || sig.length > 100) return 'invalid';
  if (!verifyDownload(secret, `${tenantId}/${installerId}`, Number(expires), sig)) return 'invalid';
  return Number(expires) * 1000 < nowMs ? 'expired' : 'ok';
}
