import {
  Badge,
  Button,
  Card,
  Code,
  CopyButton,
  Group,
  Modal,
  PasswordInput,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useEffect, useState } from 'react';
import { openEscrowSecret, type TenantKey } from '../../../infra/wire/escrow-envelope';
import { ApiError, gql, roleAtLeast } from '../api';
import { envelopeKind, EscrowLockStatus, kindLabel } from '../escrow/escrow-ui';
import { unlockedKeyFor, unlockKey, UNLOCK_MINUTES, useUnlockedKey } from '../escrow/unlocked-key';
import { openWrappedKey } from '../escrow/wrapped-key';
import { graphql } from '../gql';
import { SecretRotation } from './SecretRotation';
import { Empty, ErrorNote, formatTime, useAction, useLoad, useSession } from '../ui';

/** How long a revealed value stays on screen. */
export const REVEAL_SHOWN_SECONDS = 60;

const SecretsQuery = graphql(`
  query EscrowedSecrets($machineId: ID!) {
    escrowedSecrets(machineId: $machineId) {
      id
      kind
      secretVersion
      keyVersion
      account
      protectorId
      createdAt
      confirmedAt
      reveals {
        actor
        at
      }
    }
  }
`);

const Reveal = graphql(`
  mutation RevealSecret($id: ID!) {
    revealSecret(id: $id) {
      id
      tenantId
      machineId
      kind
      secretVersion
      keyVersion
      envelope
    }
  }
`);

type Secret = {
  id: string;
  kind: 'LOCAL_ADMIN_PASSWORD' | 'BITLOCKER_RECOVERY_PASSWORD';
  secretVersion: number;
  keyVersion: number;
};

/**
 * A machine's escrowed secrets (never their values) and, for reveal-secrets holders, the reveal:
 * the tenant key is unlocked in this tab (passphrase once, non-extractable, expiring), ONE
 * ciphertext is fetched per reveal (audited by the API first) and opened here. The value is shown
 * for a minute, in React state only.
 */
