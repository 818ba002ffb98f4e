import { Command } from 'commander';
import { loadEnv } from '../infra/config/env';
import { exitOnStartupError } from '../infra/config/fatal';
import { verifyAuditChains } from '../infra/db/audit-verify';
import { DEV_APP_PASSWORD, migrate } from '../infra/db/database';
import { resolvePostgres } from '../infra/postgres/resolve';
import { runApi } from '../api/main';
import { runWorker } from '../workers/main';
import { ensureTemporalCli } from '../infra/temporal/cli';
import { runHarnessCli, type HarnessCliOptions } from '../agent/harness/main';
import { runAgent } from '../agent/main';
import { runInstallerCli, type InstallerCliOptions } from '../installer/cli';
import { up } from './up';
import { addDeployCommands } from './deploy';
import { createOrm, type Orm } from '../infra/db/orm';
import { addIdpMapping, addTenantUser, listIdpMappings } from '../infra/auth/sso-admin';

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
        'the demo tenant, the development OIDC provider, the worker and the API. Prints the URLs and ' +
        'how to sign in as each demo user; Ctrl-C stops all of it.',
    )
    .option(
      '--no-demo',
      'start no simulated fleet and rotate no demo key (the demo tenant and users are still seeded for the development sign-in unless OIDC_ISSUER is set)',
    )
    .option('--fleet <n>', 'simulated machines to enroll into the demo site', '5')
    .option('--dev-token', 'also print a new admin API token for the demo tenant (development only)')
    .option(
      '--production',
      'run the production Temporal server on PostgreSQL instead of the dev server: built once from Go modules into the data folder, its databases temporal and temporal_visibility, mTLS on its frontend (docs/operations.md)',
    )
    .action((opts: { demo: boolean; fleet: string; devToken?: boolean; production?: boolean }) =>
      up({
        demo: opts.demo,
        fleet: Math.max(0, Number(opts.fleet) || 0),
        devToken: !!opts.devToken,
        production: !!opts.production,
      }),
    );

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

  const sso = cli
    .command('sso')
    .description(
      'Sign-in set-up (docs/sso.md): which identity-provider tenants and groups reach which tenant.',
    );
  // As DATABASE_URL's role (maintenance, like migrate and audit verify), one tenant at a time.
  const withOrm = async <T>(fn: (orm: Orm) => Promise<T>): Promise<T> => {
    const env = loadEnv();
    const pg = await resolvePostgres(env);
    const orm = await createOrm(pg.adminUrl, { pool: { min: 0, max: 2 } });
    try {
      return await fn(orm);
    } finally {
      await orm.close();
      await pg.stop();
    }
  };
  sso
    .command('map')
    .description(
      'Map an IdP tenant (Entra ID: its tenant id, the `tid` claim) and/or group to a Drydock tenant.',
    )
    .requiredOption('--tenant <slug>', 'the Drydock tenant (slug or id)')
    .requiredOption('--issuer <url>', 'the issuer, e.g. https://login.microsoftonline.com/<tenant-id>/v2.0')
    .option('--idp-tenant <id>', 'the value of the tenant claim (OIDC_TENANT_CLAIM, default tid)')
    .option('--group <id>', 'a value of the groups claim (Entra ID: the group object id)')
    .option(
      '--default-role <role>',
      'give people not yet added this role at first sign-in (default: nobody unknown)',
    )
    .action(
      (opts: { tenant: string; issuer: string; idpTenant?: string; group?: string; defaultRole?: string }) =>
        withOrm(async (orm) => {
          const id = await addIdpMapping(orm, { ...opts });
          process.stdout.write(`mapped (${id})\n`);
        }),
    );
  sso
    .command('list')
    .description('List a tenant’s identity-provider mappings.')
    .requiredOption('--tenant <slug>', 'the Drydock tenant (slug or id)')
    .action((opts: { tenant: string }) =>
      withOrm(async (orm) => {
        for (const m of await listIdpMappings(orm, opts.tenant))
          process.stdout.write(
            `${m.issuer}  tenant=${m.idpTenant ?? '*'}  group=${m.idpGroup ?? '*'}  default-role=${m.defaultRole ?? '(none)'}\n`,
          );
      }),
    );
  sso
    .command('add-user')
    .description(
      'Add a person by e-mail with a role (the first admin of a tenant); bound at their first sign-in.',
    )
    .requiredOption('--tenant <slug>', 'the Drydock tenant (slug or id)')
    .requiredOption('--email <address>', 'their e-mail address as the identity provider reports it')
    .option('--role <role>', 'viewer, operator, engineer or admin', 'admin')
    .option('--reveal-secrets', 'also the reveal-secrets permission')
    .action((opts: { tenant: string; email: string; role: string; revealSecrets?: boolean }) =>
      withOrm(async (orm) => {
        await addTenantUser(orm, { ...opts, revealSecrets: !!opts.revealSecrets });
        process.stdout.write(`added ${opts.email.toLowerCase()} as ${opts.role}\n`);
      }),
    );

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
    .command('harness')
    .description(
      'Run N simulated Windows machines as real agents against the API and report enrolled / pending / failed. ' +
        'The enrollment key comes from DRYDOCK_ENROLLMENT_KEY.',
    )
    .requiredOption('--machines <n>', 'how many simulated machines')
    .option('--site <code>', 'site code to enroll into', 'DEMO-HQ')
    .option('--clone <k>', 'also run clones of the first K machines (same hardware identity)', '0')
    .option(
      '--faults <spec>',
      'inject faults: crash=P,network=P,reboot=P,midstep=P,winget=P (probabilities) and slow=MS, e.g. crash=0.1,winget=0.3',
    )
    .option('--api <url>', 'API base URL (default http://API_HOST:API_PORT)')
    .option('--state <dir>', 'where the simulated machines keep their state (default DATA_DIR/fleet/<site>)')
    .option('--stay', 'keep the agents running after enrollment until Ctrl-C', false)
    .option('--verbose', 'print every agent log line', false)
    .action(async (opts: HarnessCliOptions) => {
      process.exitCode = await runHarnessCli(loadEnv(), opts);
    });

  cli
    .command('agent')
    .description(
      'Run the endpoint agent: enroll once with the config the site installer wrote, then long-poll for work.',
    )
    .requiredOption(
      '--config <file>',
      'the agent config (apiUrl, siteCode, enrollmentKey, fingerprint, stateDir)',
    )
    .option('--simulated <dir>', 'run against a simulated Windows host kept in <dir> (required off Windows)')
    .action(async (opts: { config: string; simulated?: string }) => {
      process.exitCode = await runAgent(opts);
    });

  cli
    .command('installer')
    .description(
      "Build a site's signed installers (EXE and MSI) for its current enrollment key, or generic ones. " +
        'Signing: SIGNING_PFX, or SIGNING_CERT + SIGNING_KEY (docs/installers.md); without them, outside ' +
        'production, a development test CA under DRYDOCK_DATA_DIR/signing/test-ca. Needs makensis, wixl, ' +
        'msitools, osslsigncode and mingw-w64 (Debian packages).',
    )
    .option(
      '--site <code>',
      "the site's code; its key must have been issued or rotated since installers existed",
    )
    .option('--tenant <id>', 'the tenant the site belongs to (default: the demo tenant)')
    .option('--generic', 'build generic installers that take --site-code/--enroll-key when run', false)
    .option(
      '--api-url <url>',
      'with --generic: the API address agents use (default INSTALLER_API_URL, else http://API_HOST:API_PORT)',
    )
    .option(
      '--out <dir>',
      'copy the installers here (a site build is also kept under DRYDOCK_DATA_DIR/installers; generic: default .)',
    )
    .action(async (opts: InstallerCliOptions) => {
      process.exitCode = await runInstallerCli(loadEnv(), opts);
    });

  cli
    .command('api')
    .description('Run the API process alone (needs PostgreSQL and Temporal running).')
    .action(() => runApi().catch((err) => exitOnStartupError('api', err)));
  cli
    .command('worker')
    .description('Run the Temporal worker process alone (needs PostgreSQL and Temporal running).')
    .action(() => runWorker().catch((err) => exitOnStartupError('worker', err)));
  addDeployCommands(cli);

  return cli;
}

export function main(argv: string[]): void {
  program()
    .parseAsync(argv)
    .catch((err) => exitOnStartupError('', err));
}
