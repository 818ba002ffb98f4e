import {
  Alert,
  Button,
  Card,
  Code,
  Group,
  List,
  NumberInput,
  PasswordInput,
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
  splitTenantKey,
  wrapTenantKey,
} from '../../../infra/wire/escrow-envelope';
import { gql } from '../api';
import { EscrowLockStatus, passphraseStrength } from '../escrow/escrow-ui';
import { graphql } from '../gql';
import { ErrorNote, formatTime, Loading, PageTitle, useAction, useLoad, useSession } from '../ui';

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
  const { data, error, loading, reload } = useLoad(() => gql(EscrowKeyQuery), []);
  const [issued, setIssued] = useState<Issued | null>(null);
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
            void reload();
          }}
        />
      ) : key ? (
        <KeyCard keyInfo={key} />
      ) : (
        <SetupForm onIssued={setIssued} />
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
    <Stack maw={760}>
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
    </Stack>
  );
}

function SetupForm({ onIssued }: { onIssued: (issued: Issued) => void }) {
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
    const keyVersion = 1;
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
          Set up escrow
        </Title>
        <Text size="sm">
          This browser makes the key pair, wraps the private key under your passphrase and splits it into
          recovery shares. Choose a passphrase of several words; whoever reveals a secret will need it.
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
