import { StepFailure, StepKind } from '../../infra/wire/agent-steps';
import { StepError, type StepContext } from '../platform/platform';
import type { StepHandler } from './index';

/**
 * The join phase's steps (issue 16, ADR 0048).
 *
 * `join.domain` checks, then acts: a member of the profile's domain is done; a member of another
 * domain fails for good (Drydock does not unjoin). Otherwise Add-Computer joins it with the site's
 * join credential, which the API resolved into this task's claim: it lives in memory for this step
 * only — never journaled, never in a result — and is cut out of every error text this step reports.
 * The reserved name is folded in (-NewName), so one restart renames and joins; `join.verify` reads
 * the outcome after that restart.
 *
 * `join.entra` applies a provisioning package (downloaded, SHA-256 checked twice) and asks for a
 * restart; for Autopilot it changes nothing — pre-provisioning happens at OOBE — and only reports
 * whether the machine is Entra joined, failing when it is not.
 */

const sameDomain = (a: string, b: string) =>
  a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

/** Windows' words for a failed Add-Computer, as a failure type (English messages; others fall back to JoinFailed). */
function classifyJoinError(message: string, withOu: boolean): { type: StepFailure; retryable: boolean } {
  if (
    /user name or password is incorrect|logon failure|account is currently locked|account is disabled|0x8007052E|\b1326\b/i.test(
      message,
    ) ||
    /access is denied|0x80070005/i.test(message)
  )
    return { type: StepFailure.JoinAuthFailed, retryable: false };
  if (
    withOu &&
    /cannot find the file specified|no such object on the server|0x80072030|0x80070002/i.test(message)
  )
    return { type: StepFailure.JoinOuNotFound, retryable: false };
  if (
    /domain either does not exist or could not be contacted|0x8007054B|RPC server is unavailable|network path was not found/i.test(
      message,
    )
  )
    return { type: StepFailure.JoinDomainUnreachable, retryable: true };
  return { type: StepFailure.JoinFailed, retryable: false };
}

/** Cuts every secret out of a text the agent reports (a Windows message could echo what it was given). */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('[redacted]');
    const encoded = Buffer.from(secret, 'utf8').toString('base64');
    out = out.split(encoded).join('[redacted]');
  }
  return out;
}

/** DOMAIN\user for the PSCredential: the credential's user as stored, qualified by its domain when bare. */
const qualifiedUser = (credential: NonNullable<StepContext['credential']>) =>
  /[\\@]/.test(credential.user) ? credential.user : `${credential.domain}\\${credential.user}`;

