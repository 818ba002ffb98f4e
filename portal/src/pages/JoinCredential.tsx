import { Button, Code, Group, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { gql } from '../api';
import { graphql } from '../gql';
import { DialogFor, ErrorNote, Loading, useAction, useLoad } from '../ui';

const JoinCredentialQuery = graphql(`
  query SiteJoinCredential($siteId: ID!) {
    siteJoinCredential(siteId: $siteId) {
      domain
      user
      version
    }
  }
`);

const SetJoinCredential = graphql(`
  mutation SetJoinCredential($input: SetJoinCredentialInput!) {
    setJoinCredential(input: $input) {
      domain
      user
      version
    }
  }
`);

/**
 * A site's join credential (engineer; ADR 0048): the account its machines join the domain with when
 * a profile's join phase names credential "site". Shown by domain, account and version; the
 * password goes to the server once, sealed there, and is never shown again — not even here.
 */
export function JoinCredentialModal({
  site,
  onClose,
}: {
  site: { id: string; code: string } | null;
  onClose: () => void;
}) {
  return (
    <DialogFor of={site} title={(s) => `Domain join credential of ${s.code}`} onClose={onClose}>
      {(s) => <JoinCredential siteId={s.id} />}
    </DialogFor>
  );
}

function JoinCredential({ siteId }: { siteId: string }) {
  const { data, error, loading, reload } = useLoad(() => gql(JoinCredentialQuery, { siteId }), [siteId]);
  const [domain, setDomain] = useState('');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const save = useAction(async () => {
    await gql(SetJoinCredential, { input: { siteId, domain, user, password } });
    // The password leaves the page with the request: nothing keeps it after.
    setPassword('');
    await reload();
  });
  if (loading && !data) return <Loading label="Loading the join credential" />;
  const current = data?.siteJoinCredential ?? null;
  const complete = domain.trim() !== '' && user.trim() !== '' && password !== '';
  return (
    <Stack>
      <ErrorNote error={save.error ?? error} />
      <Text data-testid="join-credential" role="status">
        {current ? (
          <>
            Machines of this site join <Code>{current.domain}</Code> as <Code>{current.user}</Code> (version{' '}
            {current.version}).
          </>
        ) : (
          'No join credential: a profile whose join phase names credential "site" fails here until one is set.'
        )}
      </Text>
      <Text size="sm">
        Use an account that may create computer objects in the join OU and nothing more. The password is
        sealed on the server and reaches only a machine of this site, for its join step; it is never shown
        again.
        {current ? ' Saving replaces the current credential.' : ''}
      </Text>
      <TextInput
        label="Domain (DNS name)"
        placeholder="contoso.com"
        value={domain}
        onChange={(e) => setDomain(e.currentTarget.value)}
        autoComplete="off"
      />
      <TextInput
        label="Account"
        placeholder="CONTOSO\svc-join or svc-join@contoso.com"
        value={user}
        onChange={(e) => setUser(e.currentTarget.value)}
        autoComplete="off"
      />
      <PasswordInput
        label="Password"
        value={password}
        onChange={(e) => setPassword(e.currentTarget.value)}
        autoComplete="new-password"
      />
      <Group justify="flex-end">
        <Button loading={save.busy} disabled={!complete} onClick={() => void save.run()}>
          {current ? 'Replace credential' : 'Save credential'}
        </Button>
      </Group>
    </Stack>
  );
}
