import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  Group,
  List,
  NumberInput,
  PasswordInput,
  Progress,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import {
  generateTenantKey,
  keyFingerprint,
  MAX_SHARES,
  MIN_PASSPHRASE_LENGTH,
  rewrapEscrowSecret,
  splitTenantKey,
  wrapTenantKey,
  type TenantKey,
} from '../../../infra/wire/escrow-envelope';
import { ApiError, gql } from '../api';
import { envelopeKind, EscrowLockStatus, passphraseStrength } from '../escrow/escrow-ui';
import { unlockedKeyFor } from '../escrow/unlocked-key';
import { openWrappedKey } from '../escrow/wrapped-key';
import { graphql } from '../gql';
import { DialogFor, ErrorNote, formatTime, Loading, PageTitle, useAction, useLoad, useSession } from '../ui';

export const EscrowKeyQuery = graphql(`
  query EscrowKeyStatus {
    escrowKey {
      keyVersion
      publicKey
      fingerprint
      kdfName
      kdfIterations
      createdBy
      createdAt
    }
  }
`);

const EscrowKeyVersions = graphql(`
  query EscrowKeyVersions {
    escrowKeys {
      keyVersion
      fingerprint
      createdBy
      createdAt
      retiredAt
      destroyedAt
      sealedSecrets
    }
  }
`);

const RewrapBatch = graphql(`
  mutation EscrowRewrapBatch($limit: Int) {
    escrowRewrapBatch(limit: $limit) {
      toKeyVersion
      remaining
      secrets {
        id
        machineId
        kind
        secretVersion
        keyVersion
        envelope
      }
    }
  }
`);

const SubmitRewrapped = graphql(`
  mutation SubmitRewrappedSecrets($input: SubmitRewrappedSecretsInput!) {
    submitRewrappedSecrets(input: $input) {
      stored
      remaining
      toKeyVersion
    }
  }
`);

const DestroyEscrowKey = graphql(`
  mutation DestroyEscrowKey($keyVersion: Int!) {
    destroyEscrowKey(keyVersion: $keyVersion) {
      keyVersion
      destroyedAt
    }
  }
`);

const SetupEscrowKey = graphql(`
  mutation SetupEscrowKey($input: SetupEscrowKeyInput!) {
    setupEscrowKey(input: $input) {
      keyVersion
      fingerprint
    }
  }
`);

/** Shares made at setup, each kept until its one download (then dropped from memory). */
interface Issued {
  keyVersion: number;
  fingerprint: string;
  threshold: number;
  shares: (string | null)[];
}

/**
 * Escrow (admin, issue 16): the tenant key is made, wrapped and split IN THIS BROWSER; the server
 * gets the public key and the wrapped blob, never the passphrase, the private key or a share.
 */
export function EscrowPage() {
  const { data, error, loading, reload } = useLoad(async () => {
    const [current, versions] = await Promise.all([gql(EscrowKeyQuery), gql(EscrowKeyVersions)]);
    return { ...current, ...versions };
  }, []);
  const [issued, setIssued] = useState<Issued | null>(null);
  const [rolling, setRolling] = useState(false);
  const pending = issued?.shares.some((s) => s !== null) ?? false;
  useEffect(() => {
    if (!pending) return;
    // Leaving with shares not downloaded loses them for good.
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [pending]);
  if (loading && !data) return <Loading label="Loading the escrow key" />;
  const key = data?.escrowKey ?? null;
  return (
    <>
      <PageTitle>Escrow</PageTitle>
      <ErrorNote error={error} />
      <Text size="sm" mb="md" maw={760}>
        Machines encrypt their local admin password and BitLocker recovery password to this tenant's escrow
        key. Its private key exists only wrapped under a passphrase that never leaves a browser, and as
        printed recovery shares: the server cannot read an escrowed secret.
      </Text>
      {issued ? (
        <SharesToDownload
          issued={issued}
          onDownloaded={(i) =>
            setIssued((s) => s && { ...s, shares: s.shares.map((x, j) => (j === i ? null : x)) })
          }
          onDone={() => {
            setIssued(null);
            setRolling(false);
            void reload();
          }}
        />
      ) : key ? (
        <Stack maw={760}>
          <KeyCard keyInfo={key} />
          {rolling && (
            <SetupForm
              keyVersion={key.keyVersion + 1}
              onIssued={setIssued}
              onCancel={() => setRolling(false)}
            />
          )}
          <KeyVersions
            versions={data?.escrowKeys ?? []}
            current={key}
            rolling={rolling}
            onRoll={() => setRolling(true)}
            onChanged={() => void reload()}
          />
          <RecoveryCard />
        </Stack>
      ) : (
        <SetupForm keyVersion={1} onIssued={setIssued} />
      )}
    </>
  );
}

function KeyCard({
  keyInfo,
}: {
  keyInfo: {
    keyVersion: number;
    fingerprint: string;
    kdfName: string;
    kdfIterations: number;
    createdBy: string;
    createdAt: string;
  };
}) {
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="xs">
        Tenant escrow key
      </Title>
      <Table data-testid="escrow-key">
        <Table.Tbody>
          <Row k="Version" v={`v${keyInfo.keyVersion}`} />
          <Row k="Fingerprint" v={<Code data-testid="escrow-fingerprint">{keyInfo.fingerprint}</Code>} />
          <Row
            k="Key derivation"
            v={`${keyInfo.kdfName}, ${keyInfo.kdfIterations.toLocaleString()} iterations`}
          />
          <Row k="Created" v={`${formatTime(keyInfo.createdAt)} by ${keyInfo.createdBy}`} />
        </Table.Tbody>
      </Table>
      <Text size="sm" c="dimmed" mt="xs">
        Every recovery share carries this fingerprint: compare it before you trust a share.
      </Text>
    </Card>
  );
}

