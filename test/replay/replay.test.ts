import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { repoRoot } from '../../infra/config/env';

/**
 * Every recorded history under test/histories replays against the current workflow bundle, so a
 * change that would break running workflows fails CI. Record new ones with
 * `temporal workflow show -w <id> -o json > test/histories/<name>.json` (test/histories/README.md).
 */
const historiesDir = path.join(repoRoot, 'test', 'histories');
const histories = readdirSync(historiesDir)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, history: JSON.parse(readFileSync(path.join(historiesDir, file), 'utf8')) }));

beforeAll(() => {
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
});

describe('recorded workflow histories', () => {
  it('exist', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it.each(histories.map((h) => [h.file, h.history]))(
    '%s replays against the current code',
    async (file, history) => {
      const workflowBundle = { code: readFileSync(process.env.DRYDOCK_TEST_BUNDLE!, 'utf8') };
      await expect(
        Worker.runReplayHistory({ workflowBundle, replayName: file }, history),
      ).resolves.toBeUndefined();
    },
  );

  it('catch a non-deterministic change to provisionMachine', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: path.join(repoRoot, 'test', 'fixtures', 'nondeterministic-provision'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const recorded = histories.find((h) => h.file === 'provision-machine-passed.json')!;
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle }, recorded.history),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('catch a non-deterministic change to fleetRun', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: path.join(repoRoot, 'test', 'fixtures', 'nondeterministic-fleet'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const recorded = histories.find((h) => h.file === 'fleet-run-v2-paused-cancelled.json')!;
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle }, recorded.history),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('catch a non-deterministic change', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: path.join(repoRoot, 'test', 'fixtures', 'nondeterministic'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const completed = histories.find((h) => h.file === 'create-site-completed.json')!;
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle }, completed.history),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
