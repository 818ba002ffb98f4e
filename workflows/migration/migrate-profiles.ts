import {
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type { MigrationActivities } from '../../activities/migration/migration-activities';
import { databaseLocalActivity } from '../activity-presets';
import {
  migrateProfilesProgressQuery,
  migrateProfileWorkflowId,
  migrationAwaitingDecisionSignal,
  type MigrateProfilesInput,
  type MigrateProfilesProgress,
  type MigrationPair,
} from './contracts';
import { migrateProfile } from './migrate-profile';

const db = proxyLocalActivities<MigrationActivities>(databaseLocalActivity);

/**
 * A batch of (machine, user) migrations through a window (ADR 0038): at most `concurrency` work on
 * their machines at once; one that is verified and waits for the operator's decision gives its
 * slot to the next. Each is its own migrateProfile child (its id from the pair's business key),
 * cancelled with the batch — and a cancelled migration rolls back from its backup.
 */
export async function migrateProfiles(input: MigrateProfilesInput): Promise<MigrateProfilesProgress> {
  const progress: MigrateProfilesProgress = {
    total: input.pairs.length,
    running: 0,
    awaitingDecision: 0,
    done: { passed: 0, 'rolled-back': 0, failed: 0, cancelled: 0 },
  };
  const waiting = new Set<string>();
  setHandler(migrateProfilesProgressQuery, () => progress);
  setHandler(migrationAwaitingDecisionSignal, ({ migrationId }) => void waiting.add(migrationId));

  const children: Promise<void>[] = [];
  // One migration at a time works on a machine (its users one after another); machines in parallel.
  const busy = new Set<string>();
  const run = async (pair: MigrationPair) => {
    progress.running += 1;
    let released = false;
    const release = () => {
      if (!released) {
        progress.running -= 1;
        busy.delete(pair.machineId);
      }
      released = true;
    };
    const child = executeChild(migrateProfile, {
      workflowId: migrateProfileWorkflowId(pair.machineId, pair.migrationId),
      args: [{ ...input.common, tenantId: input.tenantId, ...pair }],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      staticSummary: `Migrate ${pair.source} on ${pair.machineId}`,
    }).then(
      (r) => void (progress.done[r.outcome] += 1),
      (err) => void (progress.done[isCancellation(err) ? 'cancelled' : 'failed'] += 1),
    );
    children.push(
      child.finally(() => {
        if (waiting.delete(pair.migrationId)) progress.awaitingDecision -= 1;
        release();
      }),
    );
    await Promise.race([child, condition(() => waiting.has(pair.migrationId))]);
    if (waiting.has(pair.migrationId) && !released) {
      progress.awaitingDecision += 1;
      release();
    }
  };

  const queue = [...input.pairs];
  /** The next pair whose machine is free; waits while every remaining pair's machine is busy. */
  const take = async (): Promise<MigrationPair | undefined> => {
    for (;;) {
      await condition(() => queue.length === 0 || queue.some((p) => !busy.has(p.machineId)));
      // Another lane woken by the same change may have taken it: look again.
      const i = queue.findIndex((p) => !busy.has(p.machineId));
      if (i >= 0) {
        // Busy from the moment it is taken: a lane woken by the same change must not take its machine too.
        busy.add(queue[i]!.machineId);
        return queue.splice(i, 1)[0];
      }
      if (queue.length === 0) return undefined;
    }
  };
  try {
    const width = Math.max(1, Math.min(input.concurrency, input.pairs.length));
    const lanes = Array.from({ length: width }, async () => {
      for (let pair = await take(); pair; pair = await take()) await run(pair);
    });
    await Promise.all(lanes);
    await Promise.all(children);
    await db.finishProfileMigrationBatch({
      tenantId: input.tenantId,
      batchId: input.batchId,
      status: 'completed',
    });
    return progress;
  } catch (err) {
    if (isCancellation(err))
      await CancellationScope.nonCancellable(() =>
        db.finishProfileMigrationBatch({
          tenantId: input.tenantId,
          batchId: input.batchId,
          status: 'cancelled',
        }),
      );
    throw err;
  }
}
