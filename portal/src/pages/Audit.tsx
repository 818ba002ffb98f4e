import { Badge, Button, Group, Paper, Select, Table, Text, TextInput } from '@mantine/core';
import type { ReactNode } from 'react';
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
        <Status color="gray" title="Verifying the chain…" />
      ) : c.ok ? (
        <Status color="green" title="Chain verified" testId="chain-status">
          All {c.events.toLocaleString()} events link up{c.headSeq ? ` (head #${c.headSeq})` : ''}: none was
          edited, removed or inserted.
        </Status>
      ) : (
        <Status color="red" title="The chain is broken" testId="chain-status">
          At event #{c.brokenAtSeq}: {c.problem}. (AUDIT_CHAIN_BROKEN)
        </Status>
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
                  <Badge>{e.action}</Badge>
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

function Status({
  color,
  title,
  testId,
  children,
}: {
  color: string;
  title: string;
  testId?: string;
  children?: ReactNode;
}) {
  return (
    <Paper
      withBorder
      p="sm"
      mb="md"
      data-testid={testId}
      role={color === 'red' ? 'alert' : 'status'}
      style={{ borderLeft: `6px solid var(--mantine-color-${color}-9)` }}
    >
      <Text fw={700}>{title}</Text>
      {children && <Text size="sm">{children}</Text>}
    </Paper>
  );
}
