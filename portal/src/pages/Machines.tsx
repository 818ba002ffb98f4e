import { Badge, Group, Select, Text, TextInput, UnstyledButton } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useDeferredValue, useMemo, useRef, useState } from 'react';
import { Link } from 'wouter';
import { gql } from '../api';
import { graphql } from '../gql';
import { ago, Empty, ErrorNote, isOnline, Loading, PageTitle, statusColor, useLoad } from '../ui';

const MachinesQuery = graphql(`
  query Machines {
    machines {
      id
      hostname
      machineUid
      status
      pendingKind
      siteId
      lastSeenAt
      agentVersion
    }
    sites {
      id
      code
      name
    }
  }
`);

type SortKey = 'hostname' | 'status' | 'site' | 'lastSeenAt' | 'agentVersion';
const columns: { key: SortKey; label: string; width: string }[] = [
  { key: 'hostname', label: 'Hostname', width: '28%' },
  { key: 'status', label: 'Status', width: '16%' },
  { key: 'site', label: 'Site', width: '22%' },
  { key: 'lastSeenAt', label: 'Last seen', width: '18%' },
  { key: 'agentVersion', label: 'Agent', width: '16%' },
];
const ROW = 40;

/** Every machine of the tenant: search, sort and filter in the browser; only visible rows are drawn. */
export function MachinesPage() {
  const { data, error, loading } = useLoad(() => gql(MachinesQuery));
  const [search, setSearch] = useState('');
  const query = useDeferredValue(search.trim().toLowerCase());
  const [status, setStatus] = useState<string | null>(null);
  const [site, setSite] = useState<string | null>(null);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'hostname', desc: false });
  const siteName = useMemo(() => new Map(data?.sites.map((s) => [s.id, s.code]) ?? []), [data]);
  const rows = useMemo(() => {
    if (!data) return [];
    const filtered = data.machines.filter(
      (m) =>
        (!status ||
          (status === 'Online' ? m.status === 'Active' && isOnline(m.lastSeenAt) : m.status === status)) &&
        (!site || m.siteId === site) &&
        (!query || m.hostname.toLowerCase().includes(query) || m.machineUid.toLowerCase().includes(query)),
    );
    const value = (m: (typeof filtered)[number]) =>
      sort.key === 'site'
        ? (siteName.get(m.siteId) ?? '')
        : sort.key === 'lastSeenAt'
          ? (m.lastSeenAt ?? '')
          : (m[sort.key] ?? '');
    const sorted = filtered.sort((a, b) => value(a).localeCompare(value(b)));
    return sort.desc ? sorted.reverse() : sorted;
  }, [data, query, status, site, sort, siteName]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 10,
  });
  if (loading && !data) return <Loading label="Loading machines" />;
  if (!data) return <ErrorNote error={error} />;
  const items = virtual.getVirtualItems();
  const top = items[0]?.start ?? 0;
  const bottom = virtual.getTotalSize() - (items.at(-1)?.end ?? 0);
  return (
    <>
      <PageTitle
        right={
          <Text
            c="dimmed"
            data-testid="machine-count"
          >{`${rows.length.toLocaleString()} of ${data.machines.length.toLocaleString()} machines`}</Text>
        }
      >
        Machines
      </PageTitle>
      <Group mb="sm">
        <TextInput
          label="Search"
          placeholder="Hostname or machine id"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={300}
        />
        <Select
          label="Status"
          placeholder="Any"
          data={['Online', 'Active', 'Pending', 'Retired']}
          value={status}
          onChange={setStatus}
          clearable
          w={160}
        />
        <Select
          label="Site"
          placeholder="Any"
          data={data.sites.map((s) => ({ value: s.id, label: `${s.code} — ${s.name}` }))}
          value={site}
          onChange={setSite}
          clearable
          searchable
          w={260}
        />
      </Group>
      {data.machines.length === 0 ? (
        <Empty title="No machines enrolled">
          Install a site's agent on a machine (Sites → the site's installers); it shows here once it enrolls.
        </Empty>
      ) : (
        <div
          ref={scroller}
          style={{
            height: 'calc(100vh - 230px)',
            minHeight: 300,
            overflow: 'auto',
            border: '1px solid #dee2e6',
          }}
        >
          <table
            style={{ width: '100%', borderCollapse: 'collapse', tableLayout: 'fixed' }}
            aria-rowcount={rows.length + 1}
            data-testid="machines-table"
          >
            <thead style={{ position: 'sticky', top: 0, background: 'white', zIndex: 1 }}>
              <tr>
                {columns.map((c) => (
                  <th
                    key={c.key}
                    style={{
                      width: c.width,
                      textAlign: 'left',
                      padding: '8px 12px',
                      borderBottom: '1px solid #dee2e6',
                    }}
                    aria-sort={sort.key === c.key ? (sort.desc ? 'descending' : 'ascending') : 'none'}
                  >
                    <UnstyledButton
                      fw={700}
                      onClick={() =>
                        setSort((s) => ({ key: c.key, desc: s.key === c.key ? !s.desc : false }))
                      }
                    >
                      {c.label} {sort.key === c.key ? (sort.desc ? '▼' : '▲') : ''}
                    </UnstyledButton>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {top > 0 && <tr style={{ height: top }} aria-hidden />}
              {items.map((item) => {
                const m = rows[item.index]!;
                return (
                  <tr
                    key={m.id}
                    style={{ height: ROW, borderBottom: '1px solid #f1f3f5' }}
                    aria-rowindex={item.index + 2}
                  >
                    <td
                      style={{
                        padding: '0 12px',
                        overflow: 'hidden',
                        whiteSpace: 'nowrap',
                        textOverflow: 'ellipsis',
                      }}
                    >
                      <Link href={`/machines/${m.id}`}>{m.hostname}</Link>
                    </td>
                    <td style={{ padding: '0 12px' }}>
                      <Badge color={statusColor(m.status)}>
                        {m.status === 'Active' && isOnline(m.lastSeenAt) ? 'Online' : m.status}
                        {m.pendingKind ? ` · ${m.pendingKind}` : ''}
                      </Badge>
                    </td>
                    <td style={{ padding: '0 12px' }}>{siteName.get(m.siteId)}</td>
                    <td style={{ padding: '0 12px' }}>{ago(m.lastSeenAt)}</td>
                    <td style={{ padding: '0 12px' }}>{m.agentVersion ?? '—'}</td>
                  </tr>
                );
              })}
              {bottom > 0 && <tr style={{ height: bottom }} aria-hidden />}
            </tbody>
          </table>
          {rows.length === 0 && <Empty title="No machine matches">Clear the search or the filters.</Empty>}
        </div>
      )}
    </>
  );
}
