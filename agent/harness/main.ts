import path from 'node:path';
import type { Env } from '../../infra/config/env';
import { parseFaults } from './faults';
import { Harness } from './harness';

export interface HarnessCliOptions {
  machines: string;
  site: string;
  clone: string;
  faults?: string;
  api?: string;
  state?: string;
  stay: boolean;
  verbose: boolean;
}

/**
 * `drydock harness`: N simulated Windows machines as real agents over real HTTP. The enrollment
 * key comes from DRYDOCK_ENROLLMENT_KEY (never the command line, which other users can read).
 */
export async function runHarnessCli(env: Env, opts: HarnessCliOptions): Promise<number> {
  const machines = Number(opts.machines);
  const clones = Number(opts.clone);
  if (!Number.isInteger(machines) || machines < 1 || machines > 100_000)
    throw new Error('--machines must be a whole number from 1');
  if (!Number.isInteger(clones) || clones < 0 || clones > machines)
    throw new Error('--clone must be between 0 and --machines');
  const enrollmentKey = process.env.DRYDOCK_ENROLLMENT_KEY;
  if (!enrollmentKey) {
    throw new Error(
      "set DRYDOCK_ENROLLMENT_KEY to the site's enrollment key (GraphQL rotateEnrollmentKey issues one)",
    );
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const harness = new Harness({
    apiUrl: opts.api ?? `http://${env.API_HOST}:${env.API_PORT}`,
    siteCode: opts.site,
    enrollmentKey,
    fingerprint: process.env.DRYDOCK_ENROLLMENT_FINGERPRINT,
    machines,
    clones,
    faults: parseFaults(opts.faults),
    stateDir: opts.state ?? path.join(env.DRYDOCK_DATA_DIR, 'fleet', opts.site),
    log: opts.verbose ? out : undefined,
  });
  out(
    `harness: ${machines} simulated machine(s)${clones ? ` + ${clones} clone(s)` : ''} → site ${opts.site}`,
  );
  harness.start();
  const report = await harness.waitForEnrollment();
  out(`harness: enrolled ${report.enrolled}, pending ${report.pending}, failed ${report.failed}`);
  for (const f of report.failures.slice(0, 20)) out(`harness:   ${f.name}: ${f.error}`);
  if (opts.stay) {
    out('harness: agents keep long-polling for work; Ctrl-C stops them');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  await harness.stop();
  return report.failed > 0 ? 1 : 0;
}
