import {
  Badge,
  Button,
  Card,
  Code,
  CopyButton,
  Group,
  Modal,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useState } from 'react';
import { Link } from 'wouter';
import { gql } from '../api';
import { graphql } from '../gql';
import { Can, Empty, ErrorNote, formatTime, Loading, PageTitle, useAction, useLoad } from '../ui';
import { JoinCredentialModal } from './JoinCredential';
import { PasswordRotationModal } from './PasswordRotation';

const SitesQuery = graphql(`
  query Sites {
    clients {
      id
      name
    }
    sites {
      id
      clientId
      code
      name
      enrollmentFingerprint
    }
    pending: machines(status: Pending) {
      id
      hostname
      status
      siteId
      pendingKind
      pendingReason
      replacesMachineId
      requestedBy {
        at
        hostname
        sourceIp
        siteCode
        keyVersion
      }
    }
  }
`);

const Rotate = graphql(`
  mutation RotateKey($siteId: ID!) {
    rotateEnrollmentKey(siteId: $siteId) {
      siteId
      version
      fingerprint
      key
    }
  }
`);
const ApprovePending = graphql(`
  mutation ApprovePending($id: ID!, $asReplacement: Boolean) {
    approveMachine(id: $id, asReplacement: $asReplacement) {
      id
      status
    }
  }
`);
const RejectPending = graphql(`
  mutation RejectPending($id: ID!) {
    rejectMachine(id: $id) {
      id
      status
    }
  }
`);

interface Issued {
  siteId: string;
  fingerprint: string;
  /** Null without the reveal-secrets permission: the key is issued but not shown. */
  key: string | null;
}

