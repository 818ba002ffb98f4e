import { Command } from 'commander';
import { loadEnv } from '../config/env';
import { exitOnStartupError } from '../config/fatal';
import { verifyAuditChains } from '../db/audit-verify';
import { DEV_APP_PASSWORD, migrate } from '../db/database';
import { resolvePostgres } from '../postgres/resolve';
import { runApi } from '../../api/main';
import { runWorker } from '../../workers/main';
import { ensureTemporalCli } from '../temporal/cli';
import { up } from './up';

export function program(): Command {
  const cli = new Command('drydock')
    .description('Drydock: durable provisioning and management of Windows fleets.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nConfiguration comes from environment variables; docs/architecture.md lists them all.',
    );

  cli
    .command('up')
    .description(
      'Start everything on embedded defaults: PostgreSQL, the Temporal dev server with UI, migrations, ' +
        'the demo tenant, the worker and the API. Prints the URLs; Ctrl-C stops all of it.',
    )
    .option('--no-demo', 'do not seed the demo tenant')
    .action((opts: { demo: boolean }) => up(opts));

  cli
    .command('migrate')
    .description('Apply pending database migrations (as DATABASE_URL’s role), then check row-level security.')
    .action(async () => {
      const env = loadEnv();
      const pg = await resolvePostgres(env);
      try {
        const { applied } = await migrate(pg.adminUrl, {
          appPassword: env.DATABASE_APP_URL ? undefined : DEV_APP_PASSWORD,
        });
        process.stdout.write(
          applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n',
        );
      } finally {
        await pg.stop();
      }
    });

  const audit = cli.command('audit').description('Audit log tools.');
  audit
    .command('verify')
    .description('Walk every tenant’s audit hash chain and name the first broken link. Exit 1 if any.')
    .option('--tenant <id>', 'verify one tenant only')
    .action(async (opts: { tenant?: string }) => {
      const env = loadEnv();
      const pg = await resolvePostgres(env);
      let broken = 0;
      try {
        for (const report of await verifyAuditChains(pg.adminUrl, opts.tenant)) {
          if (report.break) {
            broken++;
            const row = report.break.id ? ` (row id ${report.break.id})` : '';
            process.stdout.write(
              `BROKEN tenant ${report.tenantId}: seq ${report.break.seq}${row}: ${report.break.problem}\n`,
            );
          } else {
            process.stdout.write(
              `ok     tenant ${report.tenantId}: ${report.events} events` +
                (report.headSeq ? `, head seq ${report.headSeq} hash ${report.headHash}` : '') +
                '\n',
            );
          }
        }
      } finally {
        await pg.stop();
      }
      if (broken > 0) process.exitCode = 1;
    });

  cli
    .command('temporal-cli')
    .description(
      'Find the Temporal CLI, or build it once from Go modules into the data folder; print its path.',
    )
    .action(async () => {
      const env = loadEnv();
      const cli = await ensureTemporalCli({
        dataDir: env.DRYDOCK_DATA_DIR,
        explicitPath: env.TEMPORAL_CLI_PATH,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(`${cli.path}\n`);
    });

  cli
    .command('api')
    .description('Run the API process alone (needs PostgreSQL and Temporal running).')
    .action(() => runApi().catch((err) => exitOnStartupError('api', err)));
  cli
    .command('worker')
    .description('Run the Temporal worker process alone (needs PostgreSQL and Temporal running).')
    .action(() => runWorker().catch((err) => exitOnStartupError('worker', err)));

  return cli;
}

export function main(argv: string[]): void {
  program()
    .parseAsync(argv)
    .catch((err) => exitOnStartupError('', err));
}
