import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type { Harness } from '../../agent/harness/harness';
import {
  rotateBitLockerWorkflowId,
  rotateLocalAdminsWorkflowId,
  rotateLocalAdminWorkflowId,
} from '../../workflows/escrow/contracts';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import { signInBrowser } from '../helpers/auth';
import { launchChromium, screenshot, seriousA11yViolations } from '../helpers/browser';
import {
  enrolledFleet,
  fleetMachineRuns,
  saveProfile,
  startFleetRun,
  waitForFleet,
} from '../helpers/provisioning';

/**
 * Issue 16, acceptance 1, in the portal: an admin sets the escrow key up in headless Chromium (the
 * key made, wrapped and split in the page; the five shares downloaded once each), a simulated
 * machine's security phase escrows its local admin password and BitLocker recovery password, an
 * operator with reveal-secrets reveals both in the page and sees exactly what the machine holds;
 * then, in a fresh page, three of the shares restore the key (two are refused), the admin sets a
 * new passphrase, the restored key reveals at once, and a fresh reveal works with the new
 * passphrase and not with the old. Every reveal is on the audit chain; no passphrase or value is
 * left in web storage or the console. Pages are checked with axe and photographed.
 */
jest.setTimeout(420_000);

const PASSPHRASE = 'Harbour lights over the dry dock 2026';
const NEW_PASSPHRASE = 'A new passphrase after the break-glass';
const ROLL_PASSPHRASE = 'Key version two for the whole tenant';
const ACCOUNT = 'DrydockAdmin';
type Role = 'viewer' | 'operator' | 'engineer' | 'admin';

let stack: AgentStack;
let browser: Browser;
let fleet: Harness | undefined;
const contexts: BrowserContext[] = [];
const a11y: Record<string, string[]> = {};
/** Everything the pages wrote to their consoles (checked for secrets at the end). */
const consoleLines: string[] = [];
/** The shares as downloaded (the files' text). */
const shares: string[] = [];
let fingerprint = '';
let machineId = '';
let revealed: { password: string; recovery: string };

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startAgentStack({
      PROVISION_RETRY_BACKOFF_SECONDS: '1',
      PROVISION_OFFLINE_LIMIT_SECONDS: '120',
      PROVISION_FAILED_HOLD_SECONDS: '600',
      LOG_LEVEL: process.env.PORTAL_TEST_LOG_LEVEL ?? 'silent',
    }),
    launchChromium(),
  ]);
  // The demo users belong to the demo tenant: the machine enrolls into its site.
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
});
afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await fleet?.stop();
  await stack?.close();
});

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** A fresh browser context (no shared memory, cookies or storage) signed in as `role`. */
async function signedIn(role: Role): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  page.on('console', (m) => consoleLines.push(m.text()));
  await signInBrowser(page, stack.baseUrl, `${role}@demo.test`);
  await page.getByTestId('role').waitFor();
  return page;
}

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

async function expectText(locator: Locator, expected: string | RegExp, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = ((await locator.textContent().catch(() => '')) ?? '').trim();
    if (typeof expected === 'string' ? text.includes(expected) : expected.test(text)) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(text).toMatch(expected);
  return text;
}

/** Opens the machine page (in-app when `inApp`, so the tab's memory survives) and waits for its secrets. */
async function openMachine(page: Page, inApp = false) {
  if (inApp) {
    // The name the portal lists (provisioning may have renamed the machine).
    const named = await gql<{ machine: { hostname: string } }>(
      stack.app,
      stack.tenant.tenantId,
      'query($id: ID!) { machine(id: $id) { hostname } }',
      { id: machineId },
    );
    const hostname = named.data!.machine.hostname;
    await page.getByRole('link', { name: 'Machines', exact: true }).click();
    await page.getByLabel('Search').fill(hostname);
    await page.getByRole('link', { name: hostname, exact: true }).click();
  } else await page.goto(`${stack.apiUrl}/machines/${machineId}`);
  await page.getByTestId('escrowed-secrets').getByRole('table').waitFor();
}

