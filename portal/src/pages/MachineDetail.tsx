import { Badge, Button, Card, Code, Group, Modal, SimpleGrid, Table, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'wouter';
import { gql } from '../api';
import { graphql } from '../gql';
import { MachineSecrets } from './MachineSecrets';
import {
  ago,
  Can,
  Empty,
  ErrorNote,
  formatTime,
  Loading,
  PageTitle,
  statusColor,
  useAction,
  useLoad,
} from '../ui';

const MachineQuery = graphql(`
  query MachineDetail($id: ID!) {
    machine(id: $id) {
      id
      hostname
      machineUid
      status
      pendingKind
      pendingReason
      replacesMachineId
      siteId
      agentVersion
      lastSeenAt
      createdAt
      inventoryJson
      autopilotHashCsv
      requestedBy {
        at
        hostname
        sourceIp
        siteCode
        keyVersion
      }
    }
    machineRuns(machineId: $id) {
      id
      status
      phase
      step
      attempt
      profileVersion
      startedAt
      finishedAt
      lastError {
        code
        sentence
      }
    }
    sites {
      id
      code
      name
    }
  }
`);

const Approve = graphql(`
  mutation ApproveMachine($id: ID!, $asReplacement: Boolean) {
    approveMachine(id: $id, asReplacement: $asReplacement) {
      id
      status
    }
  }
`);
const Reject = graphql(`
  mutation RejectMachine($id: ID!) {
    rejectMachine(id: $id) {
      id
      status
    }
  }
`);
const Revoke = graphql(`
  mutation RevokeAgentKey($machineId: ID!) {
    revokeAgentKey(machineId: $machineId)
  }
`);

/** A machine: what it is, what it runs, its runs, its Autopilot hash; approve, reject, revoke. */
export function MachineDetailPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useLoad(() => gql(MachineQuery, { id }), [id]);
  const decide = useAction(async (what: 'approve' | 'replace' | 'reject') => {
    if (what === 'reject') await gql(Reject, { id });
    else await gql(Approve, { id, asReplacement: what === 'replace' });
    await reload();
  });
  const [revokeOpen, setRevokeOpen] = useState(false);
  const [revoked, setRevoked] = useState<number | null>(null);
  const revoke = useAction(async () => {
    const res = await gql(Revoke, { machineId: id });
    setRevoked(res.revokeAgentKey);
    setRevokeOpen(false);
  });
  if (loading && !data) return <Loading label="Loading machine" />;
  if (!data) return <ErrorNote error={error} />;
  const m = data.machine;
  if (!m)
    return (
      <ErrorNote error={{ code: 'NOT_FOUND', message: 'there is no machine with this id in your tenant' }} />
    );
  const site = data.sites.find((s) => s.id === m.siteId);
  const inventory = m.inventoryJson ? (JSON.parse(m.inventoryJson) as Record<string, unknown>) : null;
  const downloadCsv = () => {
    const blob = new Blob([m.autopilotHashCsv ?? ''], { type: 'text/csv' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `autopilot-${m.hostname}.csv`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return (
    <>
      <PageTitle
        right={
          <Group>
            {m.autopilotHashCsv && (
              <Button variant="default" onClick={downloadCsv}>
                Download Autopilot CSV
              </Button>
            )}
            <Can role="engineer">
              {m.status !== 'Retired' && (
                <Button color="red" variant="outline" onClick={() => setRevokeOpen(true)}>
                  Revoke agent key
                </Button>
              )}
            </Can>
          </Group>
        }
      >
        {m.hostname}{' '}
        <Badge size="lg" color={statusColor(m.status)}>
          {m.status}
        </Badge>
      </PageTitle>
      <ErrorNote error={decide.error ?? revoke.error ?? error} />
      {revoked !== null && (
        <Text c="green.9" mb="sm" role="status">
          Revoked {revoked} agent key(s): the machine's requests are refused from now on.
        </Text>
      )}
      {m.status === 'Pending' && (
        <Card withBorder mb="md" data-testid="pending">
          <Title order={2} size="h4">
            Waiting for your decision ({m.pendingKind})
          </Title>
          <Text size="sm" my="xs">
            {m.pendingReason}
          </Text>
          {m.requestedBy && (
            <Text size="sm" c="dimmed">
              Asked {formatTime(m.requestedBy.at)} from {m.requestedBy.sourceIp} as {m.requestedBy.hostname},
              with key v{m.requestedBy.keyVersion} of site {m.requestedBy.siteCode}.
            </Text>
          )}
          <Can role="operator">
            <Group mt="sm">
              {m.replacesMachineId && (
                <Button loading={decide.busy} onClick={() => void decide.run('replace')}>
                  Approve as replacement
                </Button>
              )}
              <Button
                loading={decide.busy}
                variant={m.replacesMachineId ? 'default' : 'filled'}
                onClick={() => void decide.run('approve')}
              >
                Approve as new machine
              </Button>
              <Button
                loading={decide.busy}
                color="red"
                variant="outline"
                onClick={() => void decide.run('reject')}
              >
                Reject
              </Button>
            </Group>
          </Can>
        </Card>
      )}
      <SimpleGrid cols={2} mb="md">
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">
            Machine
          </Title>
          <Table>
            <Table.Tbody>
              <Row k="Site" v={site ? `${site.code} — ${site.name}` : m.siteId} />
              <Row k="Machine id" v={<Code>{m.machineUid}</Code>} />
              <Row k="Agent" v={m.agentVersion ?? '—'} />
              <Row k="Last seen" v={`${ago(m.lastSeenAt)} (${formatTime(m.lastSeenAt)})`} />
              <Row k="Enrolled" v={formatTime(m.createdAt)} />
            </Table.Tbody>
          </Table>
        </Card>
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">
            Inventory and hardware
          </Title>
          {inventory ? (
            <Table>
              <Table.Tbody>
                {Object.entries(inventory).map(([k, v]) => (
                  <Row
                    key={k}
                    k={k}
                    v={typeof v === 'object' ? <Code block>{JSON.stringify(v, null, 1)}</Code> : String(v)}
                  />
                ))}
              </Table.Tbody>
            </Table>
          ) : (
            <Empty title="No inventory yet">
              The agent reports one after it enrolls; a run's inventory phase refreshes it.
            </Empty>
          )}
        </Card>
      </SimpleGrid>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">
          Runs
        </Title>
        {data.machineRuns.length === 0 ? (
          <Empty title="Never provisioned">Include this machine in a fleet run (Runs → New fleet run).</Empty>
        ) : (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Started</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Profile</Table.Th>
                <Table.Th>Where</Table.Th>
                <Table.Th>Failure</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.machineRuns.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td>
                    <Link href={`/machine-runs/${r.id}`}>{formatTime(r.startedAt)}</Link>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={statusColor(r.status)}>{r.status}</Badge>
                  </Table.Td>
                  <Table.Td>v{r.profileVersion ?? '?'}</Table.Td>
                  <Table.Td>{[r.phase, r.step].filter(Boolean).join(' · ') || '—'}</Table.Td>
                  <Table.Td>{r.lastError ? `${r.lastError.sentence} (${r.lastError.code})` : ''}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
      <MachineSecrets machineId={m.id} hostname={m.hostname} />
      <Modal
        closeButtonProps={{ 'aria-label': 'Close' }}
        opened={revokeOpen}
        onClose={() => setRevokeOpen(false)}
        title="Revoke this machine's agent key?"
      >
        <Text size="sm" mb="md">
          {m.hostname} is refused at once and stops receiving work. It must enroll again to come back.
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setRevokeOpen(false)}>
            Keep it
          </Button>
          <Button color="red" loading={revoke.busy} onClick={() => void revoke.run()}>
            Revoke
          </Button>
        </Group>
      </Modal>
    </>
  );
}

function Row({ k, v }: { k: string; v: React.ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={140} scope="row">
        {k}
      </Table.Th>
      <Table.Td style={{ wordBreak: 'break-all' }}>{v}</Table.Td>
    </Table.Tr>
  );
}
