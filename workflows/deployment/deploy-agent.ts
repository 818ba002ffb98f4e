import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeploymentActivities } from '../../activities/deployment/deployment-activities';
import type { DirectoryActivities } from '../../activities/directory/directory-activities';
import { StepKind, type TaskResult } from '../../infra/wire/agent-steps';
import { databaseActivity } from '../activity-presets';
import { failureReason, gatewayStep } from '../directory/directory-steps';
import type { StepFailureDetails } from '../machines/contracts';
import {
  deployAgentProgressQuery,
  DeploymentFailure,
  hostEnrolledSignal,
  type DeployAgentInput,
  type DeployAgentProgress,
  type DeployAgentResult,
  type DeploymentState,
} from './contracts';

const db = proxyActivities<DeploymentActivities & DirectoryActivities>(databaseActivity);

/**
 * The site's agent onto one discovered host (docs/onboarding.md step 6, ADR 0043): skip a stale host
 * → the gateway probes its WinRM port (unreachable: skipped) → the gateway installs over WinRM with
 * the site's credential (the host fetches the MSI through a one-time link and checks its hash;
 * check-before-act on the host, so a repeat installs nothing) → wait for the host's enrollment (the
 * enrollment path's `hostEnrolled` signal, or the periodic check when a signal is lost) → link the
 * host to its machine. Every failure ends the run with its type and its words.
 */
export async function deployAgent(input: DeployAgentInput): Promise<DeployAgentResult> {
  const { workflowId, runId } = workflowInfo();
  const settings = input.settings ?? {};
  const progress: DeployAgentProgress = {
    state: 'queued',
    host: null,
    reason: null,
    machineId: null,
    installAttempts: 0,
  };
  let enrolled: string | null = null;
  setHandler(deployAgentProgressQuery, () => progress);
  setHandler(hostEnrolledSignal, ({ machineId }) => void (enrolled ??= machineId));
  const record = async (state: DeploymentState, reason: string | null = null) => {
    progress.state = state;
    progress.reason = reason;
    await db.recordHostDeployment({
      tenantId: input.tenantId,
      hostId: input.hostId,
      state,
      reason,
      workflowId,
      runId,
    });
  };
  const fail = async (type: string, message: string): Promise<never> => {
    await record('failed', message);
    throw ApplicationFailure.create({ type, message, nonRetryable: true });
  };
  const skipped = async (reason: string): Promise<DeployAgentResult> => {
    await record('skipped', reason);
    return { outcome: 'skipped', machineId: null, reason, alreadyInstalled: false };
  };

  const deploy = async (): Promise<DeployAgentResult> => {
    const site = { tenantId: input.tenantId, siteId: input.siteId };
    const target = await db.deploymentTarget({
      ...site,
      hostId: input.hostId,
      staleDays: settings.staleDays ?? 90,
    });
    if (!target)
      throw ApplicationFailure.create({
        type: DeploymentFailure.DeployHostNotFound,
        message: 'the host is not one of the site’s discovered hosts',
        nonRetryable: true,
      });
    progress.host = target.name;
    await record('queued');
    if (target.skip) return skipped(target.skip);
    if (target.machineId) {
      progress.machineId = target.machineId;
      await record('deployed', 'already linked to an enrolled machine');
      return {
        outcome: 'deployed',
        machineId: target.machineId,
        reason: 'already linked',
        alreadyInstalled: true,
      };
    }
    const gateway = await db.siteGateway(site);
    if (!gateway)
      return fail(
        DeploymentFailure.DeployNoGateway,
        'the site has no active gateway: give an enrolled machine of the site the gateway role',
      );
    const credential = await db.siteCredential(site);
    if (!credential)
      return fail(
        DeploymentFailure.DeployNoCredential,
        'the site has no accepted domain credential: enter one (setDomainCredential)',
      );
    const installer = await db.siteAgentInstaller(site);
    if (!installer)
      return fail(
        DeploymentFailure.DeployNoInstaller,
        "the site has no MSI for its current enrollment key: build the site's installers (buildSiteInstallers)",
      );
    const step = gatewayStep(input.tenantId, gateway, settings.offlineLimitSeconds ?? 3600);
    const winrm = {
      host: target.address,
      ...(settings.httpPort ? { httpPort: settings.httpPort } : {}),
      ...(settings.httpsPort ? { httpsPort: settings.httpsPort } : {}),
    };

    await record('probing');
    const probe = await step(StepKind.WinRmProbe, winrm, 'check');
    if (!(settings.https ? probe.https : probe.http))
      return skipped(
        `unreachable: the WinRM ${settings.https ? 'HTTPS' : 'HTTP'} listener does not answer (${probe.detail})`,
      );

    await record('installing');
    const attempts = settings.installAttempts ?? 3;
    let installed: TaskResult<StepKind.WinRmInstall> | null = null;
    while (!installed) {
      progress.installAttempts += 1;
      try {
        installed = await step(
          StepKind.WinRmInstall,
          {
            ...winrm,
            credentialRef: credential.id,
            https: settings.https ?? false,
            ...(settings.pinSha256 ? { pinSha256: settings.pinSha256 } : {}),
            installerId: installer.installerId,
            fileName: installer.fileName,
            sha256: installer.sha256,
          },
          'install',
        );
      } catch (err) {
        const { type, retryable } = stepFailureOf(err);
        const reason = failureReason(err);
        if (!retryable || progress.installAttempts >= attempts) return fail(type, reason);
        progress.reason = `attempt ${progress.installAttempts} failed: ${reason}`;
        await sleep(`${10 * progress.installAttempts} seconds`);
      }
    }
    const did = installed.outcome;

    await record('awaiting-enrollment', did);
    const deadline = new Date().getTime() + (settings.enrollmentWaitSeconds ?? 3600) * 1000;
    const every = (settings.enrollmentCheckSeconds ?? 60) * 1000;
    while (!enrolled) {
      if (
        await condition(
          () => enrolled !== null,
          Math.max(1, Math.min(every, deadline - new Date().getTime())),
        )
      )
        break;
      enrolled = await db.enrolledMachineFor({ ...site, hostId: input.hostId });
      if (!enrolled && new Date().getTime() >= deadline)
        return fail(
          DeploymentFailure.DeployEnrollmentTimeout,
          `the agent was installed (${did}) but ${target.name} did not enroll within ${settings.enrollmentWaitSeconds ?? 3600} s: check that the host reaches the API`,
        );
    }
    const machineId = enrolled as string;
    if (!(await db.linkDiscoveredHost({ ...site, hostId: input.hostId, machineId })))
      return fail(DeploymentFailure.DeployHostNotFound, 'the host was linked to another machine meanwhile');
    progress.machineId = machineId;
    await record('deployed', did);
    return { outcome: 'deployed', machineId, reason: did, alreadyInstalled: installed.alreadyDone === true };
  };
  try {
    return await deploy();
  } catch (err) {
    // Cancelled (the window or an operator), or a step that failed for the channel's reasons (the
    // gateway offline past its limit): the row says so, whatever the step was doing.
    if (isCancellation(err))
      await CancellationScope.nonCancellable(() => record('failed', 'the deployment was cancelled'));
    else if (progress.state !== 'failed') await record('failed', failureReason(err));
    throw err;
  }
}

/** A failed step's type and whether trying again can help (the agent says so; the channel's own failures cannot). */
function stepFailureOf(err: unknown): { type: string; retryable: boolean } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as StepFailureDetails | undefined;
    return { type: cause.type ?? 'StepFailed', retryable: details?.retryable === true };
  }
  return { type: 'StepFailed', retryable: false };
}