export function MachineSecrets({ machineId, hostname }: { machineId: string; hostname: string }) {
  const session = useSession();
  const { data, error, reload } = useLoad(() => gql(SecretsQuery, { machineId }), [machineId]);
  const canReveal = session.canRevealSecrets && roleAtLeast(session.role, 'operator');
  const canRotate = roleAtLeast(session.role, 'operator');
  useUnlockedKey(); // re-render on lock / unlock
  const [asking, setAsking] = useState<Secret | null>(null);
  const [passphrase, setPassphrase] = useState('');
  const [shown, setShown] = useState<{ secret: Secret; value: string } | null>(null);
  useEffect(() => {
    if (!shown) return;
    const t = setTimeout(() => setShown(null), REVEAL_SHOWN_SECONDS * 1000);
    return () => clearTimeout(t);
  }, [shown]);

  const open = async (secret: Secret, key: TenantKey) => {
    const res = (await gql(Reveal, { id: secret.id }).catch(withRetryAfter)).revealSecret;
    const value = await openEscrowSecret(
      key,
      { machineId: res.machineId, kind: envelopeKind(res.kind), secretVersion: res.secretVersion },
      res.envelope,
    );
    setShown({ secret, value });
    void reload();
  };
  const reveal = useAction(async (secret: Secret) => {
    setShown(null);
    const key = unlockedKeyFor(session.tenant.id, secret.keyVersion);
    if (key) return open(secret, key);
    setAsking(secret);
  });
  const unlock = useAction(async () => {
    const secret = asking;
    if (!secret) return;
    const key = await openWrappedKey(session.tenant.id, secret.keyVersion, passphrase);
    unlockKey(key, 'passphrase');
    setPassphrase('');
    setAsking(null);
    await open(secret, key);
  });

  const secrets = data?.escrowedSecrets ?? [];
  const hasBitLocker = secrets.some((s) => s.kind === 'BITLOCKER_RECOVERY_PASSWORD');
  const hasLocalAdmin = secrets.some((s) => s.kind === 'LOCAL_ADMIN_PASSWORD');
  return (
    <Card withBorder mt="md" data-testid="escrowed-secrets">
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4">
          Escrowed secrets
        </Title>
        {canReveal && <EscrowLockStatus />}
      </Group>
      {canRotate && (hasLocalAdmin || hasBitLocker) && (
        <Group mb="xs">
          {hasLocalAdmin && <SecretRotation machineId={machineId} hostname={hostname} kind="local-admin" />}
          {hasBitLocker && <SecretRotation machineId={machineId} hostname={hostname} kind="bitlocker" />}
        </Group>
      )}
      <ErrorNote error={error ?? reveal.error ?? (asking ? null : unlock.error)} title="Reveal refused" />
      {shown && (
        <Card withBorder bg="yellow.0" my="sm" data-testid="revealed">
          <Text size="sm" fw={600}>
            {kindLabel(shown.secret.kind)} v{shown.secret.secretVersion} (hidden again after{' '}
            {REVEAL_SHOWN_SECONDS} s)
          </Text>
          <Group mt={4}>
            <Code fz="lg" data-testid="revealed-value" style={{ fontFamily: 'monospace' }}>
              {shown.value}
            </Code>
            <CopyButton value={shown.value}>
              {({ copied, copy }) => (
                <Button size="xs" variant="default" onClick={copy}>
                  {copied ? 'Copied' : 'Copy'}
                </Button>
              )}
            </CopyButton>
            <Button size="xs" variant="default" onClick={() => setShown(null)}>
              Hide
            </Button>
          </Group>
        </Card>
      )}
      {secrets.length === 0 ? (
        <Empty title="Nothing escrowed">
          A run whose profile has a security phase escrows this machine's local admin password and BitLocker
          recovery password.
        </Empty>
      ) : (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Secret</Table.Th>
              <Table.Th>Version</Table.Th>
              <Table.Th>Key</Table.Th>
              <Table.Th>Account / protector</Table.Th>
              <Table.Th>Escrowed</Table.Th>
              <Table.Th>Confirmed</Table.Th>
              <Table.Th>Revealed</Table.Th>
              {canReveal && <Table.Th>Reveal</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {secrets.map((s) => (
              <Table.Tr key={s.id} data-testid={`secret-${s.kind}-${s.secretVersion}`}>
                <Table.Td>{kindLabel(s.kind)}</Table.Td>
                <Table.Td>v{s.secretVersion}</Table.Td>
                <Table.Td>v{s.keyVersion}</Table.Td>
                <Table.Td>
                  <Text size="sm" ff="monospace">
                    {s.account ?? s.protectorId ?? '—'}
                  </Text>
                </Table.Td>
                <Table.Td>{formatTime(s.createdAt)}</Table.Td>
                <Table.Td>
                  {s.confirmedAt ? (
                    formatTime(s.confirmedAt)
                  ) : (
                    <Badge color="gray.8" variant="filled">
                      unconfirmed
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td data-testid="reveals">
                  {s.reveals.length === 0
                    ? 'never'
                    : s.reveals.map((r) => `${r.actor.replace(/^user:/, '')} ${formatTime(r.at)}`).join('; ')}
                </Table.Td>
                {canReveal && (
                  <Table.Td>
                    <Button
                      size="xs"
                      variant="outline"
                      loading={(reveal.busy || unlock.busy) && asking?.id === s.id}
                      aria-label={`Reveal ${kindLabel(s.kind)} v${s.secretVersion}`}
                      onClick={() => void reveal.run(s)}
                    >
                      Reveal
                    </Button>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Modal
        closeButtonProps={{ 'aria-label': 'Close' }}
        opened={asking !== null}
        onClose={() => {
          setAsking(null);
          setPassphrase('');
          unlock.setError(null);
        }}
        title="Unlock the escrow key"
      >
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void unlock.run();
          }}
        >
          <Stack>
            <Text size="sm">
              The passphrase unlocks escrow key v{asking?.keyVersion} in this tab for {UNLOCK_MINUTES}{' '}
              minutes; it never leaves the browser.
            </Text>
            <PasswordInput
              label="Escrow passphrase"
              value={passphrase}
              onChange={(e) => setPassphrase(e.currentTarget.value)}
              autoComplete="off"
              data-autofocus
            />
            <ErrorNote error={unlock.error} title="Not unlocked" />
            <Group justify="flex-end">
              <Button type="submit" loading={unlock.busy}>
                Unlock and reveal
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </Card>
  );
}

/** REVEAL_RATE_LIMITED says when to try again (its `retryAfterSeconds`): in the sentence shown. */
function withRetryAfter(err: unknown): never {
  const seconds = err instanceof ApiError ? err.details.retryAfterSeconds : undefined;
  if (err instanceof ApiError && typeof seconds === 'number')
    throw new ApiError(err.code, `${err.message} (retry in ${seconds} s)`, err.details);
  throw err;
}
