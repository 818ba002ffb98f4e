import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AGENT_VERSION } from '../../agent/agent';
import { readConfig } from '../../agent/config';
import { MachineSchema } from '../../infra/db/entities';
import { withTenant } from '../../infra/db/orm';
import { buildAgentExecutable, bundleAgent, type AgentBundle } from '../../installer/build-agent';
import { ensureTestCa, resolveSigner } from '../../installer/signing';
import { nodeWinExecutable } from '../../installer/node-win';
import { repoRoot } from '../../infra/config/env';
import { pinnedNodeVersion } from '../../installer/node-win';
import { MachineIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { collectInventoryWorkflowId } from '../../workflows/machines/contracts';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import { freePort } from '../helpers/shared';
import { eventually } from '../helpers/wine';

// Two cold builds of the executable take ~30 s alone, minutes on a loaded two-core machine.
jest.setTimeout(600_000);

/**
 * The agent as it ships: the one bundled script that installer/build-agent.ts injects into
 * drydock-agent.exe (the installers test checks it is byte for byte inside), run by the same Node
 * version node.exe carries, against the real API, worker, Temporal and PostgreSQL. Wine cannot run
 * the .exe itself (docs/installers.md), so this is how the shipped agent is tested.
 */
let stack: AgentStack;
let key: { key: string; fingerprint: string };
let bundle: AgentBundle;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-bundled-agent-'));
  [stack, bundle] = await Promise.all([startAgentStack(), bundleAgent(path.join(dir, 'drydock-agent.js'))]);
  key = await stack.issueEnrollmentKey();
});
afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number>;
}

