import type { ChildProcess } from 'node:child_process';
import type { HarnessOptions, HarnessReport } from '../../agent/harness/harness';
import { spawnEntry, stopChild } from '../../cli/processes';

const REPORT_PREFIX = 'shard-report ';

export interface HarnessShards {
  /** The shards' processes (their CPU time is the agents'). */
  readonly processes: ChildProcess[];
  /** Every machine enrolled or failed, summed over the shards. */
  readonly enrolled: Promise<HarnessReport>;
  stop(): Promise<void>;
}

/**
 * A bench's simulated fleet spread over `shards` processes (test/bench/harness-shard.ts), so that
 * the agents' event loops neither share the bench's nor each other's: 10,000 agents in one process
 * measure that process, not the API. Each harness (a site's machines) goes whole to the shard with
 * the fewest machines so far. Lines other than the report go to `log`.
 */
export function startHarnessShards(
  harnesses: Omit<HarnessOptions, 'log'>[],
  shards: number,
  log: (line: string) => void,
): HarnessShards {
  const groups: Omit<HarnessOptions, 'log'>[][] = Array.from(
    { length: harnesses.length === 0 ? 0 : Math.max(1, Math.min(shards, harnesses.length)) },
    () => [],
  );
  const size = (g: Omit<HarnessOptions, 'log'>[]) => g.reduce((n, h) => n + h.machines, 0);
  for (const h of [...harnesses].sort((a, b) => b.machines - a.machines))
    groups.reduce((small, g) => (size(g) < size(small) ? g : small)).push(h);
  const reports: Promise<HarnessReport>[] = [];
  const processes = groups.map((group, i) => {
    let settle: (r: HarnessReport) => void = () => {};
    let fail: (e: Error) => void = () => {};
    reports.push(
      new Promise<HarnessReport>((resolve, reject) => {
        settle = resolve;
        fail = reject;
      }),
    );
    const child = spawnEntry(
      `agents ${i + 1}/${groups.length}`,
      'test/bench/harness-shard.ts',
      { ...process.env, BENCH_SHARD_CONFIG: JSON.stringify(group) },
      (line) => {
        const at = line.indexOf(REPORT_PREFIX);
        if (at >= 0) settle(JSON.parse(line.slice(at + REPORT_PREFIX.length)) as HarnessReport);
        else log(line);
      },
    );
    child.once('exit', (code, signal) =>
      fail(new Error(`harness shard ${i + 1} exited (${code ?? signal}) before its machines enrolled`)),
    );
    return child;
  });
  return {
    processes,
    enrolled: Promise.all(reports).then((all) => ({
      enrolled: all.reduce((n, r) => n + r.enrolled, 0),
      pending: all.reduce((n, r) => n + r.pending, 0),
      failed: all.reduce((n, r) => n + r.failed, 0),
      failures: all.flatMap((r) => r.failures).slice(0, 20),
    })),
    stop: async () => {
      await Promise.all(processes.map((p) => stopChild(p, 60_000)));
    },
  };
}
