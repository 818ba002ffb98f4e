import { createHash, randomInt } from 'node:crypto';
import { DEFAULT_LOCAL_ADMIN_PASSWORD_LENGTH, StepFailure, StepKind } from '../../infra/wire/agent-steps';
import { sealEscrowSecret } from '../../infra/wire/escrow-envelope';
import { StepError, type StepContext } from '../platform/platform';
import type { StepHandler } from './index';

/**
 * The security phase's escrow steps (issue 16, ADR 0044), escrow before change in two tasks:
 * `security.local-admin` makes a random password in this process's memory and returns it sealed
 * to the tenant key — nothing on the machine changes; the API checks and stores the envelope. Only
 * then `security.local-admin-apply` sets the password, and only if this process still holds the
 * one whose envelope the server stored (same version, same SHA-256). A restart in between loses
 * the password from memory: the apply step fails as EscrowPendingLost without changing anything,
 * and the workflow escrows a new version. So the account's password is always one the escrow
 * holds (or the one it had before Drydock). The plaintext lives only in memory: never journaled,
 * logged, or in a result.
 */

/** Passwords this agent process sealed and has not set yet, by account. Lost on restart (by design). */
export class PendingSecrets {
  private readonly held = new Map<string, { secretVersion: number; digest: string; secret: string }>();

  hold(slot: string, entry: { secretVersion: number; digest: string; secret: string }): void {
    this.held.set(slot, entry);
  }
  /** The secret sealed for this version whose envelope has this digest, or null. */
  get(slot: string, secretVersion: number, digest: string): string | null {
    const entry = this.held.get(slot);
    return entry && entry.secretVersion === secretVersion && entry.digest === digest ? entry.secret : null;
  }
  forget(slot: string): void {
    this.held.delete(slot);
  }
}

export const envelopeDigest = (envelope: string): string =>
  createHash('sha256').update(envelope, 'utf8').digest('hex');

// No look-alikes (0/O, 1/l/I) for a password someone may have to type from the portal.
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const DIGITS = '23456789';
const SYMBOLS = '!#%+-.:=?@_~';

/**
 * A random password with every character class Windows' complexity rule asks for (crypto-random,
 * uniform per position; the class guarantee costs under 2 bits at 24 characters).
 */
