import { ActivityNotFoundError, type Client as TemporalClient } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { FastifyBaseLogger } from 'fastify';
import type { Orm } from '../../infra/db/orm';

/** Overdue tasks taken per sweep, the oldest deadline first; the rest wait for the next sweep. */
const BATCH = 500;

/** How long one nudge may take, its retries included. */
const CALL_DEADLINE_MS = 5000;

/** The failure type of a nudged attempt: retryable, so Temporal runs the dispatch again. */
export const DELIVERY_DEADLINE_PASSED = 'DeliveryDeadlinePassed';

/**
 * Ends the wait of steps no machine picked up by their delivery deadline (the offline limit). A
 * queued task's dispatch activity has no heartbeat while its machine is offline, so Temporal
 * retries it only at the heartbeat timeout (2 minutes), and that retry's dispatch abandons the task
 * and fails the step `MachineUnreachable`. Every `intervalMs` this sweep fails the current attempt
 * of each task past its deadline (migration 0035) as retryable; the retry, a second later, says
 * undelivered — with the message and the type the dispatch gives, so nothing else changes.
 *
 * Every API replica sweeps; a second nudge of the same attempt finds it ended (ActivityNotFound)
 * and does nothing. A nudge lost in a crash costs only the old wait. Best effort: a database or
 * Temporal outage skips sweeps (three refusals in a row end one), never fails a request; a task
 * Temporal refuses alone does not hold up the tasks after it.
 */
export class DeliverySweep {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: { orm: Orm; temporal: TemporalClient; log: FastifyBaseLogger; intervalMs: number },
  ) {}

  start(): void {
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .catch((err: unknown) => {
          if (!this.stopped)
            this.deps.log.warn(
              { err: (err as Error).message },
              'delivery sweep skipped; the next one retries',
            );
        })
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.start();
        });
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  /** One sweep: how many attempts it ended. */
  async sweep(): Promise<number> {
    const overdue = await this.deps.orm.em
      .getConnection()
      .execute<{ task_token: Buffer }[]>('select task_token from agent_overdue_tasks(?)', [BATCH]);
    let nudged = 0;
    let failed = 0;
    let inARow = 0;
    let lastError = '';
    for (const { task_token } of overdue) {
      if (this.stopped) break;
      try {
        // A deadline of its own: in an outage the client retries for a long while, and a sweep
        // must end (a shutdown waits for it, then closes the connection under it).
        await this.deps.temporal.connection.withDeadline(Date.now() + CALL_DEADLINE_MS, () =>
          this.deps.temporal.activity.fail(
            task_token,
            ApplicationFailure.retryable(
              'the delivery deadline passed with no machine picking the step up; the retry ends it',
              DELIVERY_DEADLINE_PASSED,
            ),
          ),
        );
        nudged++;
        inARow = 0;
      } catch (err) {
        // That attempt had already ended (a replica's nudge, its own timeout): its retry decides.
        if (err instanceof ActivityNotFoundError) continue;
        // One task Temporal refuses does not hold up the others; three in a row is an outage.
        failed++;
        lastError = (err as Error).message;
        if (++inARow >= 3) break;
      }
    }
    if (nudged > 0)
      this.deps.log.info({ nudged }, 'steps past their delivery deadline handed to their retry');
    if (failed > 0 && !this.stopped)
      this.deps.log.warn({ failed, err: lastError }, 'overdue steps not handed over; the next sweep retries');
    return nudged;
  }

  /** No new sweep; one in flight ends after its current call (within the call's deadline). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
