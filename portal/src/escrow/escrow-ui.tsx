import { Badge, Button, Group, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { MIN_PASSPHRASE_LENGTH } from '../../../infra/wire/escrow-envelope';
import { lockKey, useUnlockedKey } from './unlocked-key';

/** GraphQL's EscrowKind as the envelope module names it (the envelope's associated data). */
export const envelopeKind = (kind: 'LOCAL_ADMIN_PASSWORD' | 'BITLOCKER_RECOVERY_PASSWORD') =>
  kind === 'LOCAL_ADMIN_PASSWORD'
    ? ('local-admin-password' as const)
    : ('bitlocker-recovery-password' as const);

export const kindLabel = (kind: string) =>
  kind === 'LOCAL_ADMIN_PASSWORD' ? 'Local admin password' : 'BitLocker recovery password';

/**
 * A rough strength hint (length and character variety), not a gate: the gate is the module's
 * minimum length. A passphrase of several words is the advice.
 */
export function passphraseStrength(passphrase: string): { label: string; color: string } {
  const length = [...passphrase].length;
  if (length < MIN_PASSPHRASE_LENGTH)
    return { label: `too short: at least ${MIN_PASSPHRASE_LENGTH} characters`, color: 'red.9' };
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(passphrase)).length;
  const words = passphrase.trim().split(/\s+/).length;
  const score = length + 4 * classes + 3 * Math.min(words, 5);
  if (score >= 44) return { label: 'strong', color: '#1e6b30' };
  if (score >= 30) return { label: 'fair: longer or a few more words would be better', color: '#7a5200' };
  return { label: 'weak: use a longer phrase of several words', color: '#9c3600' };
}

/** "Escrow key v1 unlocked until 10:42:07" with "Lock now", or "locked". Ticks while unlocked. */
export function EscrowLockStatus() {
  const unlocked = useUnlockedKey();
  const [, tick] = useState(0);
  useEffect(() => {
    if (!unlocked) return;
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [unlocked]);
  const live = unlocked && unlocked.until > Date.now();
  return (
    <Group gap="xs" data-testid="escrow-lock">
      {live ? (
        <>
          <Badge color="#9c3600" variant="filled">
            Unlocked
          </Badge>
          <Text size="sm" data-testid="escrow-lock-status">
            Escrow key v{unlocked.key.keyVersion} unlocked
            {unlocked.via === 'recovery' ? ' from recovery shares' : ''} until{' '}
            {new Date(unlocked.until).toLocaleTimeString()}
          </Text>
          <Button size="xs" variant="default" onClick={lockKey}>
            Lock now
          </Button>
        </>
      ) : (
        <>
          <Badge color="gray.8" variant="filled">
            Locked
          </Badge>
          <Text size="sm" data-testid="escrow-lock-status">
            Escrow key locked: a reveal asks for the passphrase
          </Text>
        </>
      )}
    </Group>
  );
}
