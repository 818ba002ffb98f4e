import {
  Anchor,
  Badge,
  Button,
  Card,
  Checkbox,
  Group,
  MultiSelect,
  NumberInput,
  Progress,
  Select,
  SimpleGrid,
  Stepper,
  Table,
  TagsInput,
  Text,
  Timeline,
  Title,
} from '@mantine/core';
import { useEffect, useMemo, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { gql, subscribe, type ApiError } from '../api';
import { portalConfig, temporalWorkflowUrl, type PortalConfig } from '../config';
import { graphql } from '../gql';
import type { FleetRunProgressFeedSubscription } from '../gql/graphql';
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

const RunsQuery = graphql(`
  query FleetRuns {
    fleetRuns(first: 50) {
      id
      status
      createdAt
      createdBy
      finishedAt
      total
      passed
      failed
      cancelled
      skipped
      concurrency
      profileId
    }
    profiles {
      id
      name
      version
    }
  }
`);

/** Fleet runs, newest first. */
export function RunsPage() {
  const { data, error, loading } = useLoad(() => gql(RunsQuery), [], 5_000);
  if (loading && !data) return <Loading label="Loading runs" />;
  if (!data) return <ErrorNote error={error} />;
  const profile = new Map(data.profiles.map((p) => [p.id, `${p.name} v${p.version}`]));
  return (
    <>
      <PageTitle
        right={
          <Can role="operator">
            <Button component={Link} href="/runs/new">
              New fleet run
            </Button>
          </Can>
        }
      >
        Runs
      </PageTitle>
      <ErrorNote error={error} />
      {data.fleetRuns.length === 0 ? (
        <Empty title="No fleet runs yet">
          Start one with “New fleet run”: pick machines, a profile version and how many at once.
        </Empty>
      ) : (
        <Table data-testid="runs-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Started</Table.Th>
              <Table.Th>Profile</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Progress</Table.Th>
              <Table.Th>By</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {data.fleetRuns.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td>
                  <Link href={`/runs/${r.id}`}>{formatTime(r.createdAt)}</Link>
                </Table.Td>
                <Table.Td>{profile.get(r.profileId) ?? '—'}</Table.Td>
                <Table.Td>
                  <Badge color={statusColor(r.status)}>{r.status}</Badge>
                </Table.Td>
                <Table.Td>
                  {r.passed} passed · {r.failed} failed · {r.cancelled} cancelled of {r.total}
                  {r.skipped ? ` (${r.skipped} skipped)` : ''}
                </Table.Td>
                <Table.Td>{r.createdBy}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}

const WizardQuery = graphql(`
  query RunWizard {
    clients {
      id
      name
      sites {
        id
        code
        name
      }
    }
    machines {
      id
      hostname
      siteId
      status
    }
    profiles {
      id
      name
      version
      createdAt
    }
  }
`);

const StartRun = graphql(`
  mutation StartFleetRun($input: FleetRunStartInput!) {
    startFleetRun(input: $input) {
      id
      total
      skipped
    }
  }
`);

/** The launch wizard: selection → profile version → concurrency → confirmation with the count. */
export function NewRunPage() {
  const { data, error, loading } = useLoad(() => gql(WizardQuery));
  const [, navigate] = useLocation();
  const [step, setStep] = useState(0);
  const [clientIds, setClientIds] = useState<string[]>([]);
  const [siteIds, setSiteIds] = useState<string[]>([]);
  const [tags, setTags] = useState<string[]>([]);
  const [machineIds, setMachineIds] = useState<string[]>([]);
  const [profileId, setProfileId] = useState<string | null>(null);
  const [concurrency, setConcurrency] = useState<number | string>(25);
  const start = useAction(async () => {
    const res = await gql(StartRun, {
      input: {
        profileId: profileId!,
        concurrency: Number(concurrency),
        ...(clientIds.length ? { clientIds } : {}),
        ...(siteIds.length ? { siteIds } : {}),
        ...(tags.length ? { tags } : {}),
        ...(machineIds.length ? { machineIds } : {}),
      },
    });
    navigate(`/runs/${res.startFleetRun.id}`);
  });
  const selected = useMemo(() => {
    if (!data) return [];
    const clientSites = new Set(
      data.clients.filter((c) => clientIds.includes(c.id)).flatMap((c) => c.sites.map((s) => s.id)),
    );
    return data.machines.filter(
      (m) =>
        m.status === 'Active' &&
        (!clientIds.length || clientSites.has(m.siteId)) &&
        (!siteIds.length || siteIds.includes(m.siteId)) &&
        (!machineIds.length || machineIds.includes(m.id)),
    );
  }, [data, clientIds, siteIds, machineIds]);
  if (loading && !data) return <Loading />;
  if (!data) return <ErrorNote error={error} />;
  const profile = data.profiles.find((p) => p.id === profileId);
  const concurrencyOk =
    Number.isInteger(Number(concurrency)) && Number(concurrency) >= 1 && Number(concurrency) <= 1000;
  return (
    <>
      <PageTitle>New fleet run</PageTitle>
      <Card withBorder maw={900}>
        <Stepper active={step} onStepClick={setStep} allowNextStepsSelect={false}>
          <Stepper.Step label="Machines" description="Which machines">
            <Text size="sm" my="sm">
              Narrow the fleet by any of these; leave all empty for every active machine.
            </Text>
            <SimpleGrid cols={2}>
              <MultiSelect
                label="Clients"
                data={data.clients.map((c) => ({ value: c.id, label: c.name }))}
                value={clientIds}
                onChange={setClientIds}
                searchable
                clearable
              />
              <MultiSelect
                label="Sites"
                data={data.clients.flatMap((c) =>
                  c.sites.map((s) => ({ value: s.id, label: `${s.code} — ${s.name}` })),
                )}
                value={siteIds}
                onChange={setSiteIds}
                searchable
                clearable
              />
              <TagsInput
                label="Labels (key=value, all must match)"
                value={tags}
                onChange={setTags}
                clearable
              />
              <MultiSelect
                label="Machines"
                data={data.machines
                  .filter((m) => m.status === 'Active')
                  .map((m) => ({ value: m.id, label: m.hostname }))}
                value={machineIds}
                onChange={setMachineIds}
                searchable
                clearable
                limit={50}
              />
            </SimpleGrid>
            <Text mt="sm" fw={600} data-testid="selection-count">
              {selected.length} active machine(s) selected
              {tags.length ? ', of which those with the labels run' : ''}
            </Text>
          </Stepper.Step>
          <Stepper.Step label="Profile" description="Which version">
            {data.profiles.length === 0 ? (
              <Empty title="No saved profile">Save a profile version on the Profiles page first.</Empty>
            ) : (
              <Select
                my="sm"
                label="Profile version"
                data={data.profiles.map((p) => ({
                  value: p.id,
                  label: `${p.name} v${p.version} (${formatTime(p.createdAt)})`,
                }))}
                value={profileId}
                onChange={setProfileId}
                searchable
              />
            )}
          </Stepper.Step>
          <Stepper.Step label="Concurrency" description="How many at once">
            <NumberInput
              my="sm"
              label="Machines at once"
              description="1 to 1000; the rest wait in the queue"
              min={1}
              max={1000}
              value={concurrency}
              onChange={setConcurrency}
              error={concurrencyOk ? null : 'Enter a whole number from 1 to 1000'}
              w={240}
            />
          </Stepper.Step>
          <Stepper.Completed>
            <Title order={2} size="h4" my="sm">
              Confirm
            </Title>
            <Text data-testid="confirm-summary">
              Provision <b>{selected.length}</b> machine(s) with{' '}
              <b>{profile ? `${profile.name} v${profile.version}` : '—'}</b>, {Number(concurrency)} at once.
              Machines with a run of their own already are skipped.
            </Text>
            <ErrorNote error={start.error} />
          </Stepper.Completed>
        </Stepper>
        <Group justify="flex-end" mt="lg">
          {step > 0 && (
            <Button variant="default" onClick={() => setStep(step - 1)}>
              Back
            </Button>
          )}
          {step < 3 ? (
            <Button
              onClick={() => setStep(step + 1)}
              disabled={
                (step === 0 && selected.length === 0) ||
                (step === 1 && !profileId) ||
                (step === 2 && !concurrencyOk)
              }
            >
              Next
            </Button>
          ) : (
            <Button loading={start.busy} onClick={() => void start.run()}>
              Start run of {selected.length} machine(s)
            </Button>
          )}
        </Group>
      </Card>
    </>
  );
}

const FleetRunQuery = graphql(`
  query FleetRun($id: ID!) {
    fleetRun(id: $id) {
      id
      status
      workflowId
      createdAt
      createdBy
      finishedAt
      concurrency
      total
      passed
      failed
      cancelled
      skipped
      progress {
        state
        total
        queued
        running
        passed
        failed
        cancelled
        paused
      }
      machineRuns(first: 1000) {
        id
        seq
        machineId
        status
        phase
        step
        attempt
        hostname
        lastError {
          code
          sentence
        }
      }
    }
  }
`);

const ProgressFeed = graphql(`
  subscription FleetRunProgressFeed($id: ID!) {
    fleetRunProgress(id: $id) {
      state
      total
      queued
      running
      passed
      failed
      cancelled
      paused
      batches
      closedInTemporal
      lateSignals
      recovered
    }
  }
`);

const ControlFleet = graphql(`
  mutation ControlFleetRun($id: ID!, $action: RunControl!) {
    controlFleetRun(id: $id, action: $action) {
      id
      status
    }
  }
`);

function useTemporalConfig(): PortalConfig | null {
  const [c, setC] = useState<PortalConfig | null>(null);
  useEffect(() => void portalConfig().then(setC), []);
  return c;
}

/** A fleet run's live progress (SSE subscription; no refresh), its machines, pause/resume/cancel. */
export function FleetRunPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useLoad(() => gql(FleetRunQuery, { id }), [id]);
  const [live, setLive] = useState<Partial<FleetRunProgressFeedSubscription['fleetRunProgress']> | null>(
    null,
  );
  const [feedError, setFeedError] = useState<ApiError | null>(null);
  const temporal = useTemporalConfig();
  const finished = data?.fleetRun && ['completed', 'cancelled'].includes(data.fleetRun.status);
  useEffect(() => {
    if (!data?.fleetRun || finished) return;
    let pending: ReturnType<typeof setTimeout> | null = null;
    const stop = subscribe(
      ProgressFeed,
      { id },
      (d) => {
        setLive(d.fleetRunProgress);
        // The machines' rows follow the counts: refresh them at most once a second.
        pending ??= setTimeout(() => {
          pending = null;
          void reload();
        }, 1000);
      },
      setFeedError,
      () => void reload(),
    );
    return () => {
      stop();
      if (pending) clearTimeout(pending);
    };
  }, [id, !!data?.fleetRun, finished]);
  const control = useAction(async (action: 'PAUSE' | 'RESUME' | 'CANCEL') => {
    await gql(ControlFleet, { id, action });
    await reload();
  });
  if (loading && !data) return <Loading label="Loading run" />;
  if (!data) return <ErrorNote error={error} />;
  const run = data.fleetRun;
  if (!run)
    return (
      <ErrorNote
        error={{ code: 'NOT_FOUND', message: 'there is no fleet run with this id in your tenant' }}
      />
    );
  const p = { ...run.progress, ...live };
  const total = p.total ?? run.total;
  const passed = Math.max(p.passed ?? 0, run.passed);
  const failed = Math.max(p.failed ?? 0, run.failed);
  const cancelled = Math.max(p.cancelled ?? 0, run.cancelled);
  const running = p.running ?? 0;
  const pct = (n: number) => (total ? (n / total) * 100 : 0);
  const link = temporal && temporalWorkflowUrl(temporal, run.workflowId);
  const active = run.status === 'running' || run.status === 'paused';
  return (
    <>
      <PageTitle
        right={
          <Group>
            {link && (
              <Anchor href={link} target="_blank" rel="noreferrer">
                Open in Temporal UI
              </Anchor>
            )}
            <Can role="operator">
              {active &&
                (p.paused || run.status === 'paused' ? (
                  <Button loading={control.busy} onClick={() => void control.run('RESUME')}>
                    Resume
                  </Button>
                ) : (
                  <Button variant="default" loading={control.busy} onClick={() => void control.run('PAUSE')}>
                    Pause
                  </Button>
                ))}
              {active && (
                <Button
                  color="red"
                  variant="outline"
                  loading={control.busy}
                  onClick={() => void control.run('CANCEL')}
                >
                  Cancel run
                </Button>
              )}
            </Can>
          </Group>
        }
      >
        Fleet run{' '}
        <Badge size="lg" color={statusColor(run.status)} data-testid="run-status">
          {run.status}
        </Badge>
      </PageTitle>
      <ErrorNote error={control.error ?? feedError ?? error} />
      <Card withBorder mb="md">
        <Text size="sm" c="dimmed" mb="xs">
          Started {formatTime(run.createdAt)} by {run.createdBy}; {run.concurrency} at once
          {run.skipped ? `; ${run.skipped} selected machine(s) skipped (a run of their own)` : ''}.
        </Text>
        <Progress.Root size={24}>
          <Progress.Section value={pct(passed)} color="green" aria-label="Passed">
            <Progress.Label>{passed}</Progress.Label>
          </Progress.Section>
          <Progress.Section value={pct(failed)} color="red" aria-label="Failed">
            <Progress.Label>{failed}</Progress.Label>
          </Progress.Section>
          <Progress.Section value={pct(cancelled)} color="gray" aria-label="Cancelled">
            <Progress.Label>{cancelled}</Progress.Label>
          </Progress.Section>
          <Progress.Section value={pct(running)} color="blue" aria-label="Running" animated>
            <Progress.Label>{running}</Progress.Label>
          </Progress.Section>
        </Progress.Root>
        <Text mt="xs" data-testid="run-counts" role="status">
          {passed} passed · {failed} failed · {cancelled} cancelled · {running} running · {p.queued ?? 0}{' '}
          queued — of {total}
        </Text>
      </Card>
      <Card withBorder>
        <Title order={2} size="h4" mb="xs">
          Machines
        </Title>
        {run.machineRuns.length === 0 ? (
          <Empty title="No machine started yet">Machines appear as the run starts them.</Empty>
        ) : (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>#</Table.Th>
                <Table.Th>Machine</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Where</Table.Th>
                <Table.Th>Failure</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {run.machineRuns.map((r) => (
                <Table.Tr key={r.id} data-testid={`machine-run-${r.hostname}`}>
                  <Table.Td>{r.seq}</Table.Td>
                  <Table.Td>
                    <Link href={`/machine-runs/${r.id}`}>{r.hostname ?? r.machineId}</Link>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={statusColor(r.status)}>{r.status}</Badge>
                  </Table.Td>
                  <Table.Td>
                    {[r.phase, r.step].filter(Boolean).join(' · ') || '—'}
                    {r.attempt > 1 ? ` (attempt ${r.attempt})` : ''}
                  </Table.Td>
                  <Table.Td>{r.lastError ? `${r.lastError.sentence} (${r.lastError.code})` : ''}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </>
  );
}

const MachineRunQuery = graphql(`
  query MachineRun($id: ID!) {
    machineRun(id: $id) {
      id
      machineId
      fleetRunId
      workflowId
      status
      phase
      step
      attempt
      profileVersion
      startedAt
      finishedAt
      progressJson
      lastError {
        code
        type
        sentence
        message
        step
      }
      validation {
        item
        result
        detail
      }
    }
  }
`);

const RetryRun = graphql(`
  mutation RetryMachineRun($id: ID!, $fromStep: String, $refreshConfig: Boolean) {
    retryMachineRun(id: $id, fromStep: $fromStep, refreshConfig: $refreshConfig)
  }
`);

const ControlMachine = graphql(`
  mutation ControlMachineRun($id: ID!, $action: RunControl!) {
    controlMachineRun(id: $id, action: $action) {
      id
      status
    }
  }
`);

interface StepView {
  key: string;
  phase: string;
  label: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'skipped';
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  alreadyDone?: boolean;
  error?: { type: string; message: string };
}
interface ProgressView {
  state: string;
  steps: StepView[];
  reboots: { reason: string; seconds: number }[];
  lastError: { step: string; type: string; message: string } | null;
}

const stepMark = { pending: '·', running: '▶', done: '✓', failed: '✕', skipped: '–' } as const;
const stepColor = {
  pending: 'gray',
  running: 'blue',
  done: 'green',
  failed: 'red',
  skipped: 'gray',
} as const;

/** One machine's run: phases and steps with attempts, reboots, the failure in words; retry from a step. */
export function MachineRunPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useLoad(() => gql(MachineRunQuery, { id }), [id], 3_000);
  const temporal = useTemporalConfig();
  const [fromStep, setFromStep] = useState<string | null>(null);
  const [refreshConfig, setRefreshConfig] = useState(true);
  const retry = useAction(async () => {
    await gql(RetryRun, { id, fromStep: fromStep ?? undefined, refreshConfig });
    await reload();
  });
  const control = useAction(async (action: 'PAUSE' | 'RESUME' | 'CANCEL') => {
    await gql(ControlMachine, { id, action });
    await reload();
  });
  if (loading && !data) return <Loading label="Loading run" />;
  if (!data) return <ErrorNote error={error} />;
  const run = data.machineRun;
  if (!run)
    return (
      <ErrorNote error={{ code: 'NOT_FOUND', message: 'there is no run with this id in your tenant' }} />
    );
  const progress = run.progressJson ? (JSON.parse(run.progressJson) as ProgressView) : null;
  const phases = new Map<string, StepView[]>();
  for (const s of progress?.steps ?? []) phases.set(s.phase, [...(phases.get(s.phase) ?? []), s]);
  const link = temporal && temporalWorkflowUrl(temporal, run.workflowId);
  const live = ['queued', 'running', 'paused', 'rebooting'].includes(run.status);
  return (
    <>
      <PageTitle
        right={
          <Group>
            {link && (
              <Anchor href={link} target="_blank" rel="noreferrer">
                Open in Temporal UI
              </Anchor>
            )}
            {run.fleetRunId && <Link href={`/runs/${run.fleetRunId}`}>Its fleet run</Link>}
            <Link href={`/machines/${run.machineId}`}>The machine</Link>
            <Can role="operator">
              {live &&
                (run.status === 'paused' ? (
                  <Button onClick={() => void control.run('RESUME')} loading={control.busy}>
                    Resume
                  </Button>
                ) : (
                  <Button variant="default" onClick={() => void control.run('PAUSE')} loading={control.busy}>
                    Pause
                  </Button>
                ))}
              {live && (
                <Button
                  color="red"
                  variant="outline"
                  onClick={() => void control.run('CANCEL')}
                  loading={control.busy}
                >
                  Cancel
                </Button>
              )}
            </Can>
          </Group>
        }
      >
        Machine run{' '}
        <Badge size="lg" color={statusColor(run.status)} data-testid="machine-run-status">
          {run.status}
        </Badge>
      </PageTitle>
      <ErrorNote error={control.error ?? error} />
      {run.lastError && (
        <Card withBorder mb="md" style={{ borderColor: 'var(--mantine-color-red-6)' }} data-testid="failure">
          <Text fw={600}>
            {run.lastError.sentence}{' '}
            <Text span ff="monospace">
              ({run.lastError.code})
            </Text>
          </Text>
          <Text size="sm" c="dimmed">
            {run.lastError.step ? `At step ${run.lastError.step}: ` : ''}
            {run.lastError.message}
          </Text>
          {run.status === 'failed' && (
            <Can role="operator">
              <Group mt="sm" align="flex-end">
                <Select
                  label="Retry from step"
                  data={(progress?.steps ?? []).map((s) => ({
                    value: s.key,
                    label: `${s.label} (${s.key})`,
                  }))}
                  value={fromStep ?? run.lastError.step ?? null}
                  onChange={setFromStep}
                  w={420}
                  searchable
                />
                <Checkbox
                  label="Re-read the profile and its layers first (after a fix)"
                  checked={refreshConfig}
                  onChange={(e) => setRefreshConfig(e.currentTarget.checked)}
                  mb={8}
                />
                <Button loading={retry.busy} onClick={() => void retry.run()}>
                  Retry
                </Button>
              </Group>
              <ErrorNote error={retry.error} />
            </Can>
          )}
        </Card>
      )}
      <Text size="sm" c="dimmed" mb="sm">
        Profile v{run.profileVersion ?? '?'} · attempt {run.attempt} · started {formatTime(run.startedAt)}
        {run.finishedAt ? ` · finished ${formatTime(run.finishedAt)}` : ''}
        {progress?.reboots.length
          ? ` · ${progress.reboots.length} reboot(s): ${progress.reboots.map((r) => `${r.reason} (${r.seconds}s)`).join(', ')}`
          : ''}
      </Text>
      {!progress ? (
        <Empty title="No step detail">
          The workflow's live progress is gone (the run ended long ago); its outcome is above.
        </Empty>
      ) : (
        <SimpleGrid cols={2}>
          {[...phases.entries()].map(([phase, steps]) => (
            <Card withBorder key={phase}>
              <Title order={2} size="h5" mb="xs" tt="capitalize">
                {phase}
              </Title>
              <Timeline bulletSize={20} lineWidth={2}>
                {steps.map((s) => (
                  <Timeline.Item
                    key={s.key}
                    bullet={
                      <Text span size="xs" fw={700} c={`${stepColor[s.status]}.9`} aria-hidden>
                        {stepMark[s.status]}
                      </Text>
                    }
                    title={s.label}
                    data-testid={`step-${s.key}`}
                  >
                    <Text size="xs" c="dimmed">
                      {s.status}
                      {s.alreadyDone ? ' (already done)' : ''}
                      {s.attempts > 1 ? ` · ${s.attempts} attempts` : ''}
                      {s.finishedAt && s.startedAt
                        ? ` · ${Math.max(0, Math.round((new Date(s.finishedAt).getTime() - new Date(s.startedAt).getTime()) / 1000))}s`
                        : ''}
                    </Text>
                    {s.error && (
                      <Text size="xs" c="red.9">
                        {s.error.type}: {s.error.message}
                      </Text>
                    )}
                  </Timeline.Item>
                ))}
              </Timeline>
            </Card>
          ))}
        </SimpleGrid>
      )}
      {run.validation.length > 0 && (
        <Card withBorder mt="md">
          <Title order={2} size="h4" mb="xs">
            Validation
          </Title>
          <Table>
            <Table.Tbody>
              {run.validation.map((v) => (
                <Table.Tr key={v.item}>
                  <Table.Td>{v.item}</Table.Td>
                  <Table.Td>
                    <Badge color={v.result === 'PASS' ? 'green' : 'red'}>{v.result}</Badge>
                  </Table.Td>
                  <Table.Td>{v.detail}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
    </>
  );
}
