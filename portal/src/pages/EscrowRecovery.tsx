import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  FileButton,
  Group,
  PasswordInput,
  Stack,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { Link } from 'wouter';
import {
  EscrowError,
  MIN_PASSPHRASE_LENGTH,
  parseRecoveryShare,
  recoverTenantKey,
  unwrapTenantKey,
  wrapTenantKey,
  type RecoveryShare,
  type TenantKey,
} from '../../../infra/wire/escrow-envelope';
import { gql } from '../api';
import { EscrowLockStatus, passphraseStrength } from '../escrow/escrow-ui';
import { unlockKey } from '../escrow/unlocked-key';
import { graphql } from '../gql';
import { asApiError, ErrorNote, Loading, PageTitle, useAction, useLoad, useSession } from '../ui';

const KeyVersionQuery = graphql(`
  query EscrowKeyForRecovery($keyVersion: Int) {
    escrowKey(keyVersion: $keyVersion) {
      keyVersion
      publicKey
      fingerprint
      retiredAt
    }
  }
`);

const ReplaceWrapped = graphql(`
  mutation ReplaceWrappedEscrowKey($keyVersion: Int!, $wrappedPrivateKey: String!) {
    replaceWrappedEscrowKey(keyVersion: $keyVersion, wrappedPrivateKey: $wrappedPrivateKey) {
      keyVersion
      fingerprint
    }
  }
`);

type Parsed = { ok: true; share: RecoveryShare } | { ok: false; error: unknown } | null;

/**
 * Break-glass recovery (admin, issue 16): M printed shares restore the tenant key IN THIS BROWSER
 * (checked against the tenant's stored public key), the admin sets a new passphrase, and the
 * browser stores the key re-wrapped under it. The server never sees a share or the key. The
 * restored key also unlocks this tab at once, so secrets can be revealed before anything else.
 */