function runBundle(args: string[]): Run {
  const child = spawn(process.execPath, [bundle.file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { child, output: () => output, exit };
}

async function runToEnd(args: string[]): Promise<{ code: number; output: string }> {
  const run = runBundle(args);
  run.child.stdin!.end();
  const code = await run.exit;
  return { code, output: run.output() };
}

function writeSiteConfig(name: string, apiUrl: string): string {
  const configDir = path.join(dir, name);
  mkdirSync(configDir, { recursive: true });
  const file = path.join(configDir, 'agent.json');
  // What a per-site installer lays down (installer/site-config.ts agentConfigJson).
  writeFileSync(
    file,
    JSON.stringify({
      apiUrl,
      siteCode: stack.tenant.siteCode,
      enrollmentKey: key.key,
      fingerprint: key.fingerprint,
    }),
  );
  return file;
}

it('runs on the Node version node.exe carries', () => {
  expect(process.version).toBe(`v${pinnedNodeVersion()}`);
});

it('answers --version and --help, and refuses unknown options with exit 2', async () => {
  expect(await runToEnd(['--version'])).toEqual({ code: 0, output: `${AGENT_VERSION}\n` });
  const help = await runToEnd(['--help']);
  expect(help.code).toBe(0);
  expect(help.output).toContain('drydock-agent --self-test');
  const bad = await runToEnd(['--frobnicate']);
  expect(bad.code).toBe(2);
  expect(bad.output).toContain("Unknown option '--frobnicate'");
  expect((await runToEnd([])).code).toBe(2); // no --config off Windows
});

it('self-tests: config read, journal written, API reachable; and says which check fails', async () => {
  const good = await runToEnd(['--self-test', '--config', writeSiteConfig('self-test', stack.apiUrl)]);
  expect(good.code).toBe(0);
  expect(good.output).toMatch(/^ok {3}config: .*site .*, v1 \(.{4}\), enrollment key present$/m);
  expect(good.output).toMatch(/^ok {3}journal: /m);
  expect(good.output).toMatch(/^ok {3}api: .*\/healthz answered (200|503)$/m);
  expect(good.output).not.toContain(key.key);

  const closed = `http://127.0.0.1:${await freePort()}`;
  const bad = await runToEnd(['--self-test', '--config', writeSiteConfig('self-test-down', closed)]);
  expect(bad.code).toBe(1);
  expect(bad.output).toMatch(/^FAIL api: .*ECONNREFUSED/m);
});

it('enrolls, runs a task, stops when its stdin closes, keeps its identity across a restart, and exits 3 once revoked', async () => {
  const config = writeSiteConfig('machine', stack.apiUrl);
  const host = path.join(dir, 'machine', 'BUNDLED-1');
  const args = ['--config', config, '--simulated', host, '--stop-on-stdin-close'];
  const first = runBundle(args);
  const machines = () => withTenant(stack.orm, stack.tenant.tenantId, (em) => em.find(MachineSchema, {}));
  await eventually(async () => (await machines()).length === 1, 60_000, 'the bundled agent to enroll');
  const machine = (await machines())[0]!;
  expect(machine.hostname).toBe('BUNDLED-1');
  await eventually(
    () => readConfig(config).enrollmentKey === undefined,
    30_000,
    'the key to leave the config',
  );
  expect(readConfig(config).fingerprint).toBe(key.fingerprint);

  // A real task through Temporal and the agent channel, run by the bundled agent.
  const handle = await stack.temporal.workflow.start('collectInventory', {
    taskQueue: stack.taskQueue,
    workflowId: collectInventoryWorkflowId(machine.id, randomUUID()),
    args: [{ tenantId: stack.tenant.tenantId, machineId: machine.id }],
    typedSearchAttributes: [
      { key: TenantIdKey, value: stack.tenant.tenantId },
      { key: MachineIdKey, value: machine.id },
    ],
  });
  await handle.result();
  // Its journal lives where the config says by default: `state` beside agent.json.
  expect(readdirSync(path.join(dir, 'machine', 'state')).length).toBeGreaterThan(0);

  // The service host's stop: stdin closes, the agent finishes and exits 0.
  first.child.stdin!.end();
  expect(await first.exit).toBe(0);
  expect(first.output()).toContain('agent stopped (stopped)');

  // A restart (service restart, upgrade): same machine, no new enrollment.
  const second = runBundle(args);
  await eventually(() => /check|poll|long-poll|site/.test(second.output()), 30_000, 'the agent to start');
  await new Promise((r) => setTimeout(r, 1000));
  expect(await machines()).toHaveLength(1);
  expect(second.output()).not.toContain('enrolled as');

  // Revoked: nothing a restart could fix, so it exits 3 and the service host stops the service.
  const revoked = await gql(
    stack.app,
    stack.tenant.tenantId,
    'mutation($m: ID!) { revokeAgentKey(machineId: $m) }',
    {
      m: machine.id,
    },
  );
  expect(revoked.errors).toBeUndefined();
  expect(await second.exit).toBe(3);
  expect(second.output()).toContain('agent key rejected');
});

it('builds the same unsigned executable twice from nothing but the same inputs, and records its hash', async () => {
  // Two empty caches (node.exe itself shared: it is the pinned download, not a build output).
  const shared = path.join(repoRoot, '.drydock', 'installer-cache');
  const nodeExe = await nodeWinExecutable(shared);
  await ensureTestCa(path.join(dir, 'ca'));
  const signer = await resolveSigner({
    env: 'test',
    testCaDir: path.join(dir, 'ca'),
    signingTime: 1_767_225_600,
  });
  const builds = [];
  for (const n of [1, 2]) {
    const cacheDir = path.join(dir, `cache-${n}`);
    mkdirSync(cacheDir, { recursive: true });
    symlinkSync(path.dirname(nodeExe), path.join(cacheDir, path.basename(path.dirname(nodeExe))));
    builds.push(await buildAgentExecutable({ cacheDir, outDir: path.join(dir, `out-${n}`), signer }));
  }
  expect(builds[0]!.unsignedSha256).toMatch(/^[0-9a-f]{64}$/);
  expect(builds[1]!.unsignedSha256).toBe(builds[0]!.unsignedSha256);
  expect(builds[1]!.bundle.sha256).toBe(bundle.sha256);
  // Without a timestamp server the signing time is the build epoch, so even the signed bytes repeat.
  expect(builds[1]!.sha256).toBe(builds[0]!.sha256);
  expect(builds[0]!.sha256).not.toBe(builds[0]!.unsignedSha256);
});
