import {
  Anchor,
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  Group,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import { gql, roleAtLeast } from '../api';
import { graphql } from '../gql';
import {
  Can,
  Empty,
  ErrorNote,
  FollowInTemporal,
  formatTime,
  Loading,
  PageTitle,
  useAction,
  useLoad,
  useSession,
} from '../ui';

const DiscoveryQuery = graphql(`
  query SiteDiscoveryPage($siteId: ID!) {
    site(id: $siteId) {
      id
      code
      name
    }
    siteDiscovery(siteId: $siteId) {
      workflowId
      running
      state
      domain {
        domain
        site
        certificateSha256
        domainControllers {
          host
          addresses
        }
      }
      tried
      credentialVersion
      reminders
      lastRefusal
      lastError
      enumeration {
        computers
        added
        updated
        disappeared
      }
    }
    discoveredHosts(siteId: $siteId) {
      id
      source
      name
      dnsName
      os
      role
      enabled
      lastLogonAt
      machineId
      disappearedAt
      deployState
      deployReason
    }
  }
`);

const StartDiscovery = graphql(`
  mutation StartSiteDiscovery($siteId: ID!, $resolvers: [String!], $searchSuffixes: [String!]) {
    startSiteDiscovery(siteId: $siteId, resolvers: $resolvers, searchSuffixes: $searchSuffixes) {
      state
    }
  }
`);

const EnumerateNow = graphql(`
  mutation EnumerateDirectoryNow($siteId: ID!) {
    enumerateDirectoryNow(siteId: $siteId)
  }
`);

const AddHost = graphql(`
  mutation AddManualHost($input: AddManualHostInput!) {
    addManualHost(input: $input) {
      id
    }
  }
`);

const DeployAgents = graphql(`
  mutation DeployAgents($input: DeployAgentsInput!) {
    deployAgents(input: $input) {
      workflowId
      total
    }
  }
`);

/** What each state of a discovery means, in a sentence. */
const stateSentence: Record<string, string> = {
  discovering: 'The gateway is looking for the domain in DNS.',
  'awaiting-credential':
    'The domain was found: an engineer enters a domain credential (GraphQL setDomainCredential; the gateway tests it with a bind before it is kept).',
  'testing-credential': 'The gateway is testing the credential entered.',
  enumerating: 'The gateway is listing the computers of the domain.',
  done: 'Done: the computers are listed below, and listed again on the site’s schedule.',
  'not-found': 'No domain was found from the gateway’s DNS.',
  failed: 'The discovery failed.',
};

/** Deployment states a host stays in (the others move on by themselves). */
const SETTLED = new Set(['deployed', 'skipped', 'failed']);

const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * A site's onboarding (docs/onboarding.md): its discovery through the site's gateway — the domain
 * found, the credential, the enumeration — and its computers, found in AD or added by hand, with
 * the agent pushed to those selected (deployAgents) and each one's deployment as it goes.
 */
export function SiteDiscoveryPage({ id }: { id: string }) {
  const session = useSession();
  const [deploying, setDeploying] = useState<string | null>(null);
  // Every 2 s while a discovery or a deployment moves, every 30 s otherwise.
  const [moving, setMoving] = useState(true);
  const { data, error, loading, reload } = useLoad(
    () => gql(DiscoveryQuery, { siteId: id }),
    [id, moving],
    moving ? 2000 : 30_000,
  );
  useEffect(() => {
    if (!data) return;
    setMoving(
      Boolean(data.siteDiscovery?.running) ||
        data.discoveredHosts.some((h) => h.deployState !== null && !SETTLED.has(h.deployState ?? '')),
    );
  }, [data]);
  const [resolvers, setResolvers] = useState('');
  const [suffixes, setSuffixes] = useState('');
  const [hostName, setHostName] = useState('');
  const [dnsName, setDnsName] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const start = useAction(async () => {
    await gql(StartDiscovery, {
      siteId: id,
      ...(list(resolvers).length ? { resolvers: list(resolvers) } : {}),
      ...(list(suffixes).length ? { searchSuffixes: list(suffixes) } : {}),
    });
    await reload();
  });
  const enumerate = useAction(async () => {
    await gql(EnumerateNow, { siteId: id });
    await reload();
  });
  const add = useAction(async () => {
    await gql(AddHost, {
      input: { siteId: id, name: hostName.trim(), ...(dnsName.trim() ? { dnsName } : {}) },
    });
    setHostName('');
    setDnsName('');
    await reload();
  });
  const deploy = useAction(async () => {
    const res = await gql(DeployAgents, { input: { siteId: id, hostIds: [...selected] } });
    setDeploying(res.deployAgents.workflowId);
    setSelected(new Set());
    await reload();
  });
  if (loading && !data) return <Loading label="Loading the site’s discovery" />;
  if (!data?.site) return <ErrorNote error={error ?? { code: 'NOT_FOUND', message: 'site not found' }} />;
  const site = data.site;
  const discovery = data.siteDiscovery;
  const hosts = data.discoveredHosts;
  const engineer = roleAtLeast(session.role, 'engineer');
  const operator = roleAtLeast(session.role, 'operator');
  return (
    <>
      <PageTitle>Onboarding of {site.code}</PageTitle>
      <Text size="sm" mb="md" maw={760}>
        {site.name}. The site’s gateway finds its Active Directory domain from DNS, lists its computers with
        one domain credential, and pushes the agent to the computers you choose over WinRM.{' '}
        <Anchor component={Link} href="/sites" underline="always">
          All sites
        </Anchor>
      </Text>
      <ErrorNote error={error} />
      <Stack maw={1000}>
        <Card withBorder data-testid="discovery">
          <Group justify="space-between" mb="xs">
            <Title order={2} size="h4">
              Discovery
            </Title>
            {discovery && (
              <Badge
                color={discovery.state === 'failed' || discovery.state === 'not-found' ? 'red.9' : 'blue.9'}
              >
                {discovery.state}
                {discovery.running ? ' (running)' : ''}
              </Badge>
            )}
          </Group>
          {discovery ? (
            <Stack gap="xs">
              <Text size="sm" data-testid="discovery-state">
                {discovery.state === 'failed' && discovery.lastError
                  ? `The discovery failed: ${discovery.lastError}.`
                  : (stateSentence[discovery.state] ?? discovery.state)}
              </Text>
              {discovery.workflowId && (
                <Text size="sm">
                  Workflow <Code>{discovery.workflowId}</Code>
                  <FollowInTemporal workflowId={discovery.workflowId} />
                </Text>
              )}
              {discovery.state === 'not-found' && discovery.tried.length > 0 && (
                <Text size="sm">Tried: {discovery.tried.join(', ')}</Text>
              )}
              {discovery.lastRefusal && (
                <Text size="sm" c="red.9">
                  Last credential refused: {discovery.lastRefusal}
                </Text>
              )}
              {discovery.domain && (
                <Table data-testid="discovered-domain">
                  <Table.Tbody>
                    <Table.Tr>
                      <Table.Th w={200} scope="row">
                        Domain
                      </Table.Th>
                      <Table.Td>
                        {discovery.domain.domain}
                        {discovery.domain.site ? ` (AD site ${discovery.domain.site})` : ''}
                      </Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Th scope="row">Domain controllers</Table.Th>
                      <Table.Td>
                        {discovery.domain.domainControllers
                          .map((dc) => `${dc.host} (${dc.addresses.join(', ') || 'no address'})`)
                          .join('; ')}
                      </Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Th scope="row">LDAPS certificate SHA-256</Table.Th>
                      <Table.Td style={{ wordBreak: 'break-all' }}>
                        <Code>{discovery.domain.certificateSha256 ?? '—'}</Code>
                      </Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Th scope="row">Credential</Table.Th>
                      <Table.Td>
                        {discovery.credentialVersion
                          ? `v${discovery.credentialVersion} accepted`
                          : 'none accepted yet'}
                      </Table.Td>
                    </Table.Tr>
                  </Table.Tbody>
                </Table>
              )}
              {discovery.enumeration && (
                <Text size="sm" data-testid="enumeration">
                  Last listing: {discovery.enumeration.computers} computers (
                  {discovery.enumeration.added ?? 0} new, {discovery.enumeration.updated ?? 0} changed,{' '}
                  {discovery.enumeration.disappeared ?? 0} gone).
                </Text>
              )}
            </Stack>
          ) : (
            <Text size="sm" data-testid="discovery-state">
              No discovery yet. It needs the site’s gateway: an engineer makes one enrolled machine the
              gateway (GraphQL setMachineRole).
            </Text>
          )}
          <ErrorNote error={start.error ?? enumerate.error} title="Not started" />
          <Group mt="sm" align="flex-end">
            {engineer && !discovery?.running && (
              <>
                <TextInput
                  label="DNS servers (optional)"
                  description="Default: the gateway’s own"
                  value={resolvers}
                  onChange={(e) => setResolvers(e.currentTarget.value)}
                />
                <TextInput
                  label="DNS suffixes (optional)"
                  description="Default: the gateway’s own"
                  value={suffixes}
                  onChange={(e) => setSuffixes(e.currentTarget.value)}
                />
                <Button loading={start.busy} onClick={() => void start.run()}>
                  {discovery ? 'Discover again' : 'Start discovery'}
                </Button>
              </>
            )}
            {operator && discovery?.state === 'done' && (
              <Button variant="default" loading={enumerate.busy} onClick={() => void enumerate.run()}>
                List the computers now
              </Button>
            )}
          </Group>
        </Card>

        <Card withBorder data-testid="hosts">
          <Group justify="space-between" mb="xs">
            <Title order={2} size="h4">
              Computers ({hosts.length})
            </Title>
            <Can role="operator">
              <Button disabled={selected.size === 0} loading={deploy.busy} onClick={() => void deploy.run()}>
                Deploy the agent to {selected.size} selected
              </Button>
            </Can>
          </Group>
          <ErrorNote error={deploy.error} title="Not deployed" />
          {deploying && (
            <Text size="sm" mb="xs" role="status" data-testid="deployment-started">
              Deployment started: <Code>{deploying}</Code>
              <FollowInTemporal workflowId={deploying} />. Each computer’s state follows in the table.
            </Text>
          )}
          {hosts.length === 0 ? (
            <Empty title="No computers yet">
              The discovery lists the domain’s computers; an operator can add one by hand below.
            </Empty>
          ) : (
            <Table data-testid="hosts-table">
              <Table.Thead>
                <Table.Tr>
                  {operator && <Table.Th w={40} />}
                  <Table.Th>Name</Table.Th>
                  <Table.Th>DNS name</Table.Th>
                  <Table.Th>Operating system</Table.Th>
                  <Table.Th>Role</Table.Th>
                  <Table.Th>Last logon</Table.Th>
                  <Table.Th>Agent</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {hosts.map((h) => (
                  <Table.Tr key={h.id} data-testid={`host-${h.name}`}>
                    {operator && (
                      <Table.Td>
                        <Checkbox
                          aria-label={`Select ${h.name}`}
                          checked={selected.has(h.id)}
                          disabled={Boolean(h.machineId)}
                          onChange={(e) => {
                            const on = e.currentTarget.checked;
                            setSelected((s) => {
                              const next = new Set(s);
                              if (on) next.add(h.id);
                              else next.delete(h.id);
                              return next;
                            });
                          }}
                        />
                      </Table.Td>
                    )}
                    <Table.Td>
                      {h.name}
                      {h.source === 'manual' && (
                        <Text size="xs" c="dimmed">
                          added by hand
                        </Text>
                      )}
                      {h.disappearedAt && (
                        <Text size="xs" c="dimmed">
                          gone from AD {formatTime(h.disappearedAt)}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>{h.dnsName ?? '—'}</Table.Td>
                    <Table.Td>{h.os ?? '—'}</Table.Td>
                    <Table.Td>
                      {h.role ?? '—'}
                      {h.enabled === false ? ' (disabled)' : ''}
                    </Table.Td>
                    <Table.Td>{formatTime(h.lastLogonAt)}</Table.Td>
                    <Table.Td data-testid="deploy-state">
                      {h.machineId ? (
                        <Anchor component={Link} href={`/machines/${h.machineId}`} underline="always">
                          enrolled
                        </Anchor>
                      ) : (
                        (h.deployState ?? 'not deployed')
                      )}
                      {h.deployReason && (
                        <Text size="xs" c="dimmed">
                          {h.deployReason}
                        </Text>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          <Can role="operator">
            <ErrorNote error={add.error} title="Not added" />
            <Group mt="sm" align="flex-end">
              <TextInput
                label="Computer name"
                value={hostName}
                onChange={(e) => setHostName(e.currentTarget.value)}
              />
              <TextInput
                label="DNS name (optional)"
                value={dnsName}
                onChange={(e) => setDnsName(e.currentTarget.value)}
              />
              <Button
                variant="default"
                disabled={!hostName.trim()}
                loading={add.busy}
                onClick={() => void add.run()}
              >
                Add by hand
              </Button>
            </Group>
          </Can>
        </Card>
      </Stack>
    </>
  );
}
