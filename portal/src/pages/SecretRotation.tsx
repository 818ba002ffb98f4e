import { Button, Code, Group, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { gql } from '../api';
import { graphql } from '../gql';
import { DialogFor, ErrorNote, FollowInTemporal, useAction } from '../ui';

const RotateBitLocker = graphql(`
  mutation RotateBitLockerRecoveryPassword($machineId: ID!) {
    rotateBitLockerRecoveryPassword(machineId: $machineId) {
      workflowId
      joined
    }
  }
`);

const RotateLocalAdmin = graphql(`
  mutation RotateLocalAdminPassword($machineId: ID!) {
    rotateLocalAdminPassword(machineId: $machineId) {
      workflowId
      joined
    }
  }
`);

type Started = { workflowId: string; joined: boolean };

/** What each kind of rotation does on the machine, in the dialog's words. */
const kinds = {
  bitlocker: {
    label: 'BitLocker recovery password',
    testId: 'bitlocker-rotation',
    rotate: async (machineId: string) =>
      (await gql(RotateBitLocker, { machineId })).rotateBitLockerRecoveryPassword,
    does: 'Drydock escrows a new recovery password first, then adds it to the system volume and removes the old one; the TPM protector stays.',
  },
  'local-admin': {
    label: 'local admin password',
    testId: 'local-admin-rotation',
    rotate: async (machineId: string) =>
      (await gql(RotateLocalAdmin, { machineId })).rotateLocalAdminPassword,
    does: 'Drydock escrows a new password first, then sets it on the machine’s local admin account.',
  },
} as const;

/**
 * One of a machine's escrowed secrets rotated on demand (operator role, ADR 0047): asked for in a
 * dialog that says what happens on the machine, and that a rotation already running or waiting out
 * a reveal's grace is joined, not hurried (one waiting to try again after a failure tries now).
 */
export function SecretRotation({
  machineId,
  hostname,
  kind,
}: {
  machineId: string;
  hostname: string;
  kind: keyof typeof kinds;
}) {
  const { label, testId, rotate: start, does } = kinds[kind];
  const [asking, setAsking] = useState(false);
  const [started, setStarted] = useState<Started | null>(null);
  const rotate = useAction(async () => {
    setStarted(await start(machineId));
    setAsking(false);
  });
  return (
    <>
      <Button
        size="xs"
        variant="default"
        onClick={() => {
          rotate.setError(null);
          setAsking(true);
        }}
      >
        Rotate {label}
      </Button>
      {started && (
        <Text size="sm" data-testid={testId} role="status" w="100%">
          {started.joined
            ? 'A rotation of this machine was already running or waiting (after a reveal it waits out its grace period first); your request joined it: '
            : 'Rotation started: '}
          <Code>{started.workflowId}</Code>
          <FollowInTemporal workflowId={started.workflowId} />. The new version is listed here once the
          machine has it.
        </Text>
      )}
      <DialogFor
        of={asking ? hostname : null}
        title={(h) => `Rotate the ${label} of ${h}`}
        onClose={() => setAsking(false)}
      >
        {() => (
          <Stack>
            <ErrorNote error={rotate.error} title="Not rotated" />
            <Text size="sm">
              {does} The machine must come online within the offline limit to take the step. Use it after a
              restore lost the escrowed version, or when the current value may have been seen.
            </Text>
            <Text size="sm">
              A rotation of this machine already running or waiting — after a reveal it waits out the grace
              period first — is joined, not hurried; one waiting to try again after a failure tries now.
            </Text>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setAsking(false)}>
                Keep the current password
              </Button>
              <Button loading={rotate.busy} onClick={() => void rotate.run()}>
                Rotate now
              </Button>
            </Group>
          </Stack>
        )}
      </DialogFor>
    </>
  );
}
