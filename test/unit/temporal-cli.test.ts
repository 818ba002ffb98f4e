import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureTemporalCli, TEMPORAL_CLI_VERSION } from '../../infra/temporal/cli';
import { devServerArgs } from '../../infra/temporal/dev-server';

describe('ensureTemporalCli', () => {
  let dataDir: string;
  let savedPath: string | undefined;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'drydock-cli-'));
    savedPath = process.env.PATH;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prefers TEMPORAL_CLI_PATH', async () => {
    const cli = process.env.DRYDOCK_TEST_TEMPORAL_CLI!;
    expect(await ensureTemporalCli({ dataDir, explicitPath: cli })).toEqual({
      path: cli,
      source: 'TEMPORAL_CLI_PATH',
    });
  });

  it('refuses a TEMPORAL_CLI_PATH that is not executable', async () => {
    await expect(ensureTemporalCli({ dataDir, explicitPath: path.join(dataDir, 'missing') })).rejects.toThrow(
      /TEMPORAL_CLI_PATH=.*missing is not an executable file/,
    );
  });

  it('says exactly what to install when there is no binary and no Go', async () => {
    process.env.PATH = dataDir; // neither temporal nor go on PATH
    await expect(ensureTemporalCli({ dataDir, goLocations: [] })).rejects.toThrow(
      /not found and Go is not installed to build it: install Go 1\.24 or newer .* or set TEMPORAL_CLI_PATH/,
    );
  });

  it('pins the CLI tag that builds without a replace directive', () => {
    expect(TEMPORAL_CLI_VERSION).toBe('v1.5.1');
  });
});

describe('devServerArgs', () => {
  it('binds loopback, keeps state in the given file and registers every Drydock search attribute', () => {
    const args = devServerArgs({
      cliPath: '/bin/false',
      port: 7233,
      uiPort: 8233,
      dbFile: '/data/dev.sqlite',
    });
    expect(args.slice(0, 6)).toEqual(['server', 'start-dev', '--ip', '127.0.0.1', '--port', '7233']);
    expect(args).toEqual(
      expect.arrayContaining([
        '--db-filename',
        '/data/dev.sqlite',
        '--ui-ip',
        '127.0.0.1',
        '--ui-port',
        '8233',
      ]),
    );
    const attributes = args.flatMap((a, i) => (args[i - 1] === '--search-attribute' ? [a] : []));
    expect(attributes).toEqual([
      'TenantId=Keyword',
      'SiteId=Keyword',
      'MachineId=Keyword',
      'FleetRunId=Keyword',
      'Phase=Keyword',
      'RunStatus=Keyword',
    ]);
    // Worker Deployment Versioning stays on whatever the server's defaults (ADR 0049).
    const dynamic = args.flatMap((a, i) => (args[i - 1] === '--dynamic-config-value' ? [a] : []));
    expect(dynamic).toEqual(
      expect.arrayContaining([
        'system.enableDeploymentVersions=true',
        'frontend.workerVersioningWorkflowAPIs=true',
      ]),
    );
  });
});
