import {
  AGENT_SERVICE,
  DOWNLOAD_FAILED_EXIT,
  HASH_MISMATCH_EXIT,
  installScript,
  msiexecOutcome,
  ntlmAuth,
  parseState,
  startScript,
  stateScript,
  tcpReachable,
  WINRM_HTTP_PORT,
  WINRM_HTTPS_PORT,
  type ServiceState,
} from '../gateway/winrm/agent-push';
import { WinRmClient, type CommandResult } from '../gateway/winrm/winrm-client';
import { WinRmError, type WinRmFailureKind } from '../gateway/winrm/transport';
import { StepFailure, StepKind } from '../../infra/wire/agent-steps';
import { StepError, type StepContext } from '../platform/platform';
import type { StepHandler } from './index';

/**
 * The site gateway's agent push (issue 15, ADR 0043): probe a host's WinRM ports, then install the
 * site's agent there with the site's domain credential. Check-before-act on the host: a running
 * DrydockAgent service is `alreadyDone`, an install of ours still running (an earlier attempt's,
 * whose gateway died) is waited for, never started twice. The credential and the one-time installer
 * link come in the step's context only; neither appears in a result, an error or a progress message.
 */

const failureOf: Record<WinRmFailureKind, { type: StepFailure; retryable: boolean; words: string }> = {
  auth: { type: StepFailure.WinRmAuthFailed, retryable: false, words: 'authentication failed' },
  network: { type: StepFailure.WinRmUnreachable, retryable: true, words: 'network' },
  tls: { type: StepFailure.WinRmTlsFailed, retryable: false, words: 'TLS failed' },
  timeout: { type: StepFailure.WinRmTimeout, retryable: true, words: 'timed out' },
  protocol: { type: StepFailure.WinRmProtocolError, retryable: false, words: 'WS-Management error' },
};

