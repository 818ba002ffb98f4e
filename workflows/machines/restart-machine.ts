import { ApplicationFailure, condition } from '@temporalio/workflow';
import { StepKind, type StepPayloads, type TaskResult } from '../../infra/wire/agent-steps';

/** Sends one agent step; `scheduleToCloseSeconds` bounds its whole wait (offline time included). */
export type DispatchStep = <K extends StepKind.Reboot | StepKind.BootId>(
  kind: K,
  payload: StepPayloads[K],
  scheduleToCloseSeconds: number,
) => Promise<TaskResult<K>>;

/**
 * Restarts a machine and waits for it to come back with a new boot id: the API's `bootIdChanged`
 * signal (collected by the caller into `bootIdsSeen`), or — when none comes — the machine's own
 * answer to `system.boot-id`. A restart that did not happen (cancelled on the machine) is asked for
 * again, twice at most, each after the machine had 90 s to go down. The same protocol as
 * provisionMachine's reboot (docs/workflows.md), for workflows other than provisioning.
 * Throws `MachineOffline` (non-retryable) when the machine is not back within the offline limit.
 */
export async function restartMachine(opts: {
  reason: string;
  offlineLimitSeconds: number;
  dispatch: DispatchStep;
  bootIdsSeen: () => readonly string[];
}): Promise<{ seconds: number }> {
  const now = () => new Date().getTime();
  const started = now();
  const deadline = started + opts.offlineLimitSeconds * 1000;
  const patience = Math.min(120, Math.max(30, Math.floor(opts.offlineLimitSeconds / 4)));
  // Boot ids known before the request: a signal may arrive with the reboot task's own result.
  const seenBefore = new Set(opts.bootIdsSeen());
  const { bootId: before } = await opts.dispatch(
    StepKind.Reboot,
    { reason: opts.reason },
    opts.offlineLimitSeconds,
  );
  seenBefore.add(before);
  const back = () => ({ seconds: Math.round((now() - started) / 1000) });
  let askedAt = now();
  let asks = 1;
  while (now() < deadline) {
    if (await condition(() => opts.bootIdsSeen().some((id) => !seenBefore.has(id)), `${patience} seconds`))
      return back();
    const remaining = Math.max(1, Math.floor((deadline - now()) / 1000));
    const { bootId } = await opts.dispatch(StepKind.BootId, {}, remaining);
    if (bootId !== before) return back();
    if (now() - askedAt >= 90_000 && asks < 3) {
      await opts.dispatch(StepKind.Reboot, { reason: `${opts.reason} (asked again)` }, remaining);
      askedAt = now();
      asks++;
    }
  }
  throw ApplicationFailure.create({
    type: 'MachineOffline',
    message:
      asks >= 3
        ? `the machine did not restart (${opts.reason}) although asked ${asks} times`
        : `the machine did not come back from a restart (${opts.reason}) within ${opts.offlineLimitSeconds} s`,
    nonRetryable: true,
  });
}