function RecoveryCard() {
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="xs">
        Break-glass recovery
      </Title>
      <Text size="sm" mb="sm">
        Passphrase lost? Any quorum of the printed recovery shares restores the key in this browser, and you
        set a new passphrase.
      </Text>
      <EscrowLockStatus />
      <Group mt="sm">
        <Button component={Link} href="/settings/escrow/recovery" variant="default">
          Recover with shares
        </Button>
      </Group>
    </Card>
  );
}

type KeyVersion = {
  keyVersion: number;
  fingerprint: string;
  createdBy: string;
  createdAt: string;
  retiredAt?: string | null;
  destroyedAt?: string | null;
  sealedSecrets: number;
};

/**
 * Every key version with the secrets still sealed to it (ADR 0044, "Key roll"): an admin rolls to a
 * new key here, re-wraps what is sealed to older ones (below), then destroys an old one that nothing
 * depends on any more.
 */
function KeyVersions({
  versions,
  current,
  rolling,
  onRoll,
  onChanged,
}: {
  versions: KeyVersion[];
  current: { keyVersion: number; publicKey: string };
  rolling: boolean;
  onRoll: () => void;
  onChanged: () => void;
}) {
  const admin = useSession().role === 'admin';
  const [destroying, setDestroying] = useState<KeyVersion | null>(null);
  const destroy = useAction(async (keyVersion: number) => {
    await gql(DestroyEscrowKey, { keyVersion });
    setDestroying(null);
    onChanged();
  });
  const waiting = versions.filter(
    (v) => v.keyVersion !== current.keyVersion && !v.destroyedAt && v.sealedSecrets > 0,
  );
  return (
    <>
      <Card withBorder data-testid="escrow-key-versions">
        <Group justify="space-between" mb="xs">
          <Title order={2} size="h4">
            Key versions
          </Title>
          {admin && !rolling && (
            <Button variant="default" onClick={onRoll}>
              Roll to a new key
            </Button>
          )}
        </Group>
        <Text size="sm" mb="xs">
          Rolling makes a new key in this browser with its own passphrase and recovery shares; machines escrow
          to it from then on. What was escrowed before stays sealed to the old key until it is re-wrapped
          here; then the old key can be destroyed.
        </Text>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Version</Table.Th>
              <Table.Th>Fingerprint</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Secrets sealed to it</Table.Th>
              {admin && <Table.Th>Action</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {versions.map((v) => (
              <Table.Tr key={v.keyVersion} data-testid={`escrow-key-v${v.keyVersion}`}>
                <Table.Td>v{v.keyVersion}</Table.Td>
                <Table.Td>
                  <Code>{v.fingerprint}</Code>
                </Table.Td>
                <Table.Td>
                  {v.destroyedAt ? (
                    <Text size="sm">Destroyed {formatTime(v.destroyedAt)}</Text>
                  ) : v.retiredAt ? (
                    <Text size="sm">Retired {formatTime(v.retiredAt)}</Text>
                  ) : (
                    <Badge color="#1e6b30" variant="filled">
                      Current
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>{v.sealedSecrets}</Table.Td>
                {admin && (
                  <Table.Td>
                    {v.retiredAt && !v.destroyedAt && v.sealedSecrets === 0 && (
                      <Button
                        size="xs"
                        variant="default"
                        onClick={() => {
                          destroy.setError(null);
                          setDestroying(v);
                        }}
                      >
                        Destroy v{v.keyVersion}
                      </Button>
                    )}
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <DialogFor
          of={destroying}
          title={(v) => `Destroy escrow key v${v.keyVersion}`}
          onClose={() => setDestroying(null)}
        >
          {(v) => (
            <Stack>
              <ErrorNote error={destroy.error} title="Not destroyed" />
              <Text size="sm">
                Its wrapped private key is deleted from the server: its passphrase and its recovery shares
                then open nothing Drydock hands out. Its public half and fingerprint stay on record. This
                cannot be undone.
              </Text>
              <Group justify="flex-end">
                <Button variant="default" onClick={() => setDestroying(null)}>
                  Keep it
                </Button>
                <Button color="#a61e1e" loading={destroy.busy} onClick={() => void destroy.run(v.keyVersion)}>
                  Destroy v{v.keyVersion}
                </Button>
              </Group>
            </Stack>
          )}
        </DialogFor>
      </Card>
      {waiting.length > 0 && admin && <Rewrap waiting={waiting} current={current} onDone={onChanged} />}
    </>
  );
}

/**
 * Re-wraps every secret still sealed to an older key to the current one, IN THIS BROWSER: each old
 * key is unlocked here (its passphrase, or as this tab holds it), the server releases the
 * ciphertexts in audited batches, each is opened and sealed to the current key's public half, and
 * the server checks every envelope against its secret before it stores it. No value and no private
 * key leaves the page; the old keys are forgotten when it ends.
 */
function Rewrap({
  waiting,
  current,
  onDone,
}: {
  waiting: KeyVersion[];
  current: { keyVersion: number; publicKey: string };
  onDone: () => void;
}) {
  const session = useSession();
  const tenantId = session.tenant.id;
  const total = waiting.reduce((n, v) => n + v.sealedSecrets, 0);
  const [passphrases, setPassphrases] = useState<Record<number, string>>({});
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const locked = waiting.filter((v) => !unlockedKeyFor(tenantId, v.keyVersion));
  const rewrap = useAction(async () => {
    const keys = new Map<number, TenantKey>();
    for (const v of waiting) {
      const unlocked = unlockedKeyFor(tenantId, v.keyVersion);
      if (unlocked) {
        keys.set(v.keyVersion, unlocked);
        continue;
      }
      keys.set(v.keyVersion, await openWrappedKey(tenantId, v.keyVersion, passphrases[v.keyVersion] ?? ''));
    }
    setPassphrases({});
    const to = { tenantId, keyVersion: current.keyVersion, publicKey: current.publicKey };
    let done = 0;
    setProgress({ done, total });
    const submitted = new Set<string>();
    for (;;) {
      const batch = (await gql(RewrapBatch, { limit: 50 })).escrowRewrapBatch;
      if (batch.toKeyVersion !== to.keyVersion)
        throw new ApiError(
          'ESCROW_KEY_CHANGED',
          'the escrow key was rolled again meanwhile: reload the page',
        );
      if (batch.secrets.length === 0) break;
      // A secret released again after it was stored: stop rather than release the same batch for ever.
      if (batch.secrets.some((s) => submitted.has(s.id)))
        throw new ApiError(
          'ESCROW_REWRAP_STUCK',
          'the server released a secret this page already re-wrapped: reload the page and try again',
        );
      const secrets = [];
      for (const s of batch.secrets) {
        const from = keys.get(s.keyVersion);
        if (!from)
          throw new ApiError(
            'ESCROW_KEY_LOCKED',
            `a secret is sealed to key v${s.keyVersion}, which this page did not unlock: reload the page`,
          );
        const record = { machineId: s.machineId, kind: envelopeKind(s.kind), secretVersion: s.secretVersion };
        secrets.push({ id: s.id, envelope: await rewrapEscrowSecret(from, to, record, s.envelope) });
      }
      const stored = (await gql(SubmitRewrapped, { input: { secrets } })).submitRewrappedSecrets;
      for (const s of secrets) submitted.add(s.id);
      done += secrets.length;
      setProgress({ done, total: Math.max(total, done + stored.remaining) });
      if (stored.remaining === 0) break;
    }
    onDone();
  });
  const missing = locked.some((v) => !passphrases[v.keyVersion]);
  return (
    <Card withBorder data-testid="escrow-rewrap">
      <Title order={2} size="h4" mb="xs">
        Re-wrap to v{current.keyVersion}
      </Title>
      <Text size="sm" mb="xs">
        {total} {total === 1 ? 'secret is' : 'secrets are'} still sealed to{' '}
        {waiting.map((v) => `v${v.keyVersion}`).join(', ')}: revealing one asks for that key’s passphrase, and
        the key cannot be destroyed. This browser opens each with the old key and seals it to v
        {current.keyVersion}; the server checks every envelope and never sees a value. The release is audited,
        naming every secret.
      </Text>
      {!session.canRevealSecrets ? (
        <Text size="sm">Re-wrapping needs an admin with the reveal-secrets permission.</Text>
      ) : (
        <Stack>
          {locked.map((v) => (
            <PasswordInput
              key={v.keyVersion}
              label={`Passphrase of key v${v.keyVersion}`}
              value={passphrases[v.keyVersion] ?? ''}
              onChange={(e) => {
                const value = e.currentTarget.value;
                setPassphrases((p) => ({ ...p, [v.keyVersion]: value }));
              }}
              autoComplete="off"
            />
          ))}
          <ErrorNote error={rewrap.error} title="Not re-wrapped" />
          {progress && (
            <>
              <Progress value={(100 * progress.done) / Math.max(progress.total, 1)} aria-label="Re-wrapped" />
              <Text size="sm" data-testid="rewrap-progress" role="status">
                Re-wrapped {progress.done} of {progress.total}
              </Text>
            </>
          )}
          <Group justify="flex-end">
            <Button loading={rewrap.busy} disabled={missing} onClick={() => void rewrap.run()}>
              Re-wrap {total} {total === 1 ? 'secret' : 'secrets'} to v{current.keyVersion}
            </Button>
          </Group>
        </Stack>
      )}
    </Card>
  );
}

/** Version 1 (escrow set up), or the next version (a key roll): the same making of a key in this browser. */
function SetupForm({
  keyVersion,
  onIssued,
  onCancel,
}: {
  keyVersion: number;
  onIssued: (issued: Issued) => void;
  onCancel?: () => void;
}) {
  const session = useSession();
  const [passphrase, setPassphrase] = useState('');
  const [repeat, setRepeat] = useState('');
  const [threshold, setThreshold] = useState<number | string>(3);
  const [shares, setShares] = useState<number | string>(5);
  const m = Number(threshold);
  const n = Number(shares);
  const strength = passphraseStrength(passphrase);
  const problems = [
    [...passphrase].length < MIN_PASSPHRASE_LENGTH &&
      `the passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`,
    repeat !== passphrase && 'the two passphrases differ',
    !(Number.isInteger(n) && n >= 2 && n <= MAX_SHARES) && `print 2 to ${MAX_SHARES} shares`,
    !(Number.isInteger(m) && m >= 2 && m <= n) &&
      'the shares needed must be at least 2 and at most the shares printed',
  ].filter((p): p is string => typeof p === 'string');
  const setup = useAction(async () => {
    const key = await generateTenantKey({ tenantId: session.tenant.id, keyVersion });
    const wrappedPrivateKey = await wrapTenantKey(key, passphrase);
    const texts = await splitTenantKey(key, { threshold: m, shares: n });
    const fingerprint = await keyFingerprint(key.publicKey);
    const res = await gql(SetupEscrowKey, {
      input: { publicKey: key.publicKey, wrappedPrivateKey, keyVersion },
    });
    setPassphrase('');
    setRepeat('');
    onIssued({ keyVersion: res.setupEscrowKey.keyVersion, fingerprint, threshold: m, shares: texts });
  });
  return (
    <Card withBorder maw={760}>
      <Stack>
        <Title order={2} size="h4">
          {keyVersion === 1 ? 'Set up escrow' : `Roll to key v${keyVersion}`}
        </Title>
        <Text size="sm">
          This browser makes the key pair, wraps the private key under your passphrase and splits it into
          recovery shares. Choose a passphrase of several words; whoever reveals a secret will need it.
          {keyVersion > 1 &&
            ` Machines escrow to v${keyVersion} from then on; the shares and passphrase of v${keyVersion - 1} keep opening what is sealed to it until you re-wrap that below.`}
        </Text>
        <PasswordInput
          label="Passphrase"
          description={`At least ${MIN_PASSPHRASE_LENGTH} characters`}
          value={passphrase}
          onChange={(e) => setPassphrase(e.currentTarget.value)}
          autoComplete="new-password"
          required
        />
        {passphrase && (
          <Text size="sm" c={strength.color} data-testid="passphrase-strength">
            Strength: {strength.label}
          </Text>
        )}
        <PasswordInput
          label="Repeat the passphrase"
          value={repeat}
          onChange={(e) => setRepeat(e.currentTarget.value)}
          autoComplete="new-password"
          required
        />
        <Group grow>
          <NumberInput
            label="Shares needed to recover (M)"
            min={2}
            max={MAX_SHARES}
            value={threshold}
            onChange={setThreshold}
          />
          <NumberInput
            label="Shares printed (N)"
            min={2}
            max={MAX_SHARES}
            value={shares}
            onChange={setShares}
          />
        </Group>
        {(passphrase || repeat) && problems.length > 0 && (
          <List size="sm" c="red.9" data-testid="setup-problems">
            {problems.map((p) => (
              <List.Item key={p}>{p}</List.Item>
            ))}
          </List>
        )}
        <ErrorNote error={setup.error} />
        <Group justify="flex-end">
          {onCancel && (
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          )}
          <Button loading={setup.busy} disabled={problems.length > 0} onClick={() => void setup.run()}>
            Generate the key in this browser
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

const shareInstructions = (threshold: number, total: number) =>
  [
    '',
    '-----------------------------------------------------------------------------',
    '- Drydock break-glass recovery share. Print it, then delete this file.',
    `- Any ${threshold} of the ${total} shares restore the tenant escrow key when the passphrase is lost.`,
    '- Keep each share with a different trusted person or in a different safe; never two together.',
    '- To recover, an admin opens the portal, Settings, Escrow, Recover with shares, and types or',
    '  uploads the shares. Each share is checked against its checksum before anything is combined.',
    '- Check that the key fingerprint printed above matches the one the portal shows.',
    '',
  ].join('\n');

function SharesToDownload({
  issued,
  onDownloaded,
  onDone,
}: {
  issued: Issued;
  onDownloaded: (index: number) => void;
  onDone: () => void;
}) {
  const total = issued.shares.length;
  const left = issued.shares.filter((s) => s !== null).length;
  const download = (i: number) => {
    const text = issued.shares[i];
    if (!text) return;
    const blob = new Blob([text, shareInstructions(issued.threshold, total)], { type: 'text/plain' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `drydock-recovery-share-${i + 1}-of-${total}-${issued.fingerprint}.txt`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    onDownloaded(i);
  };
  return (
    <Card withBorder maw={760} data-testid="escrow-shares">
      <Stack>
        <Title order={2} size="h4">
          Escrow key v{issued.keyVersion} is set up
        </Title>
        <Text size="sm">
          Fingerprint <Code data-testid="escrow-fingerprint">{issued.fingerprint}</Code>. Download each
          recovery share once and print it; any {issued.threshold} of the {total} restore the key if the
          passphrase is lost. A share is dropped from this page as soon as it is downloaded.
        </Text>
        {left > 0 && (
          <Alert color="orange" title="Shares not yet downloaded" data-testid="shares-pending">
            {left} of {total} shares are only in this page: leaving it loses them.
          </Alert>
        )}
        <Group>
          {issued.shares.map((s, i) => (
            <Button key={i} variant={s ? 'filled' : 'default'} disabled={!s} onClick={() => download(i)}>
              {s ? `Download share ${i + 1} of ${total}` : `Share ${i + 1} downloaded`}
            </Button>
          ))}
        </Group>
        <Group justify="flex-end">
          <Button variant="default" disabled={left > 0} onClick={onDone}>
            Done
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

function Row({ k, v }: { k: string; v: React.ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={160} scope="row">
        {k}
      </Table.Th>
      <Table.Td style={{ wordBreak: 'break-all' }}>{v}</Table.Td>
    </Table.Tr>
  );
}