/** Clicks Reveal on a secret; answers the passphrase prompt when one is given; returns the value shown. */
async function reveal(
  page: Page,
  what: 'Local admin password' | 'BitLocker recovery password',
  passphrase?: string,
) {
  await page.getByRole('button', { name: `Reveal ${what} v1` }).click();
  if (passphrase !== undefined) {
    const dialog = page.getByRole('dialog', { name: 'Unlock the escrow key' });
    await dialog.getByLabel('Escrow passphrase').fill(passphrase);
    await dialog.getByRole('button', { name: 'Unlock and reveal' }).click();
  }
  const shown = page.getByTestId('revealed');
  await expectText(shown, what);
  return ((await page.getByTestId('revealed-value').textContent()) ?? '').trim();
}

describe('escrow in the portal', () => {
  it('an admin sets up the escrow key in the browser and downloads each recovery share once', async () => {
    const page = await signedIn('admin');
    await page.goto(`${stack.apiUrl}/settings`);
    await page.getByRole('link', { name: 'Open escrow settings' }).click();
    await page.getByRole('heading', { name: 'Set up escrow' }).waitFor();
    await page.getByLabel(/^Passphrase/).fill('too short');
    await expectText(page.getByTestId('passphrase-strength'), /too short/);
    await page.getByLabel(/^Passphrase/).fill(PASSPHRASE);
    await expectText(page.getByTestId('passphrase-strength'), /Strength: (strong|fair)/);
    await page.getByLabel(/^Repeat the passphrase/).fill(`${PASSPHRASE}x`);
    await expectText(page.getByTestId('setup-problems'), /the two passphrases differ/);
    expect(await page.getByRole('button', { name: 'Generate the key in this browser' }).isDisabled()).toBe(
      true,
    );
    await page.getByLabel(/^Repeat the passphrase/).fill(PASSPHRASE);
    // M greater than N is refused before anything is made; the defaults are 3 of 5.
    expect(await page.getByLabel('Shares needed to recover (M)').inputValue()).toBe('3');
    expect(await page.getByLabel('Shares printed (N)').inputValue()).toBe('5');
    await page.getByLabel('Shares needed to recover (M)').fill('6');
    await expectText(page.getByTestId('setup-problems'), /at most the shares printed/);
    await page.getByLabel('Shares needed to recover (M)').fill('3');
    await settle(page, 'escrow-setup');
    await page.getByRole('button', { name: 'Generate the key in this browser' }).click();

    const panel = page.getByTestId('escrow-shares');
    await panel.waitFor({ timeout: 30_000 });
    fingerprint = ((await panel.getByTestId('escrow-fingerprint').textContent()) ?? '').trim();
    expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
    await expectText(page.getByTestId('shares-pending'), /5 of 5 shares are only in this page/);
    await settle(page, 'escrow-shares');
    expect(await page.getByRole('button', { name: 'Done' }).isDisabled()).toBe(true);
    for (let i = 1; i <= 5; i++) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: `Download share ${i} of 5` }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`drydock-recovery-share-${i}-of-5-${fingerprint}.txt`);
      const text = readFileSync((await download.path())!, 'utf8');
      expect(text).toContain(`share: ${i} of 5, threshold 3`);
      expect(text).toContain(`key fingerprint: ${fingerprint}`);
      expect(text).toMatch(/checksum: [0-9a-f]{4} [0-9a-f]{4}/);
      expect(text).toMatch(/Any 3 of the 5 shares restore the tenant escrow key/);
      shares.push(text);
      // Once: the button is now a disabled "downloaded" and the share is gone from the page.
      const done = page.getByRole('button', { name: `Share ${i} downloaded` });
      expect(await done.isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: `Download share ${i} of 5` }).count()).toBe(0);
    }
    expect(new Set(shares).size).toBe(5);
    expect(await page.getByTestId('shares-pending').count()).toBe(0);
    await page.getByRole('button', { name: 'Done' }).click();
    const key = page.getByTestId('escrow-key');
    await key.waitFor();
    expect(await key.textContent()).toMatch(/v1/);
    expect(await key.textContent()).toMatch(/pbkdf2-sha256, 600,000 iterations/);
    expect(await key.textContent()).toContain('admin@demo.test');
    expect(await page.getByTestId('escrow-fingerprint').textContent()).toBe(fingerprint);
    await settle(page, 'escrow-key');

    // The server has the public key and the wrapped blob, and nothing the browser kept.
    const stored = await gql<{
      escrowKey: { keyVersion: number; fingerprint: string; wrappedPrivateKey: string };
    }>(stack.app, stack.tenant.tenantId, '{ escrowKey { keyVersion fingerprint wrappedPrivateKey } }');
    expect(stored.data!.escrowKey).toMatchObject({ keyVersion: 1, fingerprint });
    expect(stored.data!.escrowKey.wrappedPrivateKey).toMatch(/^ddk1\./);
    for (const share of shares)
      expect(JSON.stringify(stored)).not.toContain(share.split('data: ')[1]!.slice(0, 20));
  });

  it('a machine’s security phase escrows its local admin and BitLocker recovery passwords', async () => {
    fleet = await enrolledFleet(stack, 'escrow-portal', 1);
    const machine = fleet.machines[0]!;
    machineId = machine.agent.machineId!;
    const profileId = await saveProfile(stack, 'Secure', {
      phases: {
        security: { enabled: true, localAdmin: { account: ACCOUNT, create: true }, bitlocker: {} },
        apps: { enabled: false },
        tweaks: { enabled: false },
        locale: { enabled: false },
        inventory: { enabled: false },
      },
    });
    const run = await startFleetRun(stack, { profileId, machineIds: [machineId] });
    await waitForFleet(stack, run.id, (f) => f.status === 'completed');
    const runs = await fleetMachineRuns(stack, run.id);
    expect(runs.map((r) => [r.status, r.lastError])).toEqual([['passed', null]]);
    expect(machine.platform.localPasswordHash(ACCOUNT)).toMatch(/^[0-9a-f]{64}$/);
    expect(machine.platform.recoveryPasswordHashes()).toHaveLength(1);
  });

  it('an operator with reveal-secrets reveals both in the page: exactly what the machine holds', async () => {
    // The operator gets reveal-secrets from the admin (demo operators do not have it).
    const users = await gql<{ users: { id: string; email: string }[] }>(
      stack.app,
      stack.tenant.tenantId,
      '{ users { id email } }',
    );
    const operator = users.data!.users.find((u) => u.email === 'operator@demo.test')!;
    const granted = await gql(
      stack.app,
      stack.tenant.tenantId,
      'mutation($i: UserAccessInput!) { updateUserAccess(input: $i) { canRevealSecrets } }',
      { i: { userId: operator.id, role: 'operator', canRevealSecrets: true } },
    );
    expect(granted.errors).toBeUndefined();

    // A viewer sees the list, never a Reveal button.
    const viewer = await signedIn('viewer');
    await openMachine(viewer);
    expect(await viewer.getByTestId('escrowed-secrets').textContent()).toMatch(/Local admin password/);
    expect(await viewer.getByRole('button', { name: /^Reveal/ }).count()).toBe(0);

    const page = await signedIn('operator');
    await openMachine(page);
    const table = page.getByTestId('escrowed-secrets');
    expect(await table.textContent()).toContain(ACCOUNT);
    await expectText(page.getByTestId('escrow-lock-status'), /locked/);
    await settle(page, 'machine-secrets');
    // A wrong passphrase is refused with its code, and nothing is revealed (nor audited as one).
    await page.getByRole('button', { name: 'Reveal Local admin password v1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Unlock the escrow key' });
    await dialog.getByLabel('Escrow passphrase').fill('not the passphrase at all');
    await dialog.getByRole('button', { name: 'Unlock and reveal' }).click();
    await expectText(dialog.getByTestId('error'), /ESCROW_BAD_PASSPHRASE/);
    await settle(page, 'machine-unlock-refused');
    await dialog.getByLabel('Escrow passphrase').fill(PASSPHRASE);
    await dialog.getByRole('button', { name: 'Unlock and reveal' }).click();
    await expectText(page.getByTestId('revealed'), 'Local admin password');
    const password = ((await page.getByTestId('revealed-value').textContent()) ?? '').trim();
    const machine = fleet!.machines[0]!;
    expect(sha256(password)).toBe(machine.platform.localPasswordHash(ACCOUNT));
    await expectText(page.getByTestId('escrow-lock-status'), /Escrow key v1 unlocked until/);
    await settle(page, 'machine-secret-revealed');
    // Unlocked: the second reveal asks for no passphrase.
    const recovery = await reveal(page, 'BitLocker recovery password');
    expect(recovery).toMatch(/^([0-9]{6}-){7}[0-9]{6}$/);
    expect(machine.platform.recoveryPasswordHashes()).toEqual([sha256(recovery)]);
    revealed = { password, recovery };
    await expectText(table.getByTestId('reveals').first(), /operator@demo\.test/);
    // Lock now: the next reveal asks again.
    await page.getByRole('button', { name: 'Lock now' }).click();
    await expectText(page.getByTestId('escrow-lock-status'), /locked/);
    await page.getByRole('button', { name: 'Reveal Local admin password v1' }).click();
    await page.getByRole('dialog', { name: 'Unlock the escrow key' }).waitFor();
    await page.getByRole('button', { name: 'Close' }).click();
    expect(await storageOf(page)).toBe('{}');
  });

  it('break-glass: two shares are refused, a mistyped one is named, three restore the key; a new passphrase replaces the old', async () => {
    const page = await signedIn('admin');
    await page.goto(`${stack.apiUrl}/settings/escrow`);
    await page.getByRole('link', { name: 'Recover with shares' }).click();
    await page.getByRole('heading', { name: 'Break-glass recovery' }).waitFor();
    const field = (i: number) => page.getByLabel(`Share text ${i}`, { exact: true });
    await field(1).fill(shares[0]!);
    await page.getByRole('button', { name: 'Add a share' }).click();
    await field(2).fill(shares[3]!);
    await expectText(page.getByTestId('share-status').nth(1), /Share 4 of 5 \(any 3\)/);
    // M − 1 shares: refused with a clear error.
    await page.getByRole('button', { name: 'Recover the key' }).click();
    await expectText(
      page.getByTestId('error'),
      /2 shares given; this key needs 3.*ESCROW_SHARES_INSUFFICIENT/,
    );
    await settle(page, 'recovery-insufficient');
    // A mistyped share is named by its number as it is entered.
    await page.getByRole('button', { name: 'Add a share' }).click();
    const typo = shares[4]!.replace(
      /(data: [0-9a-f]{4} )([0-9a-f])/,
      (_m, head: string, d: string) => `${head}${d === '0' ? '1' : '0'}`,
    );
    await field(3).fill(typo);
    await expectText(
      page.getByTestId('share-status').nth(2),
      /share 5: the checksum does not match.*ESCROW_SHARE_CHECKSUM/,
    );
    expect(await page.getByRole('button', { name: 'Recover the key' }).isDisabled()).toBe(true);
    await settle(page, 'recovery-typo');
    await field(3).fill('');
    // The third share as an uploaded file.
    await page.locator('input[type="file"]').setInputFiles({
      name: `drydock-recovery-share-5-of-5-${fingerprint}.txt`,
      mimeType: 'text/plain',
      buffer: Buffer.from(shares[4]!),
    });
    await expectText(page.getByTestId('share-status').nth(2), /Share 5 of 5/);
    await page.getByRole('button', { name: 'Recover the key' }).click();
    const recovered = page.getByTestId('recovered');
    await recovered.waitFor({ timeout: 30_000 });
    expect(await recovered.textContent()).toContain(fingerprint);
    await expectText(page.getByTestId('escrow-lock-status'), /unlocked from recovery shares/);
    await settle(page, 'recovery-restored');
    await page.getByLabel(/^New passphrase/).fill(NEW_PASSPHRASE);
    await page.getByLabel(/^Repeat the new passphrase/).fill(NEW_PASSPHRASE);
    await page.getByRole('button', { name: 'Store under the new passphrase' }).click();
    await page.getByTestId('recovery-done').waitFor({ timeout: 30_000 });
    await settle(page, 'recovery-done');

    // The restored key reveals in this tab straight away (no passphrase asked).
    await openMachine(page, true);
    expect(await reveal(page, 'Local admin password')).toBe(revealed.password);
    expect(await storageOf(page)).toBe('{}');
  });

  it('after recovery the old passphrase is refused and the new one reveals the same values', async () => {
    const page = await signedIn('operator');
    await openMachine(page);
    await page.getByRole('button', { name: 'Reveal BitLocker recovery password v1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Unlock the escrow key' });
    await dialog.getByLabel('Escrow passphrase').fill(PASSPHRASE);
    await dialog.getByRole('button', { name: 'Unlock and reveal' }).click();
    await expectText(dialog.getByTestId('error'), /ESCROW_BAD_PASSPHRASE/);
    await dialog.getByLabel('Escrow passphrase').fill(NEW_PASSPHRASE);
    await dialog.getByRole('button', { name: 'Unlock and reveal' }).click();
    await expectText(page.getByTestId('revealed'), 'BitLocker recovery password');
    expect(((await page.getByTestId('revealed-value').textContent()) ?? '').trim()).toBe(revealed.recovery);
    expect(await reveal(page, 'Local admin password')).toBe(revealed.password);
    expect(await storageOf(page)).toBe('{}');
  });

  it('an operator sets, changes and removes a site’s admin password rotation schedule, and rotates the site now', async () => {
    const schedule = async () =>
      (
        await gql<{ passwordRotationSchedule: { intervalDays: number; nextRunAt: string } | null }>(
          stack.app,
          stack.tenant.tenantId,
          'query($id: ID!) { passwordRotationSchedule(id: $id, scope: SITE) { intervalDays nextRunAt } }',
          { id: stack.tenant.siteId },
        )
      ).data!.passwordRotationSchedule;
    const viewer = await signedIn('viewer');
    await viewer.getByRole('link', { name: 'Sites', exact: true }).click();
    await viewer.getByTestId(`site-${stack.tenant.siteCode}`).waitFor();
    expect(await viewer.getByRole('button', { name: /^Admin passwords/ }).count()).toBe(0);

    const page = await signedIn('operator');
    await page.getByRole('link', { name: 'Sites', exact: true }).click();
    await page.getByRole('button', { name: `Admin passwords of ${stack.tenant.siteCode}` }).click();
    const dialog = page.getByRole('dialog');
    const said = dialog.getByTestId('rotation-schedule');
    await expectText(said, 'No schedule');
    const days = dialog.getByLabel('Rotate every (days)');
    await days.fill('0');
    expect(await dialog.getByRole('button', { name: 'Set schedule' }).isDisabled()).toBe(true);
    await days.fill('7');
    const setAt = Date.now();
    await dialog.getByRole('button', { name: 'Set schedule' }).click();
    await expectText(said, 'Every 7 day(s)');
    const set = (await schedule())!;
    expect(set.intervalDays).toBe(7);
    const next = Date.parse(set.nextRunAt) - setAt;
    expect(next).toBeGreaterThan(0);
    expect(next).toBeLessThanOrEqual(7 * 86_400_000 + 60_000);
    await settle(page, 'site-password-rotation');

    await days.fill('14');
    await dialog.getByRole('button', { name: 'Change schedule' }).click();
    await expectText(said, 'Every 14 day(s)');
    expect((await schedule())!.intervalDays).toBe(14);

    await dialog.getByRole('button', { name: 'Rotate now' }).click();
    const workflowId = rotateLocalAdminsWorkflowId(stack.tenant.tenantId, {
      kind: 'site',
      id: stack.tenant.siteId,
    });
    await expectText(dialog.getByTestId('rotation-started'), workflowId);
    expect((await stack.temporal.workflow.getHandle(workflowId).describe()).type).toBe(
      'rotateLocalAdminPasswords',
    );

    await dialog.getByRole('button', { name: 'Remove schedule' }).click();
    await expectText(said, 'No schedule');
    expect(await schedule()).toBeNull();
  });

  it('an operator rotates the machine’s BitLocker recovery password on demand: the reveal’s waiting rotation is joined, and the page says so', async () => {
    const viewer = await signedIn('viewer');
    await openMachine(viewer);
    expect(await viewer.getByRole('button', { name: 'Rotate BitLocker recovery password' }).count()).toBe(0);

    // The reveals above started the machine's post-reveal rotation; it waits out the grace.
    const workflowId = rotateBitLockerWorkflowId(stack.tenant.tenantId, machineId);
    const waiting = await stack.temporal.workflow.getHandle(workflowId).describe();
    expect([waiting.type, waiting.status.name]).toEqual(['rotateBitLockerRecoveryPassword', 'RUNNING']);

    const page = await signedIn('operator');
    await openMachine(page);
    // The local admin password likewise: the reveal's waiting rotation of it is joined too.
    expect(await viewer.getByRole('button', { name: 'Rotate local admin password' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Rotate local admin password' }).click();
    const adminDialog = page.getByRole('dialog', { name: /^Rotate the local admin password of / });
    await expectText(adminDialog, 'sets it on the machine’s local admin account');
    await adminDialog.getByRole('button', { name: 'Rotate now' }).click();
    await expectText(
      page.getByTestId('local-admin-rotation'),
      rotateLocalAdminWorkflowId(stack.tenant.tenantId, machineId),
    );
    expect(await page.getByTestId('local-admin-rotation').textContent()).toMatch(/joined it/);

    await page.getByRole('button', { name: 'Rotate BitLocker recovery password' }).click();
    const dialog = page.getByRole('dialog', { name: /^Rotate the BitLocker recovery password of / });
    await expectText(dialog, 'joined, not hurried');
    await settle(page, 'machine-bitlocker-rotation');
    // Kept: nothing asked of Temporal.
    await dialog.getByRole('button', { name: 'Keep the current password' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.getByTestId('bitlocker-rotation').count()).toBe(0);

    await page.getByRole('button', { name: 'Rotate BitLocker recovery password' }).click();
    await dialog.getByRole('button', { name: 'Rotate now' }).click();
    const said = await expectText(page.getByTestId('bitlocker-rotation'), workflowId);
    expect(said).toMatch(/already running or waiting .*joined it/);
    // The same run, not a second one; the machine still holds the one recovery password revealed.
    const after = await stack.temporal.workflow.getHandle(workflowId).describe();
    expect(after.runId).toBe(waiting.runId);
    expect(fleet!.machines[0]!.platform.recoveryPasswordHashes()).toEqual([sha256(revealed.recovery)]);
    const audit = await gql<{ auditEvents: { action: string; actor: string; subjectId: string }[] }>(
      stack.app,
      stack.tenant.tenantId,
      '{ auditEvents(last: 50) { action actor subjectId } }',
    );
    expect(
      audit.data!.auditEvents.filter(
        (e) => e.action === 'escrow.rotation-requested' && e.subjectId === machineId,
      ),
    ).toEqual([
      { action: 'escrow.rotation-requested', actor: 'user:operator@demo.test', subjectId: machineId },
      { action: 'escrow.rotation-requested', actor: 'user:operator@demo.test', subjectId: machineId },
    ]);
  });

  it('every reveal is on the audit chain; no passphrase, share or value in the pages’ consoles; the pages pass axe', async () => {
    const audit = await gql<{ auditEvents: { action: string; actor: string; subjectId: string }[] }>(
      stack.app,
      stack.tenant.tenantId,
      '{ auditEvents(last: 200) { action actor subjectId } }',
    );
    const events = audit.data!.auditEvents;
    const secrets = await gql<{ escrowedSecrets: { id: string; kind: string }[] }>(
      stack.app,
      stack.tenant.tenantId,
      'query($m: ID!) { escrowedSecrets(machineId: $m) { id kind } }',
      { m: machineId },
    );
    const ids = secrets.data!.escrowedSecrets.map((s) => s.id);
    const reveals = events.filter((e) => e.action === 'escrow.reveal');
    const byOperator = reveals.filter((e) => e.actor === 'user:operator@demo.test');
    // Two before the recovery, two after it (the refused passphrases never reached the server).
    expect(byOperator).toHaveLength(4);
    expect(new Set(byOperator.map((e) => e.subjectId))).toEqual(new Set(ids));
    expect(reveals.filter((e) => e.actor === 'user:admin@demo.test')).toHaveLength(1);
    expect(events.filter((e) => e.action === 'escrow.key-setup')).toHaveLength(1);
    expect(events.filter((e) => e.action === 'escrow.key-rewrapped')).toHaveLength(1);

    const forbidden = [PASSPHRASE, NEW_PASSPHRASE, revealed.password, revealed.recovery];
    const logged = consoleLines.join('\n');
    for (const s of forbidden) expect(logged.includes(s)).toBe(false);
    for (const share of shares) expect(logged.includes(share.split('data: ')[1]!.slice(0, 20))).toBe(false);
    expect(a11y).toEqual(Object.fromEntries(Object.keys(a11y).map((k) => [k, []])));
  });

  it('an admin rolls the escrow key in the page: new key and shares, every secret re-wrapped there, the old key destroyed; the new passphrase reveals the same values', async () => {
    const sealedTo = async () =>
      Object.fromEntries(
        (
          await gql<{ escrowKeys: { keyVersion: number; sealedSecrets: number }[] }>(
            stack.app,
            stack.tenant.tenantId,
            '{ escrowKeys { keyVersion sealedSecrets } }',
          )
        ).data!.escrowKeys.map((k) => [k.keyVersion, k.sealedSecrets]),
      );
    const before = await sealedTo();
    expect(Object.keys(before)).toEqual(['1']);
    const sealedV1 = before[1]!;
    expect(sealedV1).toBeGreaterThanOrEqual(2);
    const rollShares: string[] = [];

    const page = await signedIn('admin');
    await page.goto(`${stack.apiUrl}/settings/escrow`);
    await expectText(page.getByTestId('escrow-key-v1'), /Current/);
    await page.getByRole('button', { name: 'Roll to a new key' }).click();
    await page.getByRole('heading', { name: 'Roll to key v2' }).waitFor();
    await page.getByLabel(/^Passphrase/).fill(ROLL_PASSPHRASE);
    await page.getByLabel(/^Repeat the passphrase/).fill(ROLL_PASSPHRASE);
    await page.getByLabel('Shares printed (N)').fill('3');
    await page.getByLabel('Shares needed to recover (M)').fill('2');
    await page.getByRole('button', { name: 'Generate the key in this browser' }).click();
    const panel = page.getByTestId('escrow-shares');
    await panel.waitFor({ timeout: 30_000 });
    await expectText(panel, 'Escrow key v2 is set up');
    const fingerprint2 = ((await panel.getByTestId('escrow-fingerprint').textContent()) ?? '').trim();
    expect(fingerprint2).not.toBe(fingerprint);
    for (let i = 1; i <= 3; i++) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: `Download share ${i} of 3` }).click(),
      ]);
      rollShares.push(readFileSync((await download.path())!, 'utf8'));
    }
    await page.getByRole('button', { name: 'Done' }).click();

    // v2 is current; v1 retired, still holding every secret escrowed before the roll.
    await expectText(page.getByTestId('escrow-key-v2'), /Current/);
    await expectText(page.getByTestId('escrow-key-v1'), new RegExp(`Retired.*${sealedV1}$`));
    const rewrap = page.getByTestId('escrow-rewrap');
    await expectText(rewrap, `${sealedV1} secrets are still sealed to v1`);
    // Nothing to destroy yet: v1 still holds them.
    expect(await page.getByRole('button', { name: 'Destroy v1' }).count()).toBe(0);
    // A wrong passphrase for v1: refused in the page, nothing released.
    await rewrap.getByLabel('Passphrase of key v1').fill(PASSPHRASE);
    await rewrap.getByRole('button', { name: `Re-wrap ${sealedV1} secrets to v2` }).click();
    await expectText(rewrap.getByTestId('error'), /ESCROW_BAD_PASSPHRASE/);
    const released = async () =>
      (
        await gql<{ auditEvents: { action: string }[] }>(
          stack.app,
          stack.tenant.tenantId,
          '{ auditEvents(last: 200) { action } }',
        )
      ).data!.auditEvents.filter((e) => e.action === 'escrow.rewrap-released').length;
    expect(await released()).toBe(0);
    await rewrap.getByLabel('Passphrase of key v1').fill(NEW_PASSPHRASE);
    await settle(page, 'escrow-key-roll');
    await rewrap.getByRole('button', { name: `Re-wrap ${sealedV1} secrets to v2` }).click();
    // Done: the card goes, v1 holds nothing and may be destroyed.
    await rewrap.waitFor({ state: 'detached', timeout: 30_000 });
    expect(await sealedTo()).toEqual({ 1: 0, 2: sealedV1 });
    expect(await released()).toBe(1);
    await page.getByRole('button', { name: 'Destroy v1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Destroy escrow key v1' });
    await expectText(dialog, 'cannot be undone');
    await dialog.getByRole('button', { name: 'Destroy v1' }).click();
    await expectText(page.getByTestId('escrow-key-v1'), /Destroyed/);
    await settle(page, 'escrow-key-rolled');
    const v1 = await gql<{ escrowKey: { wrappedPrivateKey: string | null; destroyedAt: string | null } }>(
      stack.app,
      stack.tenant.tenantId,
      '{ escrowKey(keyVersion: 1) { wrappedPrivateKey destroyedAt } }',
    );
    expect(v1.data!.escrowKey.wrappedPrivateKey).toBeNull();
    expect(v1.data!.escrowKey.destroyedAt).not.toBeNull();

    // The operator: v2's passphrase opens what was sealed to v1, the same values the machine holds.
    const operator = await signedIn('operator');
    await openMachine(operator);
    expect(await reveal(operator, 'Local admin password', ROLL_PASSPHRASE)).toBe(revealed.password);
    expect(await reveal(operator, 'BitLocker recovery password')).toBe(revealed.recovery);
    await expectText(operator.getByTestId('escrow-lock-status'), /Escrow key v2 unlocked/);

    const logged = consoleLines.join('\n');
    for (const s of [ROLL_PASSPHRASE, NEW_PASSPHRASE, revealed.password, revealed.recovery])
      expect(logged.includes(s)).toBe(false);
    for (const share of rollShares)
      expect(logged.includes(share.split('data: ')[1]!.slice(0, 20))).toBe(false);
    expect(await storageOf(page)).toBe('{}');
    expect({ roll: a11y['escrow-key-roll'], rolled: a11y['escrow-key-rolled'] }).toEqual({
      roll: [],
      rolled: [],
    });
  });
});

/** Everything the page's origin keeps in web storage (the portal keeps nothing there). */
const storageOf = (page: Page) =>
  page.evaluate(() => JSON.stringify({ ...window.localStorage, ...window.sessionStorage }));
