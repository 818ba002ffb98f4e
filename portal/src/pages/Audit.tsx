import { Alert, Badge, Button, Group, Select, Table, TextInput } from '@mantine/core';
import { useMemo, useState } from 'react';
import { gql } from '../api';
import { graphql } from '../gql';
import { Empty, ErrorNote, formatTime, Loading, PageTitle, useAction, useLoad } from '../ui';

const AuditQuery = graphql(`
  query Audit {
    auditEvents(last: 500) {
      seq
      occurredAt
      actor
      action
      subjectType
      subjectId
      hash
    }
  }
`);

const VerifyChain = graphql(`
  query VerifyAuditChain {
    auditChain {
      ok
      events
      headSeq
      brokenAtSeq
      problem
    }
  }
`);

/** The newest 500 audit events, filterable, and the whole chain's verification. */
export function AuditPage() {
  const { data, error, loading } = useLoad(() => gql(AuditQuery));
  const chain = useLoad(() => gql(VerifyChain));
  const reverify = useAction(() => chain.reload());
  const [text, setText] = useState('');
  const [action, setAction] = useState<string | null>(null);
  const [actor, setActor] = useState<string | null>(null);
  const events = data?.auditEvents ?? [];
  const actions = useMemo(() => [...new Set(events.map((e) => e.action))].sort(), [events]);
  const actors = useMemo(() => [...new Set(events.map((e) => e.actor))].sort(), [events]);
  const q = text.trim().toLowerCase();
  const shown = events.filter(
    (e) =>
      (!action || e.action === action) &&
      (!actor || e.actor === actor) &&
      (!q || `${e.subjectType} ${e.subjectId} ${e.action} ${e.actor}`.toLowerCase().includes(q)),
  );
  if (loading && !data) return <Loading label="Loading audit log" />;
  if (!data) return <ErrorNote error={error} />;
  const c = chain.data?.auditChain;
  return (
    <>
      <PageTitle
        right={
          <Button
            variant="default"
            loading={chain.loading || reverify.busy}
            onClick={() => void reverify.run()}
          >
            Verify again
          </Button>
        }
      >
        Audit log
      </PageTitle>
      {chain.error ? (
        <ErrorNote error={chain.error} title="The chain could not be verified" />
      ) : !c ? (
        <Alert color="gray" mb="md" role="status">
          Verifying the chain…
        </Alert>
      ) : c.ok ? (
        <Alert color="green" mb="md" title="Chain verified" data-testid="chain-status" role="status">
          All {c.events.toLocaleString()} events link up{c.headSeq ? ` (head #${c.headSeq})` : ''}: none was
          edited, removed or inserted.
        </Alert>
      ) : (
        <Alert color="red" mb="md" title="The chain is broken" data-testid="chain-status" role="alert">
          At event #{c.brokenAtSeq}: {c.problem}. (AUDIT_CHAIN_BROKEN)
        </Alert>
      )}
      <Group mb="sm">
        <TextInput
          label="Search"
          placeholder="Subject, id, action"
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          w={280}
        />
        <Select
          label="Action"
          placeholder="Any"
          data={actions}
          value={action}
          onChange={setAction}
          clearable
          searchable
          w={240}
        />
        <Select
          label="Actor"
          placeholder="Anyone"
          data={actors}
          value={actor}
          onChange={setActor}
          clearable
          searchable
          w={240}
        />
      </Group>
      {shown.length === 0 ? (
        <Empty title={events.length ? 'No event matches' : 'No audit events yet'}>
          {events.length ? 'Clear the filters.' : 'Every change made through Drydock is recorded here.'}
        </Empty>
      ) : (
        <Table striped data-testid="audit-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>#</Table.Th>
              <Table.Th>When</Table.Th>
              <Table.Th>Who</Table.Th>
              <Table.Th>What</Table.Th>
              <Table.Th>Subject</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((e) => (
              <Table.Tr key={e.seq}>
                <Table.Td>{e.seq}</Table.Td>
                <Table.Td>{formatTime(e.occurredAt)}</Table.Td>
                <Table.Td>{e.actor}</Table.Td>
                <Table.Td>
                  <Badge variant="light">{e.action}</Badge>
                </Table.Td>
                <Table.Td>
                  {e.subjectType} {e.subjectId}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}
