import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Platform, StepContext } from '../../agent/platform/platform';
import { StepError } from '../../agent/platform/platform';
import { newHostState, SimulatedPlatform } from '../../agent/platform/simulated/simulated-host';
import { runStep } from '../../agent/steps';
import { buildPlan } from '../../infra/provisioning/plan';
import { resolveProfile } from '../../infra/provisioning/profile';
import { tweakCatalogue } from '../../infra/provisioning/tweaks';
import { StepFailure, StepKind, type StepPayloads, type StepResults } from '../../infra/wire/agent-steps';
import { checkStepPayload, payloadKinds } from '../../infra/wire/step-payloads';
import { checkStepResult, isStepResult, resultKinds } from '../../infra/wire/step-results';
import type { PlanStep } from '../../workflows/provisioning/contracts';
import { rejection } from '../helpers/rejection';

/**
 * One payload type and one result type per step kind (infra/wire/agent-steps.ts), each the static
 * type of the schema that checks it: payloads on the agent before a step runs, results on the API
 * before one is stored. What the server sends fits, what does not fit never runs, and the type
 * check refuses what the schemas refuse.
 */
const allKinds = Object.values(StepKind).sort();

/** A profile with every phase that has steps, every tweak, an installer and each kind of Wi-Fi. */
function everythingPlan(): PlanStep[] {
  const radius = { serverNames: ['radius.example.com'], trustedRootCaThumbprints: ['ab'.repeat(20)] };
  const resolved = resolveProfile([
    {
      phases: {
        apps: {
          installers: [
            {
              name: 'Tool',
              url: 'https://downloads.example.com/tool.msi',
              sha256: 'a'.repeat(64),
              arguments: ['/qn'],
            },
          ],
        },
        tweaks: { selected: tweakCatalogue.map((t) => t.id) },
        locale: {
          formats: 'en-GB',
          homeLocation: 242,
          wifi: [
            { ssid: 'Guest', authentication: 'open' },
            { ssid: 'Corp', authentication: 'wpa2-enterprise', radius },
            { ssid: 'Corp3', authentication: 'wpa3-enterprise', radius },
          ],
        },
      },
    },
  ]);
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.errors));
  return buildPlan(resolved.profile, { hostname: 'DEMOHQ-001' });
}

describe('payloads the server sends fit what the agent takes', () => {
  it('every step kind has a payload schema and a result schema', () => {
    expect(payloadKinds().sort()).toEqual(allKinds);
    expect(resultKinds().sort()).toEqual(allKinds);
  });

  it('every plan step fits its kind, as built and as it arrives (JSON)', () => {
    const plan = everythingPlan();
    expect(new Set(plan.map((s) => s.kind))).toEqual(
      new Set([
        StepKind.Preflight,
        StepKind.Rename,
        StepKind.WingetReady,
        StepKind.Winget,
        StepKind.Installer,
        StepKind.Tweaks,
        StepKind.Locale,
        StepKind.Wifi,
        StepKind.Inventory,
        StepKind.Validate,
      ]),
    );
    for (const step of plan) {
      expect([step.key, checkStepPayload(step.kind, step.payload)]).toEqual([step.key, null]);
      const wire: unknown = JSON.parse(JSON.stringify(step.payload));
      expect([step.key, checkStepPayload(step.kind, wire)]).toEqual([step.key, null]);
    }
    expect(plan.find((s) => s.kind === StepKind.Rename)).toMatchObject({
      label: 'Rename to DEMOHQ-001',
      payload: { name: 'DEMOHQ-001' },
    });
  });

  it('so do the payloads workflows make themselves (restarts, boot ids, undo, inventory)', () => {
    const made: { [K in StepKind]?: StepPayloads[K][] } = {
      [StepKind.Reboot]: [{ reason: 'rename' }],
      [StepKind.BootId]: [{}],
      [StepKind.TweaksUndo]: [{}, { tweaks: ['show-file-extensions'] }],
      [StepKind.Inventory]: [{}],
    };
    for (const [kind, payloads] of Object.entries(made) as [StepKind, unknown[]][])
      for (const payload of payloads) expect([kind, checkStepPayload(kind, payload)]).toEqual([kind, null]);
  });

  it('a plan needs the name reserved for the machine when it renames it', () => {
    const resolved = resolveProfile([]);
    if (!resolved.ok) throw new Error('invalid');
    expect(() => buildPlan(resolved.profile)).toThrow(/reserve its name \(template \{SITE\}-\{SEQ3\}\)/);
    const noRename = resolveProfile([{ phases: { identity: { enabled: false } } }]);
    if (!noRename.ok) throw new Error('invalid');
    expect(buildPlan(noRename.profile).map((s) => s.kind)).not.toContain(StepKind.Rename);
  });
});