export const joinSteps: {
  [K in StepKind.JoinDomain | StepKind.JoinEntra | StepKind.JoinVerify]: StepHandler<K>;
} = {
  [StepKind.JoinDomain]: async (platform, p, ctx) => {
    const state = await platform.joinState();
    if (state.domain) {
      if (!sameDomain(state.domain, p.domain))
        throw new StepError(
          StepFailure.JoinedToAnotherDomain,
          `${state.active} is a member of ${state.domain}, not ${p.domain}: Drydock does not unjoin machines; remove it from ${state.domain} first`,
          false,
        );
      // Joined already (this step ran before its restart, or someone joined it): the restart, if it waits, still has to come.
      return { alreadyDone: true, domain: state.domain, renamed: false, reboot: state.joinPending };
    }
    const credential = ctx.credential;
    if (!credential)
      throw new StepError(
        StepFailure.CredentialUnavailable,
        "the task names the site's join credential but the claim carried none",
        false,
      );
    const wanted = p.newName?.toUpperCase();
    const rename = wanted !== undefined && state.active.toUpperCase() !== wanted;
    // A Rename-Computer to that name waiting for its restart: join under it (JoinWithNewName), no second rename.
    const renamePending = rename && state.pending.toUpperCase() === wanted;
    await ctx.progress(
      30,
      `joining ${p.domain}${p.ouPath ? ` into ${p.ouPath}` : ''}${rename ? ` as ${wanted}` : ''}`,
    );
    try {
      await platform.joinDomain(
        {
          domain: p.domain,
          ...(p.ouPath ? { ouPath: p.ouPath } : {}),
          ...(p.server ? { server: p.server } : {}),
          ...(rename && !renamePending ? { newName: wanted } : {}),
          ...(renamePending ? { renamePending: true } : {}),
        },
        { user: qualifiedUser(credential), password: credential.password },
      );
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) throw err;
      const message = redact((err as Error).message, [credential.password]);
      const { type, retryable } = classifyJoinError(message, p.ouPath !== undefined);
      throw new StepError(type, `joining ${p.domain} failed: ${message}`, retryable);
    }
    return { domain: p.domain.toLowerCase(), renamed: rename, reboot: true };
  },

  [StepKind.JoinEntra]: async (platform, p, ctx) => {
    const state = await platform.joinState();
    if (p.method === 'autopilot') {
      // Pre-provisioning (the technician flow) and user-driven Autopilot run at OOBE: an agent on a
      // running Windows cannot start them. This step only tells whether it happened.
      if (!state.entraJoined)
        throw new StepError(
          StepFailure.EntraJoinFailed,
          'the machine is not Entra joined: Autopilot joins a machine at OOBE (register its hardware hash — the inventory phase collects it — then reset it), not from a running Windows',
          false,
        );
      return {
        alreadyDone: true,
        method: p.method,
        entraJoined: true,
        tenantName: state.tenantName,
        detail: 'Entra joined (Autopilot); nothing was run',
      };
    }
    if (state.entraJoined)
      return {
        alreadyDone: true,
        method: p.method,
        entraJoined: true,
        tenantName: state.tenantName,
        detail: 'already Entra joined',
      };
    const pkg = p.package;
    await ctx.progress(10, `downloading ${pkg.name}`);
    let download: { file: string; sha256: string };
    try {
      download = await platform.download(pkg.url, ctx.signal);
    } catch (err) {
      throw new StepError(
        StepFailure.ProvisioningPackageUnavailable,
        `downloading ${pkg.name} failed: ${(err as Error).message}`,
        true,
      );
    }
    if (download.sha256 !== pkg.sha256.toLowerCase())
      throw new StepError(
        StepFailure.ProvisioningPackageUnavailable,
        `${pkg.name}: the download's SHA-256 is ${download.sha256}, the profile pins ${pkg.sha256.toLowerCase()}; not applied`,
        false,
      );
    await ctx.progress(50, `applying ${pkg.name}`);
    try {
      await platform.installProvisioningPackage(download.file, pkg.sha256);
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) throw err;
      throw new StepError(
        StepFailure.EntraJoinFailed,
        `Install-ProvisioningPackage ${pkg.name}: ${(err as Error).message}`,
        false,
      );
    }
    const after = await platform.joinState();
    // The bulk enrollment may finish with the restart: join.verify decides after it.
    return {
      method: p.method,
      entraJoined: after.entraJoined,
      tenantName: after.tenantName,
      detail: after.entraJoined
        ? `applied ${pkg.name}; Entra joined`
        : `applied ${pkg.name}; not Entra joined yet`,
      reboot: true,
    };
  },

  [StepKind.JoinVerify]: async (platform, p) => {
    const state = await platform.joinState();
    const problems: string[] = [];
    if (p.domain !== undefined) {
      if (!state.domain || !sameDomain(state.domain, p.domain))
        problems.push(`a member of ${state.domain ?? 'no domain (workgroup)'}, not ${p.domain}`);
      else if (state.joinPending) problems.push('the join still waits for a restart');
      else if (p.ouPath !== undefined && state.distinguishedName !== null) {
        const parent = state.distinguishedName.replace(/^CN=(?:[^,\\]|\\.)*,/i, '');
        if (parent.toLowerCase() !== p.ouPath.toLowerCase())
          problems.push(`its computer object is ${state.distinguishedName}, not in ${p.ouPath}`);
      }
    }
    if (p.name !== undefined && state.active.toUpperCase() !== p.name.toUpperCase())
      problems.push(`named ${state.active}, not ${p.name}`);
    if (p.entra && !state.entraJoined) problems.push('not Entra joined (dsregcmd: AzureAdJoined : NO)');
    if (problems.length > 0)
      throw new StepError(
        StepFailure.JoinNotVerified,
        `after the restart the machine is ${problems.join('; ')}`,
        false,
      );
    return {
      name: state.active,
      domain: state.domain,
      distinguishedName: state.distinguishedName,
      entraJoined: state.entraJoined,
    };
  },
};
