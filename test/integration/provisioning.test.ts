import type { Harness } from '../../agent/harness/harness';
import { simulatedDownloadSha256 } from '../../agent/platform/simulated/simulated-host';
import { MachineSchema } from '../../infra/db/entities';
import { withTenant } from '../../infra/db/orm';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import {
  enrolledFleet,
  fleetMachineRuns,
  repeatedEffects,
  saveProfile,
  startFleetRun,
  waitForFleet,
} from '../helpers/provisioning';

jest.setTimeout(300_000);

let stack: AgentStack;
const harnesses: Harness[] = [];
beforeAll(async () => {
  stack = await startAgentStack({
    PROVISION_RETRY_BACKOFF_SECONDS: '1',
    PROVISION_OFFLINE_LIMIT_SECONDS: '120',
    PROVISION_FAILED_HOLD_SECONDS: '600',
  });
});
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.stop()));
  await stack.close();
});

const TOOL_URL = 'https://downloads.example.com/drydock-tool-1.2.3.msi';
const withInstaller = (sha256: string) => ({
  phases: {
    apps: { installers: [{ name: 'DrydockTool', url: TOOL_URL, sha256, arguments: ['/quiet'] }] },
  },
});

describe('fleet provisioning through the Standard profile', () => {
  it('provisions every machine once: unique names, apps, tweaks, inventory, validation PASS', async () => {
    const fleet = await enrolledFleet(stack, 'smoke', 5);
    harnesses.push(fleet);
    const profileId = await saveProfile(stack, 'Standard', withInstaller(simulatedDownloadSha256(TOOL_URL)));
    const started = await startFleetRun(stack, { profileId, concurrency: 3, siteIds: [stack.tenant.siteId] });
    const done = await waitForFleet(stack, started.id, (f) => f.status === 'completed');
    expect(done).toMatchObject({ status: 'completed', total: 5, passed: 5, failed: 0 });

    const runs = await fleetMachineRuns(stack, started.id);
    expect(runs.map((r) => r.status)).toEqual(Array(5).fill('passed'));
    for (const run of runs) {
      expect(run.validation.length).toBeGreaterThan(10);
      expect(run.validation.filter((v) => v.result !== 'PASS')).toEqual([]);
    }
    // The hosts' own state: renamed (after a reboot), apps and the pinned installer present.
    const names = fleet.machines.map((m) => m.platform.snapshot.hostname).sort();
    const code = stack.tenant.siteCode.replace(/[^A-Z0-9]/g, '').slice(0, 6);
    expect(names).toEqual([1, 2, 3, 4, 5].map((n) => `${code}-00${n}`));
    for (const m of fleet.machines) {
      expect(m.platform.snapshot.apps.map((a) => a.id).sort()).toEqual(
        ['7zip.7zip', 'Adobe.Acrobat.Reader.64-bit', 'Google.Chrome'].sort(),
      );
      expect(Object.keys(m.platform.snapshot.effects)).toContain(
        `installer:${Object.keys(m.platform.snapshot.effects)
          .find((e) => e.startsWith('installer:'))!
          .slice(10)}`,
      );
    }
    expect(repeatedEffects(fleet)).toEqual([]);
    const stored = await withTenant(stack.orm, stack.tenant.tenantId, (em) => em.find(MachineSchema, {}));
    for (const machine of stored) {
      expect(machine.autopilot?.hardwareHash).toBeTruthy();
      expect(machine.hostname).toMatch(new RegExp(`^${code}-00[1-5]$`));
    }
  });
});
