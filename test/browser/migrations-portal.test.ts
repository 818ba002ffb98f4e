import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type { Harness } from '../../agent/harness/harness';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import { signInBrowser } from '../helpers/auth';
import { launchChromium, screenshot, seriousA11yViolations } from '../helpers/browser';
import { changeableState, seedMigrationUsers } from '../helpers/migration-host';
import { enrolledFleet } from '../helpers/provisioning';

/**
 * The Migrations page in a real browser (Debian's Chromium) against the real API, worker, Temporal,
 * PostgreSQL and simulated agents: an operator starts a profile migration of a simulated machine
 * from the page, follows it live to the decision, retires the old account and sees it pass; a
 * migration whose restore fails shows its stable code and raises an alert; a viewer sees no
 * button that changes anything, and the API refuses them anyway. Every view is checked with
 * axe-core and photographed (test-artifacts/portal/).
 */
jest.setTimeout(300_000);

type Role = 'viewer' | 'operator';
let stack: AgentStack;
let browser: Browser;
let fleet: Harness;
const contexts: BrowserContext[] = [];
const a11y: Record<string, string[]> = {};

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startAgentStack({
      PROVISION_RETRY_BACKOFF_SECONDS: '1',
      PROVISION_OFFLINE_LIMIT_SECONDS: '120',
      LOG_LEVEL: process.env.PORTAL_TEST_LOG_LEVEL ?? 'silent',
    }),
    launchChromium(),
  ]);
  // The demo users (operator@demo.test …) belong to the demo tenant: the machines enroll into its site.
  const sites = await gql<{ sites: { id: string; code: string; clientId: string }[] }>(
    stack.app,
    stack.demoTenantId,
    '{ sites { id code clientId } }',
  );
  const site = sites.data!.sites[0]!;
  stack.tenant = {
    tenantId: stack.demoTenantId,
    clientId: site.clientId,
    siteId: site.id,
    siteCode: site.code,
  };
  fleet = await enrolledFleet(stack, 'migrating', 2);
  for (const m of fleet.machines) m.platform.mutate((s) => seedMigrationUsers(s, 1));
});
afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await fleet?.stop();
  await stack?.close();
});

async function signedIn(role: Role): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  await signInBrowser(page, stack.baseUrl, `${role}@demo.test`);
  await page.getByTestId('role').waitFor();
  return page;
}

/** What the user sees once animations have settled: checked with axe and photographed. */
async function settle(page: Page, name: string) {
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((a) => Number.isFinite(a.effect?.getComputedTiming().endTime ?? Infinity))
        .map((a) => a.finished.catch(() => undefined)),
    ),
  );
  a11y[name] = await seriousA11yViolations(page);
  await screenshot(page, name);
}

