import {
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  Group,
  List,
  Modal,
  SegmentedControl,
  Select,
  SimpleGrid,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useState } from 'react';
import { Link, useSearchParams } from 'wouter';
import { gql } from '../api';
import { graphql } from '../gql';
import type { MigrationsQuery } from '../gql/graphql';
import {
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

/** How often the page reads the migrations again: their states move while you watch. */
const POLL_MS = 2_000;

const MigrationsQueryDoc = graphql(`
  query Migrations($machineId: ID) {
    profileMigrations(machineId: $machineId, first: 100) {
      id
      machineId
      batchId
      mode
      source
      targetJson
      targetSid
      retire
      status
      state
      updatedAt
      finishedAt
      lastError {
        code
        sentence
        message
      }
    }
    machines {
      id
      hostname
      status
    }
  }
`);

const BatchQuery = graphql(`
  query MigrationBatch($id: ID!) {
    profileMigrationBatch(id: $id) {
      id
      mode
      status
      total
      concurrency
      running
      createdBy
      createdAt
      finishedAt
      counts {
        status
        count
      }
      migrations {
        id
        machineId
        batchId
        mode
        source
        targetJson
        targetSid
        retire
        status
        state
        updatedAt
        finishedAt
        lastError {
          code
          sentence
          message
        }
      }
    }
  }
`);

const MigrationQuery = graphql(`
  query Migration($id: ID!) {
    profileMigration(id: $id) {
      id
      machineId
      batchId
      workflowId
      mode
      source
      targetJson
      sourceSid
      targetSid
      retire
      status
      state
      backupChecksum
      notMovable {
        item
        reason
      }
      restored
      lastError {
        type
        code
        sentence
        message
      }
      createdBy
      updatedAt
      finishedAt
    }
  }
`);

const StartMigration = graphql(`
  mutation StartProfileMigration($input: StartProfileMigrationInput!) {
    startProfileMigration(input: $input) {
      id
      status
    }
  }
`);

const DecideMigration = graphql(`
  mutation DecideProfileMigration($id: ID!, $decision: String!) {
    decideProfileMigration(id: $id, decision: $decision) {
      id
    }
  }
`);

const CancelMigration = graphql(`
  mutation CancelProfileMigration($id: ID!) {
    cancelProfileMigration(id: $id)
  }
`);

type Row = MigrationsQuery['profileMigrations'][number];

const migrationColor = (status: string) =>
  ({ 'awaiting-approval': 'grape', 'rolled-back': 'yellow' })[status] ?? statusColor(status);

/** The new owner as a person reads it: the account, or the Entra user, and its SID once known. */
function describeTarget(targetJson: string): string {
  const t = JSON.parse(targetJson) as { kind: string; name?: string; upn?: string; objectId?: string };
  if (t.kind === 'entra') return `Entra ID ${t.upn ?? t.objectId}`;
  return `${t.kind} ${t.name}`;
}

/**
 * Profile migrations (docs/migration.md): a machine's or a batch's migrations with their states,
 * followed live; an operator starts one, decides a verified one (retire, keep, roll back) and
 * cancels one that has not ended (it rolls back from its backup).
 */
export function MigrationsPage() {
  const [params, setParams] = useSearchParams();
  const machineId = params.get('machine');
  const batchId = params.get('batch');
  const selectedId = params.get('id');
  const list = useLoad(() => gql(MigrationsQueryDoc, { machineId }), [machineId], POLL_MS);
  const batch = useLoad(
    () => (batchId ? gql(BatchQuery, { id: batchId }) : Promise.resolve(null)),
    [batchId],
    POLL_MS,
  );
  const [starting, setStarting] = useState(false);
  const show = (next: Record<string, string | null>) =>
    setParams((p) => {
      const q = new URLSearchParams(p);
      for (const [k, v] of Object.entries(next)) {
        if (v) q.set(k, v);
        else q.delete(k);
      }
      return q;
    });
  if (list.loading && !list.data) return <Loading label="Loading migrations" />;
  if (!list.data) return <ErrorNote error={list.error} />;
  const hostname = new Map(list.data.machines.map((m) => [m.id, m.hostname]));
  const b = batch.data?.profileMigrationBatch;
  const rows = batchId ? (b?.migrations ?? []) : list.data.profileMigrations;
  return (
    <>
      <PageTitle
        right={
          <Can role="operator">
            <Button onClick={() => setStarting(true)} disabled={starting}>
              Start migration
            </Button>
          </Can>
        }
      >
        Profile migrations
      </PageTitle>
      <ErrorNote error={list.error ?? batch.error} />
      {starting && (
        <StartForm
          machines={list.data.machines.filter((m) => m.status === 'Active')}
          initialMachineId={machineId}
          onClose={() => setStarting(false)}
          onStarted={(id, machine) => {
            setStarting(false);
            show({ id, machine, batch: null });
            void list.reload();
          }}
        />
      )}
      {selectedId && (
        <MigrationDetail
          id={selectedId}
          hostname={hostname}
          onClose={() => show({ id: null })}
          onChanged={() => void list.reload()}
        />
      )}
      <Card withBorder>
        <Group justify="space-between" mb="sm" align="flex-end">
          <Title order={2} size="h4">
            {b
              ? `Batch of ${b.total} (${b.mode}, ${b.concurrency} machines at once): ${b.status}`
              : machineId
                ? `Migrations on ${hostname.get(machineId) ?? machineId}`
                : 'Recent migrations'}
          </Title>
          <Group align="flex-end">
            <Select
              label="Show machine"
              placeholder="All machines"
              data={list.data.machines.map((m) => ({ value: m.id, label: m.hostname }))}
              value={machineId}
              onChange={(v) => show({ machine: v, batch: null })}
              searchable
              clearable
              limit={50}
              w={220}
            />
            <TextInput
              label="Batch id"
              defaultValue={batchId ?? ''}
              key={batchId ?? ''}
              onKeyDown={(e) => {
                if (e.key === 'Enter') show({ batch: e.currentTarget.value.trim() || null, machine: null });
              }}
              w={300}
            />
          </Group>
        </Group>
        {b && (
          <Text size="sm" mb="sm" data-testid="batch-counts">
            {b.counts.map((c) => `${c.count} ${c.status}`).join(' · ') || 'nothing started yet'}
            {b.running !== null ? ` — ${b.running} working now` : ''}
          </Text>
        )}
        {batchId && batch.data && !b ? (
          <ErrorNote error={{ code: 'NOT_FOUND', message: 'there is no migration batch with this id' }} />
        ) : rows.length === 0 ? (
          <Empty title="No migrations here">
            A migration moves a user’s Windows profile to a new account (in place, by copy or through
            OneDrive) and can be rolled back until an operator retires the old account.
          </Empty>
        ) : (
          <MigrationTable rows={rows} hostname={hostname} onChanged={() => void list.reload()} />
        )}
      </Card>
    </>
  );
}

function MigrationTable({
  rows,
  hostname,
  onChanged,
}: {
  rows: Row[];
  hostname: Map<string, string>;
  onChanged: () => void;
}) {
  return (
    <Table data-testid="migrations-table">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Machine</Table.Th>
          <Table.Th>User</Table.Th>
          <Table.Th>Mode</Table.Th>
          <Table.Th>State</Table.Th>
          <Table.Th>Failure</Table.Th>
          <Table.Th>Actions</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((m) => (
          <Table.Tr key={m.id} data-testid={`migration-${m.id}`}>
            <Table.Td>
              <Link href={`/machines/${m.machineId}`}>{hostname.get(m.machineId) ?? m.machineId}</Link>
            </Table.Td>
            <Table.Td>
              <Link href={`/migrations?id=${m.id}`} aria-label={`Details of ${m.source}`}>
                {m.source}
              </Link>{' '}
              → {describeTarget(m.targetJson)}
            </Table.Td>
            <Table.Td>{m.mode}</Table.Td>
            <Table.Td>
              <Badge color={migrationColor(m.status)} data-testid="migration-status">
                {m.status}
              </Badge>{' '}
              <Text span size="sm" data-testid="migration-state">
                {m.state}
              </Text>
            </Table.Td>
            <Table.Td>
              {m.lastError ? (
                <Text size="sm">
                  {m.lastError.sentence}{' '}
                  <Text span ff="monospace" fw={700}>
                    ({m.lastError.code})
                  </Text>
                </Text>
              ) : (
                ''
              )}
            </Table.Td>
            <Table.Td>
              <Actions migration={m} onChanged={onChanged} />
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** Decide a verified migration or cancel one that has not ended (operators); the irreversible ones ask first. */
function Actions({
  migration: m,
  onChanged,
}: {
  migration: Pick<Row, 'id' | 'status' | 'retire' | 'finishedAt' | 'source'>;
  onChanged: () => void;
}) {
  const [confirm, setConfirm] = useState<'retire' | 'cancel' | null>(null);
  const act = useAction(async (what: 'retire' | 'keep' | 'roll-back' | 'cancel') => {
    if (what === 'cancel') await gql(CancelMigration, { id: m.id });
    else await gql(DecideMigration, { id: m.id, decision: what });
    setConfirm(null);
    onChanged();
  });
  if (m.finishedAt) return null;
  const retireLabel = m.retire === 'delete' ? 'Delete old account' : 'Disable old account';
  return (
    <Can role="operator">
      <Group gap="xs">
        {m.status === 'awaiting-approval' && (
          <>
            {m.retire !== 'keep' && (
              <Button size="xs" loading={act.busy} onClick={() => setConfirm('retire')}>
                {retireLabel}
              </Button>
            )}
            <Button size="xs" variant="default" loading={act.busy} onClick={() => void act.run('keep')}>
              Keep old account
            </Button>
            <Button
              size="xs"
              variant="outline"
              color="red"
              loading={act.busy}
              onClick={() => void act.run('roll-back')}
            >
              Roll back
            </Button>
          </>
        )}
        {m.status !== 'awaiting-approval' && (
          <Button
            size="xs"
            variant="outline"
            color="red"
            loading={act.busy}
            onClick={() => setConfirm('cancel')}
          >
            Cancel
          </Button>
        )}
      </Group>
      <ErrorNote error={act.error} />
      <Modal
        closeButtonProps={{ 'aria-label': 'Close' }}
        opened={confirm !== null}
        onClose={() => setConfirm(null)}
        title={confirm === 'retire' ? `${retireLabel}?` : 'Cancel this migration?'}
      >
        <Text size="sm" mb="md">
          {confirm === 'retire'
            ? `The profile stays with the new account, and ${m.source} is ${m.retire === 'delete' ? 'deleted' : 'disabled'} on the machine. This cannot be rolled back.`
            : 'What the migration changed is put back from its backup on the machine.'}
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setConfirm(null)}>
            Go back
          </Button>
          <Button
            color={confirm === 'retire' ? undefined : 'red'}
            loading={act.busy}
            onClick={() => void act.run(confirm === 'retire' ? 'retire' : 'cancel')}
          >
            {confirm === 'retire' ? retireLabel : 'Cancel migration'}
          </Button>
        </Group>
      </Modal>
    </Can>
  );
}

/** One migration in full: the SIDs, the backup, what did not move, what was put back, and why it failed. */
function MigrationDetail({
  id,
  hostname,
  onClose,
  onChanged,
}: {
  id: string;
  hostname: Map<string, string>;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { data, error } = useLoad(() => gql(MigrationQuery, { id }), [id], POLL_MS);
  const m = data?.profileMigration;
  return (
    <Card withBorder mb="md" data-testid="migration-detail">
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4">
          {m
            ? `${m.source} → ${describeTarget(m.targetJson)} on ${hostname.get(m.machineId) ?? m.machineId}`
            : 'Migration'}
        </Title>
        <Button size="xs" variant="default" onClick={onClose}>
          Close
        </Button>
      </Group>
      <ErrorNote error={error} />
      {data && !m && (
        <ErrorNote
          error={{ code: 'NOT_FOUND', message: 'there is no migration with this id in your tenant' }}
        />
      )}
      {m && (
        <>
          <Group mb="sm">
            <Badge size="lg" color={migrationColor(m.status)} data-testid="detail-status">
              {m.status}
            </Badge>
            <Text data-testid="detail-state">{m.state}</Text>
            <Actions migration={m} onChanged={onChanged} />
          </Group>
          {m.lastError && (
            <ErrorNote
              title={m.status === 'failed' ? 'The machine needs an engineer' : 'Why it did not pass'}
              error={{ code: m.lastError.code, message: `${m.lastError.sentence} ${m.lastError.message}` }}
            />
          )}
          <SimpleGrid cols={2} mt="sm">
            <Table>
              <Table.Tbody>
                <Field k="Mode" v={m.mode} />
                <Field k="Old SID" v={m.sourceSid ? <Code>{m.sourceSid}</Code> : '—'} />
                <Field k="New SID" v={m.targetSid ? <Code>{m.targetSid}</Code> : '—'} />
                <Field k="Old account" v={m.retire} />
                <Field k="Backup" v={m.backupChecksum ? <Code>{m.backupChecksum}</Code> : '—'} />
                <Field k="Started by" v={m.createdBy} />
                <Field k="Updated" v={formatTime(m.updatedAt)} />
                <Field k="Ended" v={formatTime(m.finishedAt)} />
              </Table.Tbody>
            </Table>
            <div>
              <Text fw={600} size="sm">
                Does not move with the profile
              </Text>
              {m.notMovable.length === 0 ? (
                <Text size="sm" c="dimmed">
                  Nothing reported (yet).
                </Text>
              ) : (
                <List size="sm" mb="sm">
                  {m.notMovable.map((n) => (
                    <List.Item key={n.item}>
                      {n.item}: {n.reason}
                    </List.Item>
                  ))}
                </List>
              )}
              {m.restored.length > 0 && (
                <>
                  <Text fw={600} size="sm" mt="sm">
                    Put back from the backup
                  </Text>
                  <List size="sm" data-testid="restored">
                    {m.restored.map((r) => (
                      <List.Item key={r}>{r}</List.Item>
                    ))}
                  </List>
                </>
              )}
            </div>
          </SimpleGrid>
        </>
      )}
    </Card>
  );
}

function Field({ k, v }: { k: string; v: React.ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={120} scope="row">
        {k}
      </Table.Th>
      <Table.Td style={{ wordBreak: 'break-all' }}>{v}</Table.Td>
    </Table.Tr>
  );
}

type TargetKind = 'local' | 'domain' | 'entra';
type Mode = 'in-place' | 'copy' | 'cloud';

/** Start one migration: the machine, whose profile, the new owner and how it moves. */
function StartForm({
  machines,
  initialMachineId,
  onClose,
  onStarted,
}: {
  machines: { id: string; hostname: string }[];
  initialMachineId: string | null;
  onClose: () => void;
  onStarted: (id: string, machineId: string) => void;
}) {
  const [machineId, setMachineId] = useState<string | null>(initialMachineId);
  const [source, setSource] = useState('');
  const [kind, setKind] = useState<TargetKind>('domain');
  const [name, setName] = useState('');
  const [objectId, setObjectId] = useState('');
  const [tenantId, setTenantId] = useState('');
  const [upn, setUpn] = useState('');
  const [mode, setMode] = useState<Mode>('in-place');
  const [oneDriveTenantId, setOneDriveTenantId] = useState('');
  const [retire, setRetire] = useState<string | null>('keep');
  const [copyGroups, setCopyGroups] = useState(true);
  const start = useAction(async () => {
    const res = await gql(StartMigration, {
      input: {
        machineId: machineId!,
        source: source.trim(),
        target:
          kind === 'entra'
            ? {
                kind,
                objectId: objectId.trim(),
                tenantId: tenantId.trim(),
                ...(upn ? { upn: upn.trim() } : {}),
              }
            : { kind, name: name.trim() },
        mode,
        retire: retire ?? 'keep',
        copyGroups,
        ...(mode === 'cloud' ? { oneDriveTenantId: (oneDriveTenantId || tenantId).trim() } : {}),
      },
    });
    onStarted(res.startProfileMigration.id, machineId!);
  });
  const ready =
    !!machineId &&
    !!source.trim() &&
    (kind === 'entra' ? !!objectId.trim() && !!tenantId.trim() : !!name.trim());
  return (
    <Card withBorder mb="md" data-testid="start-migration">
      <Title order={2} size="h4" mb="xs">
        Start a migration
      </Title>
      <SimpleGrid cols={2}>
        <Select
          label="Machine to migrate"
          data={machines.map((m) => ({ value: m.id, label: m.hostname }))}
          value={machineId}
          onChange={setMachineId}
          searchable
          limit={50}
          required
        />
        <TextInput
          label="User whose profile moves"
          description="A name (alice, CONTOSO\alice) or a SID"
          value={source}
          onChange={(e) => setSource(e.currentTarget.value)}
          required
        />
        <div>
          <Text size="sm" fw={500} mb={4} id="target-kind-label">
            New account
          </Text>
          <SegmentedControl
            aria-labelledby="target-kind-label"
            value={kind}
            onChange={(v) => setKind(v as TargetKind)}
            data={[
              { value: 'local', label: 'Local' },
              { value: 'domain', label: 'Domain' },
              { value: 'entra', label: 'Entra ID' },
            ]}
          />
        </div>
        {kind === 'entra' ? (
          <TextInput
            label="Entra object id"
            description="The user’s object id; its SID (S-1-12-1-…) is derived from it"
            value={objectId}
            onChange={(e) => setObjectId(e.currentTarget.value)}
            required
          />
        ) : (
          <TextInput
            label="New account name"
            description={kind === 'domain' ? 'DOMAIN\\name, in the machine’s domain' : 'A local account name'}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            required
          />
        )}
        {kind === 'entra' && (
          <>
            <TextInput
              label="Entra tenant id"
              description="The machine must be joined to it"
              value={tenantId}
              onChange={(e) => setTenantId(e.currentTarget.value)}
              required
            />
            <TextInput label="UPN (optional)" value={upn} onChange={(e) => setUpn(e.currentTarget.value)} />
          </>
        )}
        <Select
          label="Mode"
          data={[
            { value: 'in-place', label: 'In place (the profile is re-assigned to the new SID)' },
            { value: 'copy', label: 'Copy (robocopy into the new account’s profile)' },
            { value: 'cloud', label: 'Cloud (OneDrive Known Folder Move)' },
          ]}
          value={mode}
          onChange={(v) => setMode((v as Mode | null) ?? 'in-place')}
          allowDeselect={false}
        />
        {mode === 'cloud' && (
          <TextInput
            label="Microsoft 365 tenant id"
            description="For OneDrive; the Entra tenant id when empty"
            value={oneDriveTenantId}
            onChange={(e) => setOneDriveTenantId(e.currentTarget.value)}
          />
        )}
        <Select
          label="Old account after approval"
          data={[
            { value: 'keep', label: 'Keep it' },
            { value: 'disable', label: 'Disable it (local accounts)' },
            { value: 'delete', label: 'Delete it (local accounts)' },
          ]}
          value={retire}
          onChange={setRetire}
          allowDeselect={false}
        />
        <Checkbox
          mt="lg"
          label="Give the new account the old one’s local groups"
          checked={copyGroups}
          onChange={(e) => setCopyGroups(e.currentTarget.checked)}
        />
      </SimpleGrid>
      <ErrorNote error={start.error} />
      <Group justify="flex-end" mt="md">
        <Button variant="default" onClick={onClose}>
          Close
        </Button>
        <Button loading={start.busy} disabled={!ready} onClick={() => void start.run()}>
          Start
        </Button>
      </Group>
    </Card>
  );
}