function asStepError(err: unknown, host: string): unknown {
  if (!(err instanceof WinRmError)) return err;
  const { type, retryable, words } = failureOf[err.kind];
  return new StepError(type, `WinRM to ${host}: ${words}: ${err.message}`, retryable);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

async function readState(run: (script: string) => Promise<CommandResult>, host: string, wait = 0) {
  const out = await run(stateScript(wait));
  const state = parseState(out.stdout);
  if (!state)
    throw new StepError(
      StepFailure.WinRmProtocolError,
      `${host} did not report the ${AGENT_SERVICE} service's state (exit code ${out.exitCode}): ${out.stderr.trim().slice(0, 300)}`,
      false,
    );
  return state;
}

export const agentPushSteps: { [K in StepKind.WinRmProbe | StepKind.WinRmInstall]: StepHandler<K> } = {
  [StepKind.WinRmProbe]: async (_platform, p, ctx) => {
    await ctx.progress(10, `connecting to ${p.host}'s WinRM ports`);
    const timeout = p.timeoutMs ?? 5000;
    const [http, https] = await Promise.all([
      tcpReachable(p.host, p.httpPort ?? WINRM_HTTP_PORT, timeout),
      tcpReachable(p.host, p.httpsPort ?? WINRM_HTTPS_PORT, timeout),
    ]);
    return {
      http: http.open,
      https: https.open,
      detail: `${p.host} HTTP ${http.detail}; HTTPS ${https.detail}`.slice(0, 500),
    };
  },

  [StepKind.WinRmInstall]: async (_platform, p, ctx) => installAgent(p, ctx),
};

async function installAgent(
  p: Parameters<StepHandler<StepKind.WinRmInstall>>[1],
  ctx: StepContext,
): Promise<Awaited<ReturnType<StepHandler<StepKind.WinRmInstall>>>> {
  const credential = ctx.credential;
  if (!credential)
    throw new StepError(
      StepFailure.CredentialUnavailable,
      `the task names the site's domain credential but the claim carried none`,
      // A step resumed from the journal after a gateway restart has none: a new task will.
      true,
    );
  const client = new WinRmClient({
    host: p.host,
    port: p.https ? (p.httpsPort ?? WINRM_HTTPS_PORT) : (p.httpPort ?? WINRM_HTTP_PORT),
    https: p.https,
    auth: ntlmAuth(credential),
    ...(p.pinSha256 ? { tls: { pinSha256: p.pinSha256 } } : {}),
  });
  const installTimeout = p.installTimeoutMs ?? 15 * 60_000;
  const heartbeat = () => ctx.progress(50, `waiting for ${p.host}`);
  const run = (script: string, timeoutMs = 120_000) => client.runPowerShell(script, { timeoutMs, heartbeat });
  const done = (
    state: ServiceState,
    outcome: string,
    extra: { exitCode: number | null; restartRequired: boolean },
  ) => ({
    ...extra,
    service: state.service,
    outcome,
  });
  try {
    await ctx.progress(10, `checking the ${AGENT_SERVICE} service on ${p.host}`);
    let state = await readState(run, p.host);
    // An earlier attempt's msiexec still runs (its gateway died): wait for it, never start another.
    const waitUntil = Date.now() + installTimeout;
    while (state.installing && Date.now() < waitUntil && !ctx.signal.aborted) {
      await ctx.progress(30, `an earlier install is still running on ${p.host}; waiting for it`);
      await sleep(3000, ctx.signal);
      state = await readState(run, p.host);
    }
    if (state.installing)
      throw new StepError(
        StepFailure.AgentInstallBusy,
        `an install of the agent on ${p.host} is still running after ${Math.round(installTimeout / 1000)} s`,
        true,
      );
    if (state.service === 'Running')
      return {
        alreadyDone: true,
        ...done(state, `the ${AGENT_SERVICE} service is installed and running`, {
          exitCode: null,
          restartRequired: false,
        }),
      };
    if (state.service !== 'Absent') {
      // Installed but not running: start it rather than install again.
      await ctx.progress(40, `starting the installed ${AGENT_SERVICE} service on ${p.host}`);
      await run(startScript());
      const after = await readState(run, p.host, 60);
      if (after.service !== 'Running')
        throw new StepError(
          StepFailure.AgentServiceNotRunning,
          `the ${AGENT_SERVICE} service is installed on ${p.host} but does not start (${after.service})`,
          false,
        );
      return done(after, `the installed ${AGENT_SERVICE} service was ${state.service}; started it`, {
        exitCode: null,
        restartRequired: false,
      });
    }
    const url = ctx.installerUrl;
    if (!url)
      throw new StepError(
        StepFailure.InstallerLinkUnavailable,
        'the claim carried no installer link (the gateway resumed the step after a restart); a new attempt gets one',
        true,
      );
    await ctx.progress(50, `installing the agent on ${p.host}`);
    const installed = await run(
      installScript({ url, sha256: p.sha256, fileName: p.fileName }),
      installTimeout,
    );
    if (installed.exitCode === DOWNLOAD_FAILED_EXIT)
      throw new StepError(
        StepFailure.AgentDownloadFailed,
        `${p.host} could not download the installer from the API: ${lastLine(installed.stdout).replace(/https?:\/\/\S+/g, '<link>')}`,
        true,
      );
    if (installed.exitCode === HASH_MISMATCH_EXIT)
      throw new StepError(
        StepFailure.AgentHashMismatch,
        `the installer ${p.host} downloaded does not have the site installer's SHA-256 (${p.sha256}); nothing was run`,
        false,
      );
    const outcome = msiexecOutcome(installed.exitCode);
    if (!outcome.ok)
      throw new StepError(
        outcome.busy ? StepFailure.AgentInstallBusy : StepFailure.AgentInstallFailed,
        `msiexec on ${p.host} exited with ${installed.exitCode}: ${outcome.words}`,
        outcome.busy,
      );
    await ctx.progress(80, `verifying the ${AGENT_SERVICE} service on ${p.host}`);
    const after = await readState(run, p.host, 60);
    if (after.service !== 'Running')
      throw new StepError(
        StepFailure.AgentServiceNotRunning,
        `msiexec on ${p.host} exited with ${installed.exitCode} (${outcome.words}) but the ${AGENT_SERVICE} service is ${after.service}`,
        false,
      );
    return done(after, `msiexec exited with ${installed.exitCode}: ${outcome.words}`, {
      exitCode: installed.exitCode,
      restartRequired: outcome.restartRequired,
    });
  } catch (err) {
    throw asStepError(err, p.host);
  } finally {
    client.close();
  }
}

const lastLine = (text: string): string => text.trim().split(/\r?\n/).at(-1)!.slice(0, 300);
