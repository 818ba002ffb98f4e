import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { AgentChannelActivities } from '../../../activities/agent-channel/agent-channel-activities';
import type { ProvisioningActivities } from '../../../activities/provisioning/provisioning-activities';
import {
  StepKind,
  type StepOutcome,
  type StepPayloads,
  type ValidateResult,
} from '../../../infra/wire/agent-steps';
import { databaseLocalActivity } from '../../activity-presets';
import { AgentChannelFailure, bootIdChangedSignal, type StepFailureDetails } from '../../machines/contracts';
import { MachineIdKey, PhaseKey, RunStatusKey, SiteIdKey, TenantIdKey } from '../../search-attributes';
import {
  cancelSignal,
  machineProgressQuery,
  pauseSignal,
  resumeSignal,
  retryFromStepUpdate,
  type MachineRunProgress,
  type MachineRunState,
  type PlanStep,
  type ProvisionMachineInput,
  type ProvisionMachineResult,
  type RetryRequest,
  type StepErrorInfo,
  type StepPolicy,
} from '../contracts';

const db = proxyLocalActivities<ProvisioningActivities>(databaseLocalActivity);

/** Step attempts per kind of work: a retryable failure runs the step again, up to this many times. */
const MAX_ATTEMPTS: Record<StepPolicy, number> = { check: 3, change: 4, install: 5 };
/** How long one delivery of a step may run on the machine. */
const START_TO_CLOSE: Record<StepPolicy, string> = {
  check: '10 minutes',
  change: '20 minutes',
  install: '60 minutes',
};

const NAME_FAILURES = new Set(['NameTaken', 'NoFreeName', 'InvalidName']);

/** Workflow time (deterministic in the sandbox). */
const now = () => new Date().getTime();

/** Why a run stops: carried to the failure handling below. */
class StepFailed extends Error {
  constructor(
    readonly step: Pick<PlanStep, 'key'>,
    readonly info: StepErrorInfo,
  ) {
    super(info.message);
  }
}

/**
 * The first version of provisionMachine, kept so that runs started before v2 (and the histories
 * recorded then) replay unchanged; new runs take v2 (provision-machine.ts, ADR 0016). Remove it
 * with `deprecatePatch('machine-run-v2')` once no v1 run can be open (its failed hold is the longest).
 *
 * Provisions one machine: the resolved profile's phases in order, each step an agent task with its
 * own timeouts and retries; reboots are waited for through the boot id. Paused, resumed and
 * cancelled between steps; after a failure it waits for "retry from step" (or gives up after
 * `failedHoldSeconds`). The machine_runs row mirrors it for the portal.
 */