/** Reads a locator's text until it matches; every text seen on the way, in order. */
async function follow(locator: Locator, until: RegExp, timeoutMs = 120_000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = ((await locator.textContent().catch(() => '')) ?? '').trim();
    if (text && seen.at(-1) !== text) seen.push(text);
    if (until.test(text)) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not reached ${until}; seen: ${seen.join(' → ')}`);
}

const hostnameOf = (i: number) => fleet.machines[i]!.platform.snapshot.hostname;
const sidOf = (i: number, name: string) =>
  fleet.machines[i]!.platform.snapshot.profiles.accounts.find((a) => a.name === name)!.sid;

describe('the Migrations page', () => {
  it('an operator starts a migration of a simulated machine and follows it live to its end', async () => {
    const machine = fleet.machines[0]!.platform;
    const alice = sidOf(0, 'alice');
    const carol = sidOf(0, 'carol');
    const folder = machine.snapshot.profiles.profileList[alice]!.ProfileImagePath;
    const page = await signedIn('operator');
    await page.getByRole('link', { name: 'Migrations' }).click();
    await page.getByRole('heading', { name: 'Profile migrations' }).waitFor();
    await page.getByTestId('empty').waitFor();
    await settle(page, 'migrations-empty');

    await page.getByRole('button', { name: 'Start migration' }).click();
    const form = page.getByTestId('start-migration');
    await form.getByRole('combobox', { name: 'Machine to migrate' }).fill(hostnameOf(0));
    await page.getByRole('option', { name: hostnameOf(0), exact: true }).click();
    await form.getByLabel('User whose profile moves').fill('alice');
    await form.getByText('Local', { exact: true }).click();
    await form.getByLabel('New account name').fill('carol');
    await form.getByRole('combobox', { name: 'Old account after approval' }).click();
    await page.getByRole('option', { name: 'Disable it (local accounts)' }).click();
    await settle(page, 'migrations-start');
    await form.getByRole('button', { name: 'Start', exact: true }).click();

    // Live: the detail's state moves through the saga without a reload, to the operator's decision.
    const detail = page.getByTestId('migration-detail');
    const states = await follow(detail.getByTestId('detail-state'), /^awaiting-approval$/);
    expect(states.length).toBeGreaterThan(1);
    expect(states.at(-1)).toBe('awaiting-approval');
    expect(await detail.textContent()).toContain(carol);
    expect(await detail.textContent()).toMatch(/DPAPI/);
    const row = page.getByTestId('migrations-table').getByRole('row', { name: /alice/ });
    expect(await row.getByTestId('migration-status').textContent()).toBe('awaiting-approval');
    await settle(page, 'migrations-awaiting-decision');

    // The irreversible step asks first.
    await detail.getByRole('button', { name: 'Disable old account' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('This cannot be rolled back').waitFor();
    await settle(page, 'migrations-confirm-retire');
    await dialog.getByRole('button', { name: 'Disable old account' }).click();
    await follow(detail.getByTestId('detail-status'), /^passed$/);
    await follow(row.getByTestId('migration-status'), /^passed$/);
    await settle(page, 'migrations-passed');

    const p = machine.snapshot.profiles;
    expect(p.profileList[carol]!.ProfileImagePath).toBe(folder);
    expect(p.profileList[alice]).toBeUndefined();
    expect(p.files[`${folder}\\Documents\\budget.xlsx`]!.owner).toBe(carol);
    expect(p.accounts.find((a) => a.sid === alice)!.enabled).toBe(false);
  });

  it('a migration whose restore fails shows MIGRATION_ROLLBACK_FAILED and raises an alert for an operator', async () => {
    const machine = fleet.machines[1]!.platform;
    const machineId = fleet.machines[1]!.agent.machineId!;
    machine.mutate((s) => {
      s.profiles.faults['repair'] = 'fail';
      s.profiles.faults['restore'] = 'fail';
    });
    const before = changeableState(machine);
    const page = await signedIn('operator');
    await page.goto(`${stack.apiUrl}/migrations?machine=${machineId}`);
    await page.getByRole('button', { name: 'Start migration' }).click();
    const form = page.getByTestId('start-migration');
    // The machine shown is preselected.
    expect(await form.getByRole('combobox', { name: 'Machine to migrate' }).inputValue()).toBe(hostnameOf(1));
    await form.getByLabel('User whose profile moves').fill('alice');
    await form.getByText('Local', { exact: true }).click();
    await form.getByLabel('New account name').fill('carol');
    await form.getByRole('button', { name: 'Start', exact: true }).click();
    const detail = page.getByTestId('migration-detail');
    await follow(detail.getByTestId('detail-status'), /^failed$/);
    const alert = detail.getByRole('alert');
    await alert.getByText('The machine needs an engineer').waitFor();
    expect(await alert.textContent()).toContain('MIGRATION_ROLLBACK_FAILED');
    expect(await alert.textContent()).toMatch(
      /simulated fault at restore.*after: .*simulated fault at repair/,
    );
    await settle(page, 'migrations-rollback-failed');
    // Not as before: the re-assignment stays until an engineer restores the backup, which is still there.
    expect(changeableState(machine)).not.toEqual(before);
    expect(Object.keys(machine.snapshot.profiles.backups)).toHaveLength(1);

    const alerts = await gql<{ alerts: { kind: string; message: string }[] }>(
      stack.app,
      stack.tenant.tenantId,
      '{ alerts(last: 20) { kind message } }',
    );
    expect(alerts.data!.alerts).toContainEqual({
      kind: 'MigrationRollbackFailed',
      message: expect.stringContaining(`A profile migration on ${hostnameOf(1)} failed`),
    });
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.getByText(`A profile migration on ${hostnameOf(1)} failed`).waitFor();
  });

  it('a viewer sees the migrations but no button that changes one, and the API refuses them anyway', async () => {
    const page = await signedIn('viewer');
    await page.goto(`${stack.apiUrl}/migrations`);
    const table = page.getByTestId('migrations-table');
    await table.waitFor();
    expect(await table.getByRole('row').count()).toBe(3);
    expect(await page.getByRole('button', { name: 'Start migration' }).count()).toBe(0);
    await table.getByRole('link', { name: 'Details of alice' }).first().click();
    await page.getByTestId('detail-status').waitFor();
    expect(await page.getByRole('button', { name: /Cancel|Roll back|Keep|Disable/ }).count()).toBe(0);
    await settle(page, 'migrations-viewer');
    const refused = await page.evaluate(async (machineId) => {
      const { csrfToken } = (await (await fetch('/auth/session')).json()) as { csrfToken: string };
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-drydock-csrf': csrfToken },
        body: JSON.stringify({
          query: `mutation($m: ID!) { startProfileMigration(input: { machineId: $m, source: "alice",
            target: { kind: "local", name: "carol" }, mode: "in-place" }) { id } }`,
          variables: { m: machineId },
        }),
      });
      return ((await res.json()) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions
        ?.code;
    }, fleet.machines[0]!.agent.machineId!);
    expect(refused).toBe('FORBIDDEN');
    expect(a11y).toEqual(Object.fromEntries(Object.keys(a11y).map((k) => [k, []])));
  });
});