describe('the agent runs a step only with a payload that fits its kind', () => {
  let dir: string;
  let host: SimulatedPlatform;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'drydock-step-types-'));
    host = new SimulatedPlatform(path.join(dir, 'pc'), () => newHostState('pc', dir));
    host.onRestart = () => host.reboot();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = (key: string): StepContext => ({
    idempotencyKey: key,
    progress: async () => {},
    checkApi: async () => ({ ok: true, ms: 1, detail: 'ok' }),
    signal: new AbortController().signal,
  });

  it('refuses one that does not, for good, before anything happens on the machine', async () => {
    // An installer without its pin (a bug, or a server the agent does not match): nothing downloads.
    const unpinned = await rejection(
      runStep(
        host,
        StepKind.Installer,
        { name: 'Tool', url: 'https://downloads.example.com/tool.msi', arguments: [] },
        ctx('wf:a'),
      ),
    );
    expect(unpinned).toBeInstanceOf(StepError);
    expect(unpinned).toMatchObject({ type: StepFailure.InvalidPayload, retryable: false });
    expect(unpinned.message).toMatch(/apps\.installer step: its payload does not fit \(\/sha256: /);
    // A tweak action a newer server knows and this agent does not: refused, not guessed at.
    const action = await rejection(
      runStep(
        host,
        StepKind.Tweaks,
        { tweaks: [{ id: 'x', registry: [], actions: ['format-disk'] }] },
        ctx('wf:b'),
      ),
    );
    expect(action).toMatchObject({ type: StepFailure.InvalidPayload, retryable: false });
    expect(action.message).toMatch(/\/tweaks\/0\/actions\/0/);
    expect(host.snapshot.effects).toEqual({});
    expect(host.snapshot.executions).toEqual({});
  });

  it('lets a field through that it does not know (a newer server may add one)', async () => {
    const result = await runStep(
      host,
      StepKind.Winget,
      { id: 'Google.Chrome', channel: 'beta' },
      ctx('wf:c'),
    );
    expect(result).toMatchObject({ exitCode: 0, outcome: 'installed' });
    expect(host.snapshot.effects).toEqual({ 'winget:Google.Chrome': 1 });
  });

  it('tells the platform of each step that starts (its hook, if it has one), and of nothing else', async () => {
    await runStep(host, StepKind.BootId, {}, ctx('wf:d'));
    await rejection(runStep(host, 'no.such-step', {}, ctx('wf:e')));
    await rejection(runStep(host, StepKind.Rename, {}, ctx('wf:f')));
    expect(host.snapshot.executions).toEqual({ 'system.boot-id wf:d': 1 });
    // A platform without the hook runs steps all the same: the steps know nothing of the simulation.
    const withoutHook: Platform = new Proxy(host, {
      get: (target, key) => (key === 'stepStarted' ? undefined : Reflect.get(target, key, target)),
    });
    await expect(runStep(withoutHook, StepKind.BootId, {}, ctx('wf:g'))).resolves.toEqual({
      bootId: host.snapshot.bootId,
    });
    expect(host.snapshot.executions).toEqual({ 'system.boot-id wf:d': 1 });
  });
});

describe('one type per kind, and the type check refuses what the schemas refuse', () => {
  it('a plan step of a kind carries that kind’s payload', () => {
    const step: PlanStep = {
      key: 'apps.winget:Google.Chrome',
      phase: 'apps',
      kind: StepKind.Winget,
      label: 'Install Google Chrome',
      policy: 'install',
      // @ts-expect-error a winget step takes a package id, not a name
      payload: { name: 'Google.Chrome' },
    };
    expect(checkStepPayload(step.kind, step.payload)).toBe('/id: Expected required property');
    const rename: PlanStep<StepKind.Rename> = {
      key: 'identity.rename',
      phase: 'identity',
      kind: StepKind.Rename,
      label: 'Rename',
      policy: 'change',
      // @ts-expect-error the rename step carries the reserved name, never the template
      payload: { template: '{SITE}-{SEQ3}' },
    };
    expect(checkStepPayload(rename.kind, rename.payload)).toMatch(/^\/name: /);
  });

  it('a step’s result is its kind’s result, nothing more', () => {
    const validation: StepResults[StepKind.Validate] = {
      items: [{ item: 'app Google.Chrome', pass: true, detail: 'installed' }],
      // @ts-expect-error validation answers with its items, not a verdict of its own
      passed: true,
    };
    expect(checkStepResult(StepKind.Validate, validation)).toMatch(/^\/passed: /);
    // @ts-expect-error an inventory names its host
    const inventory: StepResults[StepKind.Inventory] = { os: { name: 'Windows', version: '10', build: '1' } };
    expect(checkStepResult(StepKind.Inventory, { ...inventory, hardware: {} })).toMatch(/hostname/);
  });

  it('a stored result that fits is read as its kind’s result', () => {
    const stored: unknown = JSON.parse('{"bootId":"b-2","alreadyDone":true}');
    expect(isStepResult(StepKind.Reboot, stored)).toBe(true);
    if (!isStepResult(StepKind.Reboot, stored)) throw new Error('unreachable');
    expect([stored.bootId, stored.alreadyDone]).toEqual(['b-2', true]);
    expect(isStepResult(StepKind.Reboot, { bootId: 'b-2', admin: true })).toBe(false);
    expect(isStepResult(StepKind.BootId, {})).toBe(false);
  });
});
