import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from './orm';

/**
 * One-time installer links (ADR 0043): minted by the API into a gateway's claim of a
 * `winrm.install` step, redeemed once by the host the gateway pushes the agent to. Only the
 * token's SHA-256 is stored; the first download marks the grant used in the statement that checks
 * it, so two downloads at once cannot both pass. Callers run inside a tenant transaction.
 */

/** How long a one-time link works: the host downloads it seconds after the gateway claimed the step. */
export const INSTALLER_GRANT_SECONDS = 600;

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

export interface MintedGrant {
  grantId: string;
  token: string;
  fileName: string;
  expiresAt: Date;
}

/**
 * A grant for `installerId` — an MSI of the gateway's own site, still current (not superseded by a
 * key rotation) — for this claim of `taskId`; null when there is no such installer.
 */
export async function mintInstallerGrant(
  em: EntityManager,
  input: { tenantId: string; machineId: string; taskId: string; installerId: string; now?: Date },
): Promise<MintedGrant | null> {
  const [installer] = await em.execute<{ site_id: string; file_name: string }[]>(
    `select i.site_id, i.file_name from site_installers i
       join machines m on m.tenant_id = i.tenant_id and m.site_id = i.site_id
       join site_enrollment_keys k on k.tenant_id = i.tenant_id and k.site_id = i.site_id
            and k.active and k.version = i.key_version
      where i.tenant_id = ? and i.id = ? and i.kind = 'msi' and m.id = ?`,
    [input.tenantId, input.installerId, input.machineId],
  );
  if (!installer) return null;
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date((input.now ?? new Date()).getTime() + INSTALLER_GRANT_SECONDS * 1000);
  const [row] = await em.execute<{ id: string }[]>(
    `insert into installer_grants (tenant_id, site_id, installer_id, task_id, machine_id, token_sha256, expires_at)
     values (?, ?, ?, ?, ?, ?, ?) returning id`,
    [
      input.tenantId,
      installer.site_id,
      input.installerId,
      input.taskId,
      input.machineId,
      sha256(token),
      expiresAt,
    ],
  );
  return { grantId: row!.id, token, fileName: installer.file_name, expiresAt };
}

export type Redemption =
  { ok: true; installerId: string } | { ok: false; reason: 'invalid' | 'used' | 'expired' };

/** Uses the grant: the first valid download gets the installer id, every later one `used`. */
export async function redeemInstallerGrant(
  em: EntityManager,
  input: { tenantId: string; grantId: string; token: string; from: string },
): Promise<Redemption> {
  const [grant] = await em.execute<{ token_sha256: string }[]>(
    `select token_sha256 from installer_grants where tenant_id = ? and id = ?`,
    [input.tenantId, input.grantId],
  );
  const given = Buffer.from(sha256(input.token), 'hex');
  if (!grant || !timingSafeEqual(Buffer.from(grant.token_sha256, 'hex'), given))
    return { ok: false, reason: 'invalid' };
  const [used] = await em.execute<{ installer_id: string }[]>(
    `update installer_grants set used_at = now(), used_from = ?
      where tenant_id = ? and id = ? and used_at is null and expires_at > now()
      returning installer_id`,
    [input.from.slice(0, 64), input.tenantId, input.grantId],
  );
  if (used) return { ok: true, installerId: used.installer_id };
  const [state] = await em.execute<{ used: boolean }[]>(
    `select used_at is not null as used from installer_grants where tenant_id = ? and id = ?`,
    [input.tenantId, input.grantId],
  );
  return { ok: false, reason: state?.used ? 'used' : 'expired' };
}