export async function provisionMachineV1(input: ProvisionMachineInput): Promise<ProvisionMachineResult> {
  const offlineLimit = input.offlineLimitSeconds ?? 3600;
  const backoff = input.retryBackoffSeconds ?? 5;
  const progress: MachineRunProgress = {
    state: 'starting',
    phase: null,
    step: null,
    attempt: 0,
    profileVersion: null,
    steps: [],
    lastError: null,
    startedAt: new Date().toISOString(),
    reboots: [],
    pauseRequested: false,
    cancelRequested: false,
  };
  let bootIdsSeen: string[] = [];
  let retry: RetryRequest | null = null;

  setHandler(machineProgressQuery, () => progress);
  setHandler(pauseSignal, () => void (progress.pauseRequested = true));
  setHandler(resumeSignal, () => void (progress.pauseRequested = false));
  setHandler(cancelSignal, () => void (progress.cancelRequested = true));
  setHandler(bootIdChangedSignal, ({ bootId }) => void bootIdsSeen.push(bootId));
  // The update answers once the run has taken the retry up: with the step it starts from, or
  // with the reason it could not (the refreshed config is still invalid).
  let retryAnswer: { step: string } | { error: string } | null = null;
  setHandler(
    retryFromStepUpdate,
    async (request) => {
      retryAnswer = null;
      retry = request;
      await condition(() => retryAnswer !== null);
      const answer = retryAnswer as unknown as { step: string } | { error: string };
      if ('error' in answer) throw ApplicationFailure.create({ type: 'RetryFailed', message: answer.error });
      return answer.step;
    },
    {
      validator: (request) => {
        if (progress.state !== 'failed' || retry !== null)
          throw new Error(`the run is ${progress.state}, not failed: nothing to retry`);
        if (
          request.fromStep &&
          !request.refreshConfig &&
          !progress.steps.some((s) => s.key === request.fromStep)
        )
          throw new Error(`no step ${request.fromStep} in this run's plan`);
      },
    },
  );

  // Each upsert is a visibility write — on the server, a database write per run and change — so
  // search attributes follow the run's life, not its steps (ADR 0012): what the starter did not
  // set; RunStatus when the run starts, stops (paused, failed, cancelled, passed) or goes on; and
  // with a stop, the Phase it stopped in (cleared when it goes on). Its current phase and step are
  // in the progress query and the machine_runs row.
  const given = workflowInfo().typedSearchAttributes;
  const missing = [
    ...(given.get(TenantIdKey) === undefined ? [{ key: TenantIdKey, value: input.tenantId }] : []),
    ...(given.get(SiteIdKey) === undefined ? [{ key: SiteIdKey, value: input.siteId }] : []),
    ...(given.get(MachineIdKey) === undefined ? [{ key: MachineIdKey, value: input.machineId }] : []),
    ...(given.get(RunStatusKey) !== 'running' ? [{ key: RunStatusKey, value: 'running' }] : []),
  ];
  if (missing.length > 0) upsertSearchAttributes(missing);
  let shownStatus: MachineRunState = 'running';

  const setState = (state: MachineRunState) => {
    progress.state = state;
    // A restart is part of running: the machine_runs row and the progress query say "rebooting".
    const status = state === 'rebooting' || state === 'starting' ? 'running' : state;
    if (status === shownStatus) return;
    shownStatus = status;
    const stoppedIn = status !== 'running' && status !== 'passed' ? progress.phase : null;
    upsertSearchAttributes([
      { key: RunStatusKey, value: status },
      { key: PhaseKey, value: stoppedIn },
    ]);
  };

  // One proxy per kind of step: its own start-to-close; delivery retries (offline, timeouts, a
  // restarted worker or API) are unlimited within the offline limit, step failures are ours to retry.
  const dispatchOptions = (policy: StepPolicy, scheduleToCloseSeconds = offlineLimit): ActivityOptions => ({
    scheduleToCloseTimeout: `${scheduleToCloseSeconds} seconds`,
    startToCloseTimeout: START_TO_CLOSE[policy],
    heartbeatTimeout: '2 minutes',
    retry: {
      initialInterval: '1 second',
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: Object.values(AgentChannelFailure),
    },
  });
  const channel = {
    check: proxyActivities<AgentChannelActivities>(dispatchOptions('check')),
    change: proxyActivities<AgentChannelActivities>(dispatchOptions('change')),
    install: proxyActivities<AgentChannelActivities>(dispatchOptions('install')),
  };

  // An inventory the run collected goes to the machine with the run's next record (no activity of its own).
  let inventory: Record<string, unknown> | undefined;
  type RecordUpdate = Omit<Parameters<typeof db.recordMachineRun>[0], 'tenantId' | 'runId' | 'settle'>;
  /**
   * Mirrors the run to its row; with `settled`, the same local activity then tells the fleet run
   * (no workflow task of its own for the signal). The fleet ignores a repeat.
   */
  const record = async (update: RecordUpdate, settled?: ProvisionMachineResult['outcome']) => {
    const report = inventory;
    await db.recordMachineRun({
      tenantId: input.tenantId,
      runId: input.runId,
      ...update,
      ...(report ? { inventory: { machineId: input.machineId, report } } : {}),
      ...(settled && input.fleetWorkflowId
        ? {
            settle: {
              fleetWorkflowId: input.fleetWorkflowId,
              signal: { runId: input.runId, workflowId: workflowInfo().workflowId, outcome: settled },
            },
          }
        : {}),
    });
    // Stored: forget it (unless a newer report came meanwhile).
    if (inventory === report) inventory = undefined;
  };

  let plan: PlanStep[] = [];
  const prepare = async (refresh: boolean) => {
    const prepared = await db.prepareMachineRun({
      tenantId: input.tenantId,
      runId: input.runId,
      machineId: input.machineId,
      profileId: input.profileId,
      refresh,
    });
    plan = prepared.plan;
    progress.profileVersion = prepared.profileVersion;
    const before = new Map(progress.steps.map((s) => [s.key, s]));
    progress.steps = plan.map(
      (s) =>
        before.get(s.key) ?? { key: s.key, phase: s.phase, label: s.label, status: 'pending', attempts: 0 },
    );
  };

  const dispatchTo = <K extends StepKind>(
    policy: StepPolicy,
    kind: K,
    payload: StepPayloads[K],
    limit?: number,
    status?: 'rebooting',
  ) =>
    (limit === undefined
      ? channel[policy]
      : proxyActivities<AgentChannelActivities>(dispatchOptions(policy, limit))
    ).dispatchAgentTask({
      tenantId: input.tenantId,
      machineId: input.machineId,
      kind,
      payload,
      // The reboot request also marks the portal's row as rebooting (no activity of its own).
      ...(status
        ? {
            run: {
              runId: input.runId,
              phase: progress.phase ?? '',
              step: progress.step ?? '',
              attempt: progress.attempt,
              status,
            },
          }
        : {}),
    });

  /**
   * Sends the reboot task and waits for a new boot id: the API's signal, or — when none comes — the
   * machine's own answer. A restart that did not happen (cancelled on the machine) is asked for
   * again, twice at most, each after the machine had a fair time to go down.
   */
  const reboot = async (reason: string) => {
    setState('rebooting');
    const started = now();
    const deadline = started + offlineLimit * 1000;
    const patience = Math.min(120, Math.max(30, Math.floor(offlineLimit / 4)));
    const done = () => {
      progress.reboots.push({ reason, seconds: Math.round((now() - started) / 1000) });
      setState('running');
    };
    // Boot ids known before the request: a signal may arrive with the reboot task's own result.
    const seenBefore = new Set(bootIdsSeen);
    const { bootId: before } = await dispatchTo(
      'change',
      StepKind.Reboot,
      { reason },
      undefined,
      'rebooting',
    );
    seenBefore.add(before);
    const newBoot = () => bootIdsSeen.some((id) => !seenBefore.has(id));
    let askedAt = now();
    let asks = 1;
    while (now() < deadline) {
      if (await condition(newBoot, `${patience} seconds`)) return done();
      // No boot signal: ask the machine itself (a lost signal, an API restart, a slow boot).
      const remaining = Math.max(1, Math.floor((deadline - now()) / 1000));
      const { bootId } = await dispatchTo('check', StepKind.BootId, {}, remaining);
      if (bootId !== before) {
        bootIdsSeen = [...bootIdsSeen, bootId];
        return done();
      }
      if (now() - askedAt >= 90_000 && asks < 3) {
        // Still the same boot long after the request: the restart did not happen. Ask again.
        await dispatchTo('change', StepKind.Reboot, { reason: `${reason} (asked again)` });
        askedAt = now();
        asks++;
      }
    }
    throw ApplicationFailure.create({
      type: 'MachineOffline',
      message:
        asks >= 3
          ? `the machine did not restart (${reason}) although asked ${asks} times`
          : `the machine did not come back from a restart (${reason}) within ${offlineLimit} s`,
      nonRetryable: true,
    });
  };

  const runStep = async <K extends StepKind>(step: PlanStep<K>, index: number): Promise<StepOutcome<K>> => {
    const entry = progress.steps[index]!;
    const maxAttempts = MAX_ATTEMPTS[step.policy];
    const payload = step.payload;
    for (;;) {
      entry.attempts += 1;
      entry.status = 'running';
      entry.startedAt ??= new Date().toISOString();
      progress.attempt = entry.attempts;
      try {
        const result = await channel[step.policy].dispatchAgentTask({
          tenantId: input.tenantId,
          machineId: input.machineId,
          kind: step.kind,
          payload,
          run: { runId: input.runId, phase: step.phase, step: step.key, attempt: entry.attempts },
        });
        entry.status = 'done';
        entry.finishedAt = new Date().toISOString();
        entry.alreadyDone = result.alreadyDone === true;
        delete entry.error;
        return { kind: step.kind, result };
      } catch (err) {
        const info = describeFailure(err);
        entry.error = info;
        progress.lastError = { ...info, step: step.key };
        if (!info.retryable || entry.attempts >= maxAttempts) {
          entry.status = 'failed';
          throw new StepFailed(step, {
            ...info,
            message:
              info.retryable && entry.attempts >= maxAttempts
                ? `${info.message} (gave up after ${entry.attempts} attempts)`
                : info.message,
          });
        }
        // "Restart before installing" (winget 0x8A15010A): a retry helps only after the restart.
        if (info.type === 'RebootRequiredFirst' && patched('reboot-before-retry')) {
          await reboot(`${step.key} asks for a restart before it installs`);
          continue;
        }
        await sleep(`${backoff * 2 ** (entry.attempts - 1)} seconds`);
      }
    }
  };

  const finish = async (outcome: ProvisionMachineResult['outcome'], reason?: string) => {
    setState(outcome);
    await record(
      {
        status: outcome,
        finished: true,
        ...(outcome === 'passed' ? { lastError: null } : {}),
        ...(validation ? { validation } : {}),
      },
      outcome,
    );
    return { outcome, steps: plan.length, ...(reason ? { reason } : {}) };
  };

  let index = 0;
  let validation: ValidateResult['items'] | undefined;
  let refreshPending = false;
  let resumeFrom: string | null = null;
  // A reboot asked for in a phase happens before the next phase starts (kept across a retry).
  let rebootPending = false;
  for (;;) {
    try {
      if (plan.length === 0 || refreshPending) await prepare(refreshPending);
      refreshPending = false;
      if (resumeFrom !== null) {
        // From the asked-for step; if the refreshed plan has no such step, from its first unfinished one.
        const at = plan.findIndex((s) => s.key === resumeFrom);
        index =
          at >= 0
            ? at
            : Math.max(
                0,
                progress.steps.findIndex((s) => s.status !== 'done'),
              );
        for (const s of progress.steps.slice(index)) {
          s.status = 'pending';
          s.attempts = 0;
          delete s.error;
        }
        progress.lastError = null;
        resumeFrom = null;
        retryAnswer = { step: plan[index]?.key ?? '(end)' };
      }
      setState('running');
      for (; index < plan.length; index++) {
        const step = plan[index]!;
        if (progress.pauseRequested && !progress.cancelRequested) {
          setState('paused');
          await record({ status: 'paused' });
          await condition(() => !progress.pauseRequested || progress.cancelRequested);
          setState('running');
        }
        if (progress.cancelRequested) return await finish('cancelled', 'cancelled by an operator');
        if (progress.phase !== step.phase) {
          if (rebootPending) {
            await reboot(`after ${progress.phase}`);
            rebootPending = false;
          }
          progress.phase = step.phase;
        }
        progress.step = step.key;
        const done = await runStep(step, index);
        if (done.result.reboot === true) rebootPending = true;
        if (done.kind === StepKind.Rename && rebootPending) {
          await reboot('rename');
          rebootPending = false;
        }
        if (done.kind === StepKind.Inventory) inventory = done.result;
        if (done.kind === StepKind.Validate) {
          const { items } = done.result;
          validation = items; // recorded with the run's outcome (no activity of its own)
          const failed = items.filter((i) => !i.pass);
          if (failed.length > 0) {
            throw new StepFailed(step, {
              type: 'ValidationFailed',
              message: `validation failed: ${failed.map((i) => `${i.item} (${i.detail})`).join('; ')}`,
              retryable: false,
            });
          }
        }
      }
      if (rebootPending) {
        await reboot('end of provisioning');
        rebootPending = false;
      }
      return await finish('passed');
    } catch (err) {
      const failure =
        err instanceof StepFailed
          ? { step: err.step.key, ...err.info }
          : { step: progress.step ?? 'prepare', ...describeFailure(err), retryable: false };
      // The name is reserved while preparing: its failures belong to the rename step.
      if (NAME_FAILURES.has(failure.type)) failure.step = 'identity.rename';
      progress.lastError = failure;
      if (retry !== null && retryAnswer === null) retryAnswer = { error: failure.message };
      setState('failed');
      await record(
        {
          status: 'failed',
          lastError: { type: failure.type, message: failure.message, step: failure.step },
          ...(validation ? { validation } : {}),
        },
        'failed',
      );
      // Wait for an operator: retry from a step (after fixing the profile), cancel, or time out.
      retry = null;
      const decided = await condition(
        () => retry !== null || progress.cancelRequested,
        `${input.failedHoldSeconds ?? 3 * 24 * 3600} seconds`,
      );
      if (progress.cancelRequested)
        return await finish('cancelled', 'cancelled by an operator after a failure');
      if (!decided || retry === null) {
        await record({ status: 'failed', finished: true });
        return { outcome: 'failed', reason: failure.message, steps: plan.length };
      }
      const request: RetryRequest = retry;
      refreshPending = request.refreshConfig === true;
      resumeFrom = request.fromStep ?? failure.step;
    }
  }
}

/** The failure as the operator should read it, and whether running the step again can help. */
function describeFailure(err: unknown): StepErrorInfo {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as StepFailureDetails | undefined;
    return {
      type: cause.type ?? 'Error',
      message: cause.message,
      retryable: details?.retryable ?? false,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return {
      type: 'MachineUnreachable',
      message: 'the machine did not pick up or finish the step within the offline limit',
      retryable: false,
    };
  }
  return {
    type: (cause as Error)?.name ?? 'Error',
    message: (cause as Error)?.message ?? String(cause),
    retryable: false,
  };
}
