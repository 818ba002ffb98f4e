import { Badge, Group, Select, Text, TextInput, UnstyledButton } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link } from 'wouter';
import { gql } from '../api';
import { graphql } from '../gql';
import type { MachineFilter, MachineSort, MachinesQuery } from '../gql/graphql';
import { ago, Empty, ErrorNote, isOnline, Loading, PageTitle, statusColor } from '../ui';

const MachinesQuery = graphql(`
  query Machines(
    $first: Int
    $offset: Int
    $search: String
    $filter: MachineFilter
    $siteId: ID
    $sort: MachineSort
    $descending: Boolean
  ) {
    machinePage(
      first: $first
      offset: $offset
      search: $search
      filter: $filter
      siteId: $siteId
      sort: $sort
      descending: $descending
    ) {
      total
      machines {
        id
        hostname
        status
        pendingKind
        siteId
        lastSeenAt
        agentVersion
      }
    }
    sites {
      id
      code
      name
    }
  }
`);

type Row = MachinesQuery['machinePage']['machines'][number];
type SortKey = 'hostname' | 'status' | 'site' | 'lastSeenAt' | 'agentVersion';
const columns: { key: SortKey; label: string; width: string; sort: MachineSort }[] = [
  { key: 'hostname', label: 'Hostname', width: '28%', sort: 'Hostname' },
  { key: 'status', label: 'Status', width: '16%', sort: 'Status' },
  { key: 'site', label: 'Site', width: '22%', sort: 'Site' },
  { key: 'lastSeenAt', label: 'Last seen', width: '18%', sort: 'LastSeen' },
  { key: 'agentVersion', label: 'Agent', width: '16%', sort: 'AgentVersion' },
];
const ROW = 40;
/** Rows per request: the first screen needs one page; scrolling fetches the pages that come into view. */
const PAGE = 100;

interface Listing {
  /** Which search/filter/sort these pages answer; a change starts a new listing. */
  key: string;
  total: number;
  pages: Map<number, Row[]>;
}

/**
 * Every machine of the tenant, a page at a time: the server searches, filters and sorts (a tenant
 * of tens of thousands is never sent whole); only the rows on screen are drawn, and the pages
 * under them are fetched as they scroll into view.
 */
export function MachinesPage() {
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [status, setStatus] = useState<MachineFilter | null>(null);
  const [site, setSite] = useState<string | null>(null);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'hostname', desc: false });
  const [sites, setSites] = useState<MachinesQuery['sites'] | null>(null);
  const [listing, setListing] = useState<Listing | null>(null);
  const [error, setError] = useState<unknown>(null);
  const requested = useRef(new Set<string>());
  // Typing searches once it pauses, not on every key.
  useEffect(() => {
    const t = setTimeout(() => setQuery(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);
  const variables = useMemo(
    () => ({
      search: query || null,
      filter: status,
      siteId: site,
      sort: columns.find((c) => c.key === sort.key)!.sort,
      descending: sort.desc,
    }),
    [query, status, site, sort],
  );
  const key = JSON.stringify(variables);
  const load = useCallback(
    (page: number) => {
      const id = `${key}#${page}`;
      if (requested.current.has(id)) return;
      requested.current.add(id);
      gql(MachinesQuery, { ...variables, first: PAGE, offset: page * PAGE }).then(
        (data) => {
          setSites(data.sites);
          setError(null);
          setListing((l) => {
            const same = l?.key === key ? l : { key, total: 0, pages: new Map<number, Row[]>() };
            const pages = new Map(same.pages);
            pages.set(page, data.machinePage.machines);
            return { key, total: data.machinePage.total, pages };
          });
        },
        (e: unknown) => {
          requested.current.delete(id);
          setError(e);
        },
      );
    },
    [key, variables],
  );
  useEffect(() => load(0), [load]);
  const current = listing?.key === key ? listing : null;
  const siteName = useMemo(() => new Map(sites?.map((s) => [s.id, s.code]) ?? []), [sites]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: current?.total ?? 0,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 10,
  });
  const items = virtual.getVirtualItems();
  const firstPage = Math.floor((items[0]?.index ?? 0) / PAGE);
  const lastPage = Math.floor((items.at(-1)?.index ?? 0) / PAGE);
  useEffect(() => {
    if (!current) return;
    for (let p = firstPage; p <= lastPage; p++) if (!current.pages.has(p)) load(p);
  }, [current, firstPage, lastPage, load]);
  const filtered = !!(query || status || site);
  if (!current && !listing && !error) return <Loading label="Loading machines" />;
  if (!current && !listing) return <ErrorNote error={error} />;
  const total = current?.total ?? 0;
  const top = items[0]?.start ?? 0;
  const bottom = virtual.getTotalSize() - (items.at(-1)?.end ?? 0);
  return (
    <>
      <PageTitle
        right={
          <Text
            c="dimmed"
            data-testid="machine-count"
          >{`${total.toLocaleString()}${filtered ? ' matching' : ''} machine${total === 1 ? '' : 's'}`}</Text>
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
          data={['Online', 'Offline', 'Active', 'Pending', 'Retired']}
          value={status}
          onChange={(v) => setStatus(v as MachineFilter | null)}
          clearable
          w={160}
        />
        <Select
          label="Site"
          placeholder="Any"
          data={(sites ?? []).map((s) => ({ value: s.id, label: `${s.code} — ${s.name}` }))}
          value={site}
          onChange={setSite}
          clearable
          searchable
          w={260}
        />
      </Group>
      <ErrorNote error={error} />
      {current && total === 0 && !filtered ? (
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
            aria-rowcount={total + 1}
            aria-busy={!current}
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
                const m: Row | undefined = current?.pages.get(Math.floor(item.index / PAGE))?.[
                  item.index % PAGE
                ];
                if (!m)
                  return (
                    <tr key={`loading-${item.index}`} style={{ height: ROW }} aria-rowindex={item.index + 2}>
                      <td colSpan={columns.length} style={{ padding: '0 12px', color: '#495057' }}>
                        Loading…
                      </td>
                    </tr>
                  );
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
          {current && total === 0 && (
            <Empty title="No machine matches">Clear the search or the filters.</Empty>
          )}
        </div>
      )}
    </>
  );
}