export function randomPassword(length = DEFAULT_LOCAL_ADMIN_PASSWORD_LENGTH): string {
  const all = UPPER + LOWER + DIGITS + SYMBOLS;
  const pick = (set: string) => set[randomInt(set.length)]!;
  const chars = [pick(UPPER), pick(LOWER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

const vaultOf = (ctx: StepContext): PendingSecrets => {
  if (!ctx.pendingSecrets)
    throw new StepError(StepFailure.EscrowPendingLost, 'this agent cannot hold an escrowed secret', false);
  return ctx.pendingSecrets;
};

/**
 * A BitLocker recovery password: 8 groups of 6 digits, each 11 × a random 16-bit number (so at most
 * 720885 and divisible by 11, its own check digit), as Win32_EncryptableVolume's
 * ProtectKeyWithNumericalPassword documents it: 128 random bits.
 */
export function randomRecoveryPassword(): string {
  return Array.from({ length: 8 }, () => String(11 * randomInt(65536)).padStart(6, '0')).join('-');
}

export const escrowSteps: {
  [StepKind.LocalAdminEscrow]: StepHandler<StepKind.LocalAdminEscrow>;
  [StepKind.LocalAdminApply]: StepHandler<StepKind.LocalAdminApply>;
  [StepKind.BitLockerEscrow]: StepHandler<StepKind.BitLockerEscrow>;
  [StepKind.BitLockerApply]: StepHandler<StepKind.BitLockerApply>;
} = {
  [StepKind.LocalAdminEscrow]: async (_platform, p, ctx) => {
    const vault = vaultOf(ctx);
    const secret = randomPassword(p.length ?? DEFAULT_LOCAL_ADMIN_PASSWORD_LENGTH);
    const envelope = await sealEscrowSecret(
      p.recipient,
      { machineId: p.machineId, kind: 'local-admin-password', secretVersion: p.secretVersion },
      secret,
    );
    vault.hold(`local-admin:${p.account.toLowerCase()}`, {
      secretVersion: p.secretVersion,
      digest: envelopeDigest(envelope),
      secret,
    });
    return { envelope, secretVersion: p.secretVersion };
  },
  [StepKind.LocalAdminApply]: async (platform, p, ctx) => {
    const vault = vaultOf(ctx);
    const slot = `local-admin:${p.account.toLowerCase()}`;
    const secret = vault.get(slot, p.secretVersion, p.envelopeDigest);
    if (secret === null)
      throw new StepError(
        StepFailure.EscrowPendingLost,
        `this agent does not hold the password escrowed as version ${p.secretVersion} (restarted since, or another envelope was stored); nothing was changed`,
        false,
      );
    await ctx.progress(50, `setting the password of ${p.account}`);
    const { created } = await platform.setLocalAdminPassword(p.account, secret, {
      create: p.create === true,
    });
    vault.forget(slot);
    return { account: p.account, secretVersion: p.secretVersion, created };
  },
  [StepKind.BitLockerEscrow]: async (_platform, p, ctx) => {
    const vault = vaultOf(ctx);
    const secret = randomRecoveryPassword();
    const envelope = await sealEscrowSecret(
      p.recipient,
      { machineId: p.machineId, kind: 'bitlocker-recovery-password', secretVersion: p.secretVersion },
      secret,
    );
    vault.hold(`bitlocker:${p.mountPoint}`, {
      secretVersion: p.secretVersion,
      digest: envelopeDigest(envelope),
      secret,
    });
    return { envelope, secretVersion: p.secretVersion };
  },
  [StepKind.BitLockerApply]: async (platform, p, ctx) => {
    const vault = vaultOf(ctx);
    const slot = `bitlocker:${p.mountPoint}`;
    const secret = vault.get(slot, p.secretVersion, p.envelopeDigest);
    if (secret === null)
      throw new StepError(
        StepFailure.EscrowPendingLost,
        `this agent does not hold the recovery password escrowed as version ${p.secretVersion} (restarted since, or another envelope was stored); nothing was changed`,
        false,
      );
    const before = await platform.bitlockerVolume(p.mountPoint);
    await ctx.progress(30, `adding the escrowed recovery password to ${p.mountPoint}`);
    const { protectorId } = await platform.addRecoveryPasswordProtector(p.mountPoint, secret);
    vault.forget(slot);
    // A rotation: the volume keeps only the recovery password escrow now holds (the new one is on it).
    const removed: string[] = [];
    for (const old of before.protectors)
      if (old.type === 'RecoveryPassword' && old.id.toLowerCase() !== protectorId.toLowerCase()) {
        await platform.removeKeyProtector(p.mountPoint, old.id);
        removed.push(old.id);
      }
    // Encryption starts only now, with its recovery password escrowed and on the volume; a volume
    // already encrypted (or encrypting) is never decrypted.
    let enabled = false;
    if (before.volumeStatus === 'FullyDecrypted') {
      await ctx.progress(60, `starting BitLocker on ${p.mountPoint} with the TPM`);
      await platform.enableBitLockerTpm(p.mountPoint, {
        encryptionMethod: p.encryptionMethod ?? 'XtsAes256',
        usedSpaceOnly: p.usedSpaceOnly ?? true,
      });
      enabled = true;
    }
    const after = await platform.bitlockerVolume(p.mountPoint);
    return {
      protectorId,
      removed,
      enabled,
      volumeStatus: after.volumeStatus,
      protectionStatus: after.protectionStatus,
      encryptionPercentage: after.encryptionPercentage,
    };
  },
};