/** Sites with their enrollment key's fingerprint (rotate, key shown once) and machines awaiting approval. */
export function SitesPage() {
  const { data, error, loading, reload } = useLoad(() => gql(SitesQuery));
  const [confirm, setConfirm] = useState<{ id: string; code: string } | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const [passwords, setPasswords] = useState<{ id: string; code: string } | null>(null);
  const [joining, setJoining] = useState<{ id: string; code: string } | null>(null);
  const rotate = useAction(async (siteId: string) => {
    const res = await gql(Rotate, { siteId });
    setConfirm(null);
    setIssued(res.rotateEnrollmentKey);
    await reload();
  });
  const decide = useAction(async (id: string, what: 'approve' | 'replace' | 'reject') => {
    if (what === 'reject') await gql(RejectPending, { id });
    else await gql(ApprovePending, { id, asReplacement: what === 'replace' });
    await reload();
  });
  if (loading && !data) return <Loading label="Loading sites" />;
  if (!data) return <ErrorNote error={error} />;
  const clientName = new Map(data.clients.map((c) => [c.id, c.name]));
  const siteCode = new Map(data.sites.map((s) => [s.id, s.code]));
  const pending = data.pending;
  return (
    <>
      <PageTitle>Sites</PageTitle>
      <ErrorNote error={rotate.error ?? error} />
      <Card withBorder mb="lg">
        {data.sites.length === 0 ? (
          <Empty title="No sites yet">
            An admin creates a site for a client (GraphQL `createSite`); its machines enroll with its code.
          </Empty>
        ) : (
          <Table data-testid="sites-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Site</Table.Th>
                <Table.Th>Client</Table.Th>
                <Table.Th>Enrollment key</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.sites.map((s) => (
                <Table.Tr key={s.id} data-testid={`site-${s.code}`}>
                  <Table.Td>
                    <Text fw={600}>{s.code}</Text>
                    <Text size="sm" c="dimmed">
                      {s.name}
                    </Text>
                  </Table.Td>
                  <Table.Td>{clientName.get(s.clientId)}</Table.Td>
                  <Table.Td>
                    {s.enrollmentFingerprint ? (
                      <Code data-testid="fingerprint">{s.enrollmentFingerprint}</Code>
                    ) : (
                      <Text size="sm" c="dimmed">
                        No key yet: rotate to issue the first
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" justify="flex-end">
                      <Button
                        size="xs"
                        variant="default"
                        component={Link}
                        href={`/sites/${s.id}/onboarding`}
                        aria-label={`Onboarding of ${s.code}`}
                      >
                        Onboarding
                      </Button>
                      <Can role="operator">
                        <Button
                          size="xs"
                          variant="default"
                          aria-label={`Admin passwords of ${s.code}`}
                          onClick={() => setPasswords({ id: s.id, code: s.code })}
                        >
                          Admin passwords
                        </Button>
                      </Can>
                      <Can role="engineer">
                        <Button
                          size="xs"
                          variant="default"
                          aria-label={`Domain join credential of ${s.code}`}
                          onClick={() => setJoining({ id: s.id, code: s.code })}
                        >
                          Domain join
                        </Button>
                        <Button
                          size="xs"
                          variant="outline"
                          onClick={() => setConfirm({ id: s.id, code: s.code })}
                        >
                          Rotate key
                        </Button>
                      </Can>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
      <Title order={2} size="h3" mb="sm">
        Waiting for approval
      </Title>
      <ErrorNote error={decide.error} />
      {pending.length === 0 ? (
        <Empty title="No machine is waiting">
          A machine that enrolls with an old key, claims to be an enrolled machine (a clone) or asks to move
          sites waits here.
        </Empty>
      ) : (
        <Stack>
          {pending.map((m) => (
            <Card withBorder key={m.id} data-testid={`pending-${m.hostname}`}>
              <Group justify="space-between" align="flex-start">
                <div>
                  <Group gap="xs">
                    <Link href={`/machines/${m.id}`}>{m.hostname}</Link>
                    <Badge color="grape">{m.pendingKind}</Badge>
                    <Text size="sm" c="dimmed">
                      site {siteCode.get(m.siteId)}
                    </Text>
                  </Group>
                  <Text size="sm" mt={4}>
                    {m.pendingReason}
                  </Text>
                  {m.requestedBy && (
                    <Text size="sm" c="dimmed">
                      Asked {formatTime(m.requestedBy.at)} from {m.requestedBy.sourceIp}, key v
                      {m.requestedBy.keyVersion} of {m.requestedBy.siteCode}
                    </Text>
                  )}
                  {m.replacesMachineId && (
                    <Text size="sm">
                      Claims to be <Link href={`/machines/${m.replacesMachineId}`}>an enrolled machine</Link>.
                    </Text>
                  )}
                </div>
                <Can role="operator">
                  <Group gap="xs">
                    {m.replacesMachineId && (
                      <Button
                        size="xs"
                        loading={decide.busy}
                        onClick={() => void decide.run(m.id, 'replace')}
                      >
                        Approve as replacement
                      </Button>
                    )}
                    <Button
                      size="xs"
                      variant={m.replacesMachineId ? 'default' : 'filled'}
                      loading={decide.busy}
                      onClick={() => void decide.run(m.id, 'approve')}
                    >
                      Approve{m.replacesMachineId ? ' as new' : ''}
                    </Button>
                    <Button
                      size="xs"
                      color="red"
                      variant="outline"
                      loading={decide.busy}
                      onClick={() => void decide.run(m.id, 'reject')}
                    >
                      Reject
                    </Button>
                  </Group>
                </Can>
              </Group>
            </Card>
          ))}
        </Stack>
      )}
      <PasswordRotationModal site={passwords} onClose={() => setPasswords(null)} />
      <JoinCredentialModal site={joining} onClose={() => setJoining(null)} />
      <Modal
        closeButtonProps={{ 'aria-label': 'Close' }}
        opened={!!confirm}
        onClose={() => setConfirm(null)}
        title={`Rotate the enrollment key of ${confirm?.code}?`}
      >
        <Text size="sm" mb="md">
          A new key version is issued. From then on the old key enrolls nothing new (machines already enrolled
          keep working). Installers built with the old key must be built again.
        </Text>
        <ErrorNote error={rotate.error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setConfirm(null)}>
            Cancel
          </Button>
          <Button loading={rotate.busy} onClick={() => confirm && void rotate.run(confirm.id)}>
            Rotate
          </Button>
        </Group>
      </Modal>
      <Modal
        closeButtonProps={{ 'aria-label': 'Close' }}
        opened={!!issued}
        onClose={() => setIssued(null)}
        title="New enrollment key"
        size="lg"
      >
        {issued && (
          <>
            <Text size="sm" mb="xs">
              Fingerprint <Code data-testid="issued-fingerprint">{issued.fingerprint}</Code>.{' '}
              {issued.key
                ? 'Copy the key now: it is shown this once and stored only hashed.'
                : 'The key is not shown: your account lacks the reveal-secrets permission. Build the site installers (they carry it) or ask an admin who has it to rotate.'}
            </Text>
            {issued.key && (
              <Code block data-testid="issued-key" mb="sm">
                {issued.key}
              </Code>
            )}
            <Group justify="flex-end">
              {issued.key && (
                <CopyButton value={issued.key}>
                  {({ copied, copy }) => <Button onClick={copy}>{copied ? 'Copied' : 'Copy key'}</Button>}
                </CopyButton>
              )}
              <Button variant="default" onClick={() => setIssued(null)}>
                Done
              </Button>
            </Group>
          </>
        )}
      </Modal>
    </>
  );
}
