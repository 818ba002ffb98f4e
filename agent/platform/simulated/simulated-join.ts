import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PlatformError, type DomainJoinRequest, type JoinState } from '../platform';

/**
 * The simulated network's AD domain, as a machine joining it meets it (ADR 0048): the join
 * accounts (their passwords as SHA-256, never the text), which of them may create computers, the
 * OUs that exist, and the domain controllers. Tests and the harness set it in the host's
 * simulation settings.
 */
export interface SimulatedDirectory {
  /** DNS name, e.g. corp.contoso.com. */
  domain: string;
  /** NetBIOS name, e.g. CORP. */
  netbios: string;
  /** Where a computer goes without an OU: CN=Computers,DC=… */
  defaultContainer: string;
  ous: string[];
  /** By user name (lower case, without domain): SHA-256 of the password and whether it may join machines. */
  accounts: Record<string, { passwordSha256: string; mayJoin: boolean }>;
  /** DC host names (-Server must be one of them). */
  controllers: string[];
}

/** What the simulated machine holds of its joins. Absent in states saved before ADR 0048. */
export interface SimulatedJoin {
  /** The computer object's DN, once joined. */
  distinguishedName: string | null;
  /** A join waits for its restart (Windows: Netlogon's JoinDomain key). */
  pending: boolean;
  entraJoined: boolean;
  tenantName: string | null;
  /** Installed provisioning packages, by SHA-256. */
  packages: string[];
}

export const emptyJoin = (): SimulatedJoin => ({
  distinguishedName: null,
  pending: false,
  entraJoined: false,
  tenantName: null,
  packages: [],
});

/** A provisioning package the simulated Entra tenant accepts (by the SHA-256 of the downloaded file). */
export interface SimulatedProvisioningPackage {
  tenantName: string;
  tenantId?: string;
  /** Its bulk enrollment token expired (WCD tokens last at most 180 days): applied, but no join. */
  expired?: boolean;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
export const simulatedPasswordHash = sha256;

/** The part of the model the host gives the join operations. */
export interface JoinHost {
  active: string;
  pending: string;
  domain: string | null;
  join: SimulatedJoin;
  directory: SimulatedDirectory | undefined;
  packages: Record<string, SimulatedProvisioningPackage>;
}

export function joinStateOf(h: JoinHost): JoinState {
  return {
    active: h.active,
    pending: h.pending,
    domain: h.domain,
    joinPending: h.join.pending,
    distinguishedName: h.join.pending ? null : h.join.distinguishedName,
    entraJoined: h.join.entraJoined,
    tenantName: h.join.tenantName,
  };
}

/**
 * Add-Computer as Windows answers it: the domain must exist and be reachable (and -Server be one of
 * its DCs), the account's password right and it allowed to create computers, the OU present. Its
 * errors carry Windows' words (ERROR_NO_SUCH_DOMAIN 1355, ERROR_LOGON_FAILURE 1326, ERROR_ACCESS_DENIED
 * 5, and ERROR_FILE_NOT_FOUND 2 that NetJoinDomain returns for a missing OU), marked simulated.
 * Returns what changes: the domain now, the name and the DN with the restart.
 */
export function simulateJoin(
  h: JoinHost,
  request: DomainJoinRequest,
  credential: { user: string; password: string },
): { domain: string; name: string; distinguishedName: string } {
  const from = h.domain ? `domain '${h.domain}'` : `workgroup 'WORKGROUP'`;
  const fail = (message: string, permanent: boolean) =>
    new PlatformError(
      `Computer '${h.active}' failed to join domain '${request.domain}' from its current ${from} with following error message: ${message} (simulated)`,
      permanent,
    );
  const dir = h.directory;
  if (
    !dir ||
    dir.domain.toLowerCase() !== request.domain.toLowerCase() ||
    (request.server !== undefined &&
      !dir.controllers.some((c) => c.toLowerCase() === request.server!.toLowerCase()))
  )
    throw fail('The specified domain either does not exist or could not be contacted.', false);
  const user = credential.user.replace(/^.*\\/, '').replace(/@.*$/, '').toLowerCase();
  const account = dir.accounts[user];
  if (!account || account.passwordSha256 !== sha256(credential.password))
    throw fail('The user name or password is incorrect.', true);
  if (!account.mayJoin) throw fail('Access is denied.', true);
  const container = request.ouPath ?? dir.defaultContainer;
  if (
    request.ouPath !== undefined &&
    !dir.ous.some((ou) => ou.toLowerCase() === request.ouPath!.toLowerCase())
  )
    throw fail('The system cannot find the file specified.', true);
  const name = (request.newName ?? (request.renamePending ? h.pending : h.active)).toUpperCase();
  return { domain: dir.domain.toLowerCase(), name, distinguishedName: `CN=${name},${container}` };
}

/** Install-ProvisioningPackage: the file must be the pinned one; a known package joins its Entra tenant. */
export function simulateProvisioningPackage(
  h: JoinHost,
  file: string,
  expected: string,
): { sha256: string; package: SimulatedProvisioningPackage | null } {
  const actual = createHash('sha256').update(readFileSync(file)).digest('hex');
  if (actual !== expected.toLowerCase())
    throw new PlatformError('the provisioning package is not the one pinned by SHA-256 (simulated)', true);
  return { sha256: actual, package: h.packages[actual] ?? null };
}
