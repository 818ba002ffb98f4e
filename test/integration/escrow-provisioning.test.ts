import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Harness } from '../../agent/harness/harness';
import { repoRoot } from '../../infra/config/env';
import {
  generateTenantKey,
  openEscrowSecret,
  unwrapTenantKey,
  wrapTenantKey,
  type TenantKey,
} from '../../infra/wire/escrow-envelope';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';
import { gql } from '../helpers/api';
import { databaseDump, filesUnder, historyText } from '../helpers/secret-scan';
import {
  enrolledFleet,
  fleetMachineRuns,
  saveProfile,
  startFleetRun,
  waitForFleet,
} from '../helpers/provisioning';

/**
 * Issue 16 end to end with the real stack and simulated machines: a security phase escrows each
 * machine's new local admin password before setting it; what a browser would do (unlock the
 * wrapped key with the passphrase, open the revealed envelope) gives the password the machine's
 * SAM holds; and no table, workflow history, agent task row, agent journal or log line holds a
 * plaintext password, the passphrase or the private key (acceptance 1, 2 and 4, in Node).
 */

jest.setTimeout(300_000);

const PASSPHRASE = 'Tenant escrow passphrase 2026!';
const ACCOUNT = 'DrydockAdmin';
let stack: AgentStack;
let fleet: Harness;
let key: TenantKey;
let wrapped: string;
const agentLogs: string[] = [];

