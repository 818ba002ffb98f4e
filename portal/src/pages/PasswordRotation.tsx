import { Button, Code, Divider, Group, NumberInput, Stack, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { gql } from '../api';
import { graphql } from '../gql';
import { DialogFor, ErrorNote, FollowInTemporal, formatTime, Loading, useAction, useLoad } from '../ui';

const ScheduleQuery = graphql(`
  query PasswordRotationSchedule($id: ID!) {
    passwordRotationSchedule(id: $id, scope: SITE) {
      scheduleId
      intervalDays
      nextRunAt
    }
  }
`);

const SetSchedule = graphql(`
  mutation SetPasswordRotationSchedule($id: ID!, $intervalDays: Int) {
    setPasswordRotationSchedule(id: $id, scope: SITE, intervalDays: $intervalDays) {
      scheduleId
      intervalDays
      nextRunAt
    }
  }
`);

const RotateNow = graphql(`
  mutation RotateSitePasswords($id: ID!) {
    rotateLocalAdminPasswords(id: $id, scope: SITE) {
      workflowId
    }
  }
`);

/**
 * A site's local admin password rotation (operator; ADR 0047): its schedule — every N days, or
 * none — and a rotation of every machine of the site now. Each machine's new password is escrowed
 * before it is set; the rotation's progress is in the Temporal UI.
 */
export function PasswordRotationModal({
  site,
  onClose,
}: {
  site: { id: string; code: string } | null;
  onClose: () => void;
}) {
  return (
    <DialogFor of={site} title={(s) => `Admin passwords of ${s.code}`} onClose={onClose}>
      {(s) => <PasswordRotation siteId={s.id} />}
    </DialogFor>
  );
}

function PasswordRotation({ siteId }: { siteId: string }) {
  const { data, error, loading, reload } = useLoad(() => gql(ScheduleQuery, { id: siteId }), [siteId]);
  const schedule = data?.passwordRotationSchedule ?? null;
  const [days, setDays] = useState<number | string>('');
  const [started, setStarted] = useState<string | null>(null);
  useEffect(() => setDays(schedule?.intervalDays ?? 30), [schedule?.intervalDays]);
  const save = useAction(async (intervalDays: number | null) => {
    await gql(SetSchedule, { id: siteId, intervalDays });
    await reload();
  });
  const rotate = useAction(async () => {
    const res = await gql(RotateNow, { id: siteId });
    setStarted(res.rotateLocalAdminPasswords.workflowId);
  });
  if (loading && !data) return <Loading label="Loading the rotation schedule" />;
  const valid = typeof days === 'number' && Number.isInteger(days) && days >= 1 && days <= 365;
  return (
    <Stack>
      <ErrorNote error={save.error ?? rotate.error ?? error} />
      <Text size="sm">
        Drydock rotates the local admin password of every machine of this site that has one in escrow: the new
        password is escrowed before the machine sets it, and every version stays listed on the machine. A
        machine offline past the offline limit fails its own rotation (in the audit log).
      </Text>
      <Text data-testid="rotation-schedule" role="status">
        {schedule
          ? `Every ${schedule.intervalDays} day(s); next ${formatTime(schedule.nextRunAt)}.`
          : 'No schedule: passwords are rotated after a reveal and when asked.'}
      </Text>
      <Group align="flex-end">
        <NumberInput
          label="Rotate every (days)"
          min={1}
          max={365}
          allowDecimal={false}
          value={days}
          onChange={setDays}
          error={valid ? undefined : 'A whole number of days from 1 to 365'}
          w={200}
        />
        <Button
          loading={save.busy}
          disabled={!valid}
          onClick={() => typeof days === 'number' && void save.run(days)}
        >
          {schedule ? 'Change schedule' : 'Set schedule'}
        </Button>
        {schedule && (
          <Button variant="outline" color="red" loading={save.busy} onClick={() => void save.run(null)}>
            Remove schedule
          </Button>
        )}
      </Group>
      <Divider />
      <Group justify="space-between">
        <Text size="sm">Rotate every machine of the site now (a rotation already running is joined).</Text>
        <Button variant="default" loading={rotate.busy} onClick={() => void rotate.run()}>
          Rotate now
        </Button>
      </Group>
      {started && (
        <Text size="sm" data-testid="rotation-started" role="status">
          Rotation started: <Code>{started}</Code>
          <FollowInTemporal workflowId={started} />.
        </Text>
      )}
    </Stack>
  );
}
