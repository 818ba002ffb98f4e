import { Harness, type HarnessOptions, type HarnessReport } from '../../agent/harness/harness';

/**
 * One shard of a bench's simulated fleet, in its own process (issue 18: "harness processes
 * sharded"): the harnesses in BENCH_SHARD_CONFIG (JSON, `HarnessOptions` without `log`) start, and
 * once every machine has enrolled or failed one line `shard-report <json>` says how it went. The
 * agents then keep working — long-polling, running steps, rebooting — until SIGTERM stops them.
 * Started and read by `harness-shards.ts`.
 */
const REPORT_PREFIX = 'shard-report '; // harness-shards.ts reads it

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_SHARD_CONFIG ?? '[]') as HarnessOptions[];
  const harnesses = config.map((opts) => new Harness(opts));
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  for (const h of harnesses) h.start();
  const reports = await Promise.all(harnesses.map((h) => h.waitForEnrollment()));
  const report: HarnessReport = {
    enrolled: reports.reduce((n, r) => n + r.enrolled, 0),
    pending: reports.reduce((n, r) => n + r.pending, 0),
    failed: reports.reduce((n, r) => n + r.failed, 0),
    failures: reports.flatMap((r) => r.failures).slice(0, 20),
  };
  process.stdout.write(`${REPORT_PREFIX}${JSON.stringify(report)}\n`);
  await stopped;
  await Promise.all(harnesses.map((h) => h.stop()));
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`harness shard failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