beforeAll(async () => {
  stack = await startAgentStack({
    PROVISION_RETRY_BACKOFF_SECONDS: '1',
    PROVISION_OFFLINE_LIMIT_SECONDS: '120',
    PROVISION_FAILED_HOLD_SECONDS: '600',
  });
});
afterAll(async () => {
  await fleet?.stop();
  await stack?.close();
});

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('escrow in the security phase', () => {
  it('escrows each machine’s local admin and BitLocker recovery passwords before changing the machine; the browser’s decrypt gives what the machine holds; no plaintext anywhere', async () => {
    // The browser's part of setup: a key pair, wrapped under the passphrase; the server gets both halves' public forms.
    key = await generateTenantKey({ tenantId: stack.tenant.tenantId, keyVersion: 1 });
    wrapped = await wrapTenantKey(key, PASSPHRASE);
    const setup = await gql(
      stack.app,
      stack.tenant.tenantId,
      `mutation($i: SetupEscrowKeyInput!) { setupEscrowKey(input: $i) { keyVersion } }`,
      { i: { publicKey: key.publicKey, wrappedPrivateKey: wrapped, keyVersion: 1 } },
    );
    expect(setup.errors).toBeUndefined();

    fleet = await enrolledFleet(stack, 'escrow', 2, { log: (line) => agentLogs.push(line) });
    const profileId = await saveProfile(stack, 'Secure', {
      phases: {
        security: { enabled: true, localAdmin: { account: ACCOUNT, create: true }, bitlocker: {} },
        apps: { enabled: false },
        tweaks: { enabled: false },
        locale: { enabled: false },
        inventory: { enabled: false },
      },
    });
    const started = await startFleetRun(stack, { profileId, concurrency: 2, siteIds: [stack.tenant.siteId] });
    await waitForFleet(stack, started.id, (f) => f.status === 'completed');
    const runs = await fleetMachineRuns(stack, started.id);
    expect(runs.map((r) => [r.status, r.lastError])).toEqual(runs.map(() => ['passed', null]));

    const plaintexts: string[] = [];
    const unlocked = await unwrapTenantKey(wrapped, PASSPHRASE, { tenantId: stack.tenant.tenantId });
    for (const run of runs) {
      const listed = await gql<{
        escrowedSecrets: {
          id: string;
          kind: string;
          secretVersion: number;
          account: string | null;
          protectorId: string | null;
          confirmedAt: string | null;
        }[];
      }>(
        stack.app,
        stack.tenant.tenantId,
        `query($m: ID!) { escrowedSecrets(machineId: $m) { id kind secretVersion account protectorId confirmedAt } }`,
        { m: run.machineId },
      );
      const secrets = listed.data!.escrowedSecrets;
      expect(secrets).toHaveLength(2);
      expect(secrets.map((x) => [x.kind, x.secretVersion, x.confirmedAt !== null])).toEqual([
        ['BITLOCKER_RECOVERY_PASSWORD', 1, true],
        ['LOCAL_ADMIN_PASSWORD', 1, true],
      ]);
      const machine = fleet.machines.find((m) => m.agent.machineId === run.machineId)!;
      for (const secret of secrets) {
        const revealed = await gql<{
          revealSecret: { tenantId: string; machineId: string; secretVersion: number; envelope: string };
        }>(
          stack.app,
          stack.tenant.tenantId,
          `mutation($id: ID!) { revealSecret(id: $id) { tenantId machineId secretVersion envelope } }`,
          { id: secret.id },
        );
        const r = revealed.data!.revealSecret;
        const kind =
          secret.kind === 'LOCAL_ADMIN_PASSWORD' ? 'local-admin-password' : 'bitlocker-recovery-password';
        const value = await openEscrowSecret(
          unlocked,
          { machineId: r.machineId, kind, secretVersion: r.secretVersion },
          r.envelope,
        );
        plaintexts.push(value);
        if (kind === 'local-admin-password') {
          // The machine's SAM holds exactly this password (its hash: the simulated host never keeps text).
          expect(secret.account).toBe(ACCOUNT);
          expect(machine.platform.localPasswordHash(ACCOUNT)).toBe(sha256(value));
          expect(value).toMatch(/^.{24}$/);
        } else {
          // The volume's one recovery password is this one, and it was there before encryption began.
          expect(machine.platform.recoveryPasswordHashes()).toEqual([sha256(value)]);
          expect(value).toMatch(/^([0-9]{6}-){7}[0-9]{6}$/);
          const volume = await machine.platform.bitlockerVolume('C:');
          expect(volume).toMatchObject({ volumeStatus: 'FullyEncrypted', protectionStatus: 'On' });
          expect(volume.protectors.find((x) => x.type === 'RecoveryPassword')!.id).toBe(secret.protectorId);
        }
      }
    }
    expect(new Set(plaintexts).size).toBe(2 * runs.length);

    // Rotations and reveals are audit events.
    const audit = await gql<{ auditEvents: { action: string }[] }>(
      stack.app,
      stack.tenant.tenantId,
      `{ auditEvents(last: 200) { action } }`,
    );
    const actions = audit.data!.auditEvents.map((e) => e.action);
    expect(actions.filter((a) => a === 'escrow.rotated')).toHaveLength(2 * runs.length);
    expect(actions.filter((a) => a === 'escrow.reveal')).toHaveLength(2 * runs.length);

    if (process.env.DRYDOCK_RECORD_HISTORIES)
      writeFileSync(
        path.join(repoRoot, 'test', 'histories', 'provision-machine-escrow.json'),
        `${historyToJSON(await stack.temporal.workflow.getHandle(runs[0]!.workflowId).fetchHistory())}\n`,
      );
    // Acceptance 2: nothing holds a plaintext password, the passphrase or the private key.
    const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', key.keyPair.privateKey));
    const jwk = await crypto.subtle.exportKey('jwk', key.keyPair.privateKey);
    const forbidden = [
      ...plaintexts,
      PASSPHRASE,
      pkcs8.toString('base64'),
      pkcs8.toString('base64url'),
      jwk.d!,
      Buffer.from(jwk.d!, 'base64url').toString('base64'),
    ];
    const places: [string, string][] = [
      ['database', await databaseDump(stack)],
      ...(await Promise.all(
        runs.map(async (r): Promise<[string, string]> => [
          `history ${r.workflowId}`,
          await historyText(stack, r.workflowId),
        ]),
      )),
      ['machines’ disks', filesUnder(path.join(stack.stateDir, 'escrow'))],
      ['agent logs', agentLogs.join('\n')],
    ];
    for (const [place, text] of places) {
      expect(text.length).toBeGreaterThan(0);
      for (const secret of forbidden)
        if (text.includes(secret)) throw new Error(`a secret (${secret.slice(0, 3)}…) is in the ${place}`);
    }
    // The envelopes themselves are there (the check above is not vacuous): ciphertext only.
    expect((await databaseDump(stack)).match(/dde1\./g)?.length).toBeGreaterThanOrEqual(2 * runs.length);
  });
});
