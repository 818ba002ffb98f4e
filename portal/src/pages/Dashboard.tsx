import { Badge, Card, Select, SimpleGrid, Table, Text, Title } from '@mantine/core';
import { useMemo, useState } from 'react';
import { Link } from 'wouter';
import { gql } from '../api';
import { graphql } from '../gql';
import { ago, Empty, ErrorNote, Loading, PageTitle, statusColor, useLoad } from '../ui';

const DashboardQuery = graphql(`
  query Dashboard {
    clients {
      id
      name
      sites {
        id
        name
        code
      }
    }
    machineCounts {
      siteId
      online
      offline
      pending
      retired
    }
    fleetRuns(first: 100) {
      id
      status
      createdAt
      total
      passed
      failed
      cancelled
    }
    alerts(last: 10) {
      id
      kind
      message
      createdAt
    }
  }
`);

/** The fleet per tenant, client or site: machines by status, runs in progress, outcomes, alerts. */
export function DashboardPage() {
  const { data, error, loading } = useLoad(() => gql(DashboardQuery), [], 10_000);
  const [scope, setScope] = useState<string | null>(null);
  const siteIds = useMemo(() => {
    if (!data || !scope) return null;
    const [kind, id] = scope.split(':');
    if (kind === 'site') return new Set([id]);
    return new Set(data.clients.find((c) => c.id === id)?.sites.map((s) => s.id) ?? []);
  }, [data, scope]);
  if (loading && !data) return <Loading />;
  if (!data) return <ErrorNote error={error} />;
  const siteCounts = data.machineCounts;
  const sum = (pick: (c: (typeof siteCounts)[number]) => number) =>
    siteCounts.filter((c) => !siteIds || siteIds.has(c.siteId)).reduce((n, c) => n + pick(c), 0);
  const running = data.fleetRuns.filter((r) => r.status === 'running' || r.status === 'paused');
  const counts = [
    { label: 'Online', value: sum((c) => c.online), color: 'green' },
    { label: 'Offline', value: sum((c) => c.offline), color: 'gray' },
    { label: 'Pending approval', value: sum((c) => c.pending), color: 'orange' },
    {
      label: 'In running fleet runs',
      value: running.reduce((n, r) => n + r.total - r.passed - r.failed - r.cancelled, 0),
      color: 'blue',
    },
    { label: 'Passed (latest runs)', value: data.fleetRuns.reduce((n, r) => n + r.passed, 0), color: 'teal' },
    { label: 'Failed (latest runs)', value: data.fleetRuns.reduce((n, r) => n + r.failed, 0), color: 'red' },
  ];
  const scopes = data.clients.flatMap((c) => [
    { value: `client:${c.id}`, label: c.name },
    ...c.sites.map((s) => ({ value: `site:${s.id}`, label: `${c.name} / ${s.name} (${s.code})` })),
  ]);
  return (
    <>
      <PageTitle
        right={
          <Select
            aria-label="Show client or site"
            placeholder="Whole tenant"
            data={scopes}
            value={scope}
            onChange={setScope}
            clearable
            searchable
            w={320}
          />
        }
      >
        Fleet
      </PageTitle>
      <ErrorNote error={error} />
      {data.machineCounts.length === 0 && (
        <Empty title="No machines yet">
          Rotate a site's enrollment key on the Sites page and install the site's agent on a machine; it
          appears here once it enrolls.
        </Empty>
      )}
      <SimpleGrid cols={6} mb="lg">
        {counts.map((c) => (
          <Card key={c.label} withBorder padding="sm" data-testid={`count-${c.label}`}>
            <Text size="xs" c="dimmed">
              {c.label}
            </Text>
            <Text fw={700} size="xl" c={c.color === 'gray' ? undefined : `${c.color}.9`}>
              {c.value.toLocaleString()}
            </Text>
          </Card>
        ))}
      </SimpleGrid>
      <SimpleGrid cols={2}>
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">
            Run outcomes over time
          </Title>
          <OutcomeChart runs={data.fleetRuns} />
        </Card>
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">
            Runs in progress
          </Title>
          {running.length === 0 ? (
            <Empty title="No run in progress">
              Start one from <Link href="/runs/new">Runs → New fleet run</Link>.
            </Empty>
          ) : (
            <Table>
              <Table.Tbody>
                {running.slice(0, 8).map((r) => (
                  <Table.Tr key={r.id}>
                    <Table.Td>
                      <Link href={`/runs/${r.id}`}>Run of {r.total} machines</Link>
                    </Table.Td>
                    <Table.Td>
                      {r.passed} passed · {r.failed} failed
                    </Table.Td>
                    <Table.Td>
                      <Badge color={statusColor(r.status)}>{r.status}</Badge>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Card>
      </SimpleGrid>
      <Card withBorder mt="lg">
        <Title order={2} size="h4" mb="sm">
          Alerts
        </Title>
        {data.alerts.length === 0 ? (
          <Empty title="No alerts">Nothing needs you right now.</Empty>
        ) : (
          <Table>
            <Table.Tbody>
              {data.alerts.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td w={200}>
                    <Badge>{a.kind}</Badge>
                  </Table.Td>
                  <Table.Td>{a.message}</Table.Td>
                  <Table.Td w={120}>{ago(a.createdAt)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </>
  );
}

/** Passed and failed machines of the fleet runs started each day (last 14 days), as bars. */
function OutcomeChart({ runs }: { runs: { createdAt: string; passed: number; failed: number }[] }) {
  const days = Array.from({ length: 14 }, (_, i) => {
    const d = new Date(Date.now() - (13 - i) * 86_400_000);
    return d.toISOString().slice(0, 10);
  });
  const byDay = new Map(days.map((d) => [d, { passed: 0, failed: 0 }]));
  for (const r of runs) {
    const day = byDay.get(r.createdAt.slice(0, 10));
    if (day) {
      day.passed += r.passed;
      day.failed += r.failed;
    }
  }
  const max = Math.max(1, ...[...byDay.values()].map((d) => d.passed + d.failed));
  const total = [...byDay.values()].reduce((n, d) => n + d.passed + d.failed, 0);
  if (total === 0)
    return <Empty title="No outcomes in the last 14 days">Finished fleet runs show here by day.</Empty>;
  return (
    <svg
      role="img"
      aria-label={`Machines passed and failed per day, last 14 days: ${total} in all`}
      viewBox="0 0 420 140"
      width="100%"
    >
      {days.map((d, i) => {
        const v = byDay.get(d)!;
        const hp = (v.passed / max) * 110;
        const hf = (v.failed / max) * 110;
        return (
          <g key={d}>
            <title>{`${d}: ${v.passed} passed, ${v.failed} failed`}</title>
            <rect x={i * 30 + 4} y={120 - hp} width={22} height={hp} fill="#2b8a3e" />
            <rect x={i * 30 + 4} y={120 - hp - hf} width={22} height={hf} fill="#c92a2a" />
            <text x={i * 30 + 15} y={135} fontSize="9" textAnchor="middle" fill="#495057">
              {d.slice(8)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