export function EscrowRecoveryPage() {
  const session = useSession();
  const current = useLoad(() => gql(KeyVersionQuery, { keyVersion: null }), []);
  const [texts, setTexts] = useState<string[]>(['']);
  const [parsed, setParsed] = useState<Parsed[]>([null]);
  const [recovered, setRecovered] = useState<{ keyVersion: number; fingerprint: string } | null>(null);
  // The extractable key lives only between recovery and its re-wrap (a ref: never rendered).
  const extractable = useRef<TenantKey | null>(null);
  const [newPass, setNewPass] = useState('');
  const [repeat, setRepeat] = useState('');
  const [stored, setStored] = useState<{ keyVersion: number; fingerprint: string } | null>(null);

  // Each share is parsed as it is entered: a mistyped share is named by its number before combining.
  useEffect(() => {
    let stale = false;
    void Promise.all(
      texts.map(async (t): Promise<Parsed> => {
        if (!t.trim()) return null;
        try {
          return { ok: true, share: await parseRecoveryShare(t) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    ).then((p) => !stale && setParsed(p));
    return () => {
      stale = true;
    };
  }, [texts]);

  const good = parsed.flatMap((p) => (p?.ok ? [p.share] : []));
  const threshold = good[0]?.threshold;

  const recover = useAction(async () => {
    const entered = texts.filter((t) => t.trim());
    const key = await recoverTenantKey(entered);
    if (key.tenantId !== session.tenant.id)
      throw new EscrowError('ESCROW_SHARE_MISMATCH', 'these shares restore another tenant’s key');
    // The shares say which key they restore; the server says which public key that version has.
    const res = await gql(KeyVersionQuery, { keyVersion: key.keyVersion });
    if (!res.escrowKey || res.escrowKey.publicKey !== key.publicKey)
      throw new EscrowError(
        'ESCROW_RECOVERY_FAILED',
        `the restored key is not this tenant's escrow key version ${key.keyVersion}`,
      );
    extractable.current = key;
    // The same key, non-extractable, unlocks this tab for reveals straight away.
    unlockKey(await recoverTenantKey(entered, { extractable: false }), 'recovery');
    setTexts(['']); // the shares are no longer needed in the page
    setRecovered({ keyVersion: key.keyVersion, fingerprint: res.escrowKey.fingerprint });
  });

  const strength = passphraseStrength(newPass);
  const passProblem =
    [...newPass].length < MIN_PASSPHRASE_LENGTH
      ? `the passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`
      : newPass !== repeat
        ? 'the two passphrases differ'
        : null;
  const rewrap = useAction(async () => {
    const key = extractable.current;
    if (!key || !recovered) return;
    const blob = await wrapTenantKey(key, newPass);
    // Proof before storing: the new blob opens with the new passphrase (a damaged blob would lock everyone out).
    const check = await unwrapTenantKey(blob, newPass, {
      tenantId: session.tenant.id,
      keyVersion: recovered.keyVersion,
    });
    const res = await gql(ReplaceWrapped, { keyVersion: recovered.keyVersion, wrappedPrivateKey: blob });
    extractable.current = null;
    unlockKey(check, 'recovery');
    setNewPass('');
    setRepeat('');
    setStored(res.replaceWrappedEscrowKey);
  });

  if (current.loading && !current.data) return <Loading label="Loading the escrow key" />;
  const readFiles = async (files: File[]) => {
    const read = await Promise.all(files.map((f) => f.text()));
    setTexts((t) => [...t.filter((x) => x.trim()), ...read, ''].slice(0, 11));
  };
  return (
    <>
      <PageTitle>Break-glass recovery</PageTitle>
      <ErrorNote error={current.error} />
      <Stack maw={820}>
        <Text size="sm">
          The tenant key is restored in this browser from the printed recovery shares; no share leaves this
          page. Current key:{' '}
          {current.data?.escrowKey ? (
            <>
              v{current.data.escrowKey.keyVersion}, fingerprint{' '}
              <Code>{current.data.escrowKey.fingerprint}</Code>
            </>
          ) : (
            'none (set escrow up first)'
          )}
          . <Link href="/settings/escrow">Back to Escrow</Link>
        </Text>
        <EscrowLockStatus />
        {stored ? (
          <Alert color="green" title="New passphrase stored" data-testid="recovery-done">
            Escrow key v{stored.keyVersion} ({stored.fingerprint}) is wrapped under the new passphrase; the
            old one no longer unlocks it. This tab stays unlocked for reveals until the time shown above.
          </Alert>
        ) : recovered ? (
          <Card withBorder data-testid="recovered">
            <Stack>
              <Title order={2} size="h4">
                Key v{recovered.keyVersion} restored ({recovered.fingerprint})
              </Title>
              <Text size="sm">
                Set a new passphrase: this browser wraps the restored key under it and stores the result.
              </Text>
              <PasswordInput
                label="New passphrase"
                value={newPass}
                onChange={(e) => setNewPass(e.currentTarget.value)}
                autoComplete="new-password"
              />
              {newPass && (
                <Text size="sm" c={strength.color}>
                  Strength: {strength.label}
                </Text>
              )}
              <PasswordInput
                label="Repeat the new passphrase"
                value={repeat}
                onChange={(e) => setRepeat(e.currentTarget.value)}
                autoComplete="new-password"
              />
              {newPass && passProblem && (
                <Text size="sm" c="red.9">
                  {passProblem}
                </Text>
              )}
              <ErrorNote error={rewrap.error} />
              <Group justify="flex-end">
                <Button loading={rewrap.busy} disabled={!!passProblem} onClick={() => void rewrap.run()}>
                  Store under the new passphrase
                </Button>
              </Group>
            </Stack>
          </Card>
        ) : (
          <Card withBorder>
            <Stack>
              <Title order={2} size="h4">
                Recovery shares
              </Title>
              <Text size="sm">
                Paste each share's text (as printed, or retyped: spaces and case do not matter), or upload the
                share files.{threshold ? ` This key needs ${threshold} shares.` : ''}
              </Text>
              {texts.map((t, i) => (
                <div key={i}>
                  <Textarea
                    label={`Share text ${i + 1}`}
                    autosize
                    minRows={3}
                    value={t}
                    styles={{ input: { fontFamily: 'monospace' } }}
                    onChange={(e) => {
                      const value = e.currentTarget.value;
                      setTexts((all) => all.map((x, j) => (j === i ? value : x)));
                    }}
                  />
                  <ShareStatus parsed={parsed[i] ?? null} />
                </div>
              ))}
              <Group>
                <Button
                  variant="default"
                  disabled={texts.length >= 10}
                  onClick={() => setTexts((t) => [...t, ''])}
                >
                  Add a share
                </Button>
                <FileButton onChange={(files) => void readFiles(files)} accept="text/plain,.txt" multiple>
                  {(props) => (
                    <Button variant="default" {...props}>
                      Upload share files
                    </Button>
                  )}
                </FileButton>
              </Group>
              <ErrorNote error={recover.error} title="Recovery refused" />
              <Group justify="flex-end">
                <Button
                  loading={recover.busy}
                  disabled={good.length === 0 || parsed.some((p) => p && !p.ok)}
                  onClick={() => void recover.run()}
                >
                  Recover the key
                </Button>
              </Group>
            </Stack>
          </Card>
        )}
      </Stack>
    </>
  );
}

function ShareStatus({ parsed }: { parsed: Parsed }) {
  if (!parsed) return null;
  if (!parsed.ok) {
    const e = asApiError(parsed.error);
    return (
      <Text size="sm" c="red.9" mt={4} data-testid="share-status" role="alert">
        {e.message} ({e.code})
      </Text>
    );
  }
  const s = parsed.share;
  return (
    <Group gap="xs" mt={4} data-testid="share-status">
      <Badge color="#1e6b30" variant="filled">
        Checksum ok
      </Badge>
      <Text size="sm">
        Share {s.index} of {s.shares} (any {s.threshold}), key v{s.keyVersion}, fingerprint {s.fingerprint}
      </Text>
    </Group>
  );
}
