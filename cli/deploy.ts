import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadEnv } from '../infra/config/env';
import { temporalClient } from '../infra/temporal/connection';
import { describeDeployment, setCurrentVersion, setRampingVersion } from '../infra/temporal/deployments';
import { historyFiles, replayBundle, replayFiles, replayFromServer } from '../workers/replay';
import { temporalSecurity } from '../infra/temporal/tls';

/** `drydock deploy …` and `drydock replay`: a new worker build's way to production (ADR 0049). */
export function addDeployCommands(cli: Command): void {
  const withClient = async (fn: (client: Awaited<ReturnType<typeof temporalClient>>) => Promise<void>) => {
    const env = loadEnv();
    const client = await temporalClient(
      env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.TEMPORAL_PORT}`,
      env.TEMPORAL_NAMESPACE,
      [],
      temporalSecurity(env),
    );
    try {
      await fn(client);
    } finally {
      await client.connection.close();
    }
  };
  const deploymentOf = (opts: { deployment?: string }) => opts.deployment ?? loadEnv().WORKER_DEPLOYMENT_NAME;

  const deploy = cli
    .command('deploy')
    .description(
      'Worker Deployment Versioning (WORKER_VERSIONING=on): which build takes new work. docs/operations.md, "Deploying a new worker build".',
    );
  deploy
    .command('status')
    .description("The deployment's versions: current, ramping, draining (pinned runs still open), drained.")
    .option('--deployment <name>', 'the Worker Deployment (default WORKER_DEPLOYMENT_NAME)')
    .action((opts: { deployment?: string }) =>
      withClient(async (client) => {
        const d = await describeDeployment(client, deploymentOf(opts));
        process.stdout.write(
          `deployment ${d.name}: current ${d.current ?? '(unversioned)'}` +
            (d.ramping ? `, ramping ${d.ramping} at ${d.rampingPercent}%` : '') +
            '\n',
        );
        for (const v of d.versions)
          process.stdout.write(
            `  ${v.buildId}  ${v.status}${v.drainage ? ` (${v.drainage})` : ''}  since ${v.createdAt ?? '?'}\n`,
          );
      }),
    );
  deploy
    .command('set-current <buildId>')
    .description(
      'Make a build current: new workflows and auto-upgrade workflows (fleet runs, sites, discovery) go to its workers from their next task; pinned machine runs stay on the build they started on. Run `drydock replay` against the build first.',
    )
    .option('--deployment <name>', 'the Worker Deployment (default WORKER_DEPLOYMENT_NAME)')
    .option('--wait <seconds>', "wait this long for the build's workers to have polled", '60')
    .action((buildId: string, opts: { deployment?: string; wait: string }) =>
      withClient(async (client) => {
        const { previous } = await setCurrentVersion(client, deploymentOf(opts), buildId, {
          waitMs: Number(opts.wait) * 1000,
        });
        process.stdout.write(`current: ${buildId} (was ${previous ?? 'unversioned'})\n`);
      }),
    );
  deploy
    .command('ramp <buildId> <percent>')
    .description(
      'Send a share (0–100) of new workflows to a build before making it current; `ramp none 0` stops ramping.',
    )
    .option('--deployment <name>', 'the Worker Deployment (default WORKER_DEPLOYMENT_NAME)')
    .option('--wait <seconds>', "wait this long for the build's workers to have polled", '60')
    .action((buildId: string, percent: string, opts: { deployment?: string; wait: string }) =>
      withClient(async (client) => {
        const share = Number(percent);
        if (!Number.isFinite(share) || share < 0 || share > 100) throw new Error('percent must be 0–100');
        const target = buildId === 'none' ? null : buildId;
        await setRampingVersion(client, deploymentOf(opts), target, share, {
          waitMs: Number(opts.wait) * 1000,
        });
        process.stdout.write(target ? `ramping: ${target} at ${share}%\n` : 'ramping stopped\n');
      }),
    );

  cli
    .command('replay [paths...]')
    .description(
      'The replay gate: replay exported histories (JSON files, or every .json in a folder; e.g. test/histories) and/or the runs a visibility query finds on Temporal against a workflow bundle. Exit 1 if any does not replay.',
    )
    .option(
      '--bundle <file>',
      'the new build’s workflow bundle (default WORKFLOW_BUNDLE_PATH, else workflows/ bundled now)',
    )
    .option('--query <query>', 'also replay runs found on the server, e.g. \'ExecutionStatus="Running"\'')
    .option('--limit <n>', 'at most this many runs from --query', '1000')
    .action(async (paths: string[], opts: { bundle?: string; query?: string; limit: string }) => {
      const env = loadEnv();
      Runtime.install({ logger: new DefaultLogger('ERROR') });
      const code = await replayBundle(opts.bundle ?? env.WORKFLOW_BUNDLE_PATH);
      const outcomes = await replayFiles(historyFiles(paths), code);
      if (opts.query)
        await withClient(async (client) => {
          outcomes.push(...(await replayFromServer(client, opts.query!, Number(opts.limit), code)));
        });
      const failed = outcomes.filter((o) => !o.ok);
      for (const o of failed) process.stdout.write(`FAIL ${o.name}: ${o.error}\n`);
      process.stdout.write(`replayed ${outcomes.length}, ${failed.length} failed\n`);
      process.exitCode = failed.length > 0 || outcomes.length === 0 ? 1 : 0;
    });
}
