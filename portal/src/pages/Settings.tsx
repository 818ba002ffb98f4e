import { Button, Card, ColorInput, Group, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'wouter';
import { gql } from '../api';
import { graphql } from '../gql';
import { ErrorNote, PageTitle, useAction, useSession } from '../ui';

const UpdateBranding = graphql(`
  mutation UpdateBranding($input: BrandingInput!) {
    updateBranding(input: $input) {
      displayName
      logoUrl
      accentColor
    }
  }
`);

/** White-label (admin): the tenant's name, logo and accent colour as the portal shows them. */
export function SettingsPage() {
  const { tenant } = useSession();
  const [displayName, setDisplayName] = useState(tenant.branding.displayName);
  const [logoUrl, setLogoUrl] = useState(tenant.branding.logoUrl ?? '');
  const [accentColor, setAccentColor] = useState(tenant.branding.accentColor);
  const save = useAction(async () => {
    await gql(UpdateBranding, { input: { displayName, logoUrl: logoUrl || null, accentColor } });
    // The whole portal takes the new branding from the session: load it again.
    window.location.reload();
  });
  return (
    <>
      <PageTitle>Settings</PageTitle>
      <Card withBorder maw={640}>
        <Stack>
          <Text size="sm">How the portal looks for everyone in {tenant.name}.</Text>
          <TextInput
            label="Display name"
            value={displayName}
            onChange={(e) => setDisplayName(e.currentTarget.value)}
            required
          />
          <TextInput
            label="Logo URL"
            description="An https:// address, or a path on this server such as /drydock-logo.svg; empty for none"
            value={logoUrl}
            onChange={(e) => setLogoUrl(e.currentTarget.value)}
          />
          <ColorInput
            withEyeDropper={false}
            label="Accent colour"
            value={accentColor}
            onChange={setAccentColor}
            format="hex"
            swatches={['#0b7285', '#1c7ed6', '#5f3dc4', '#c2255c', '#2b8a3e', '#e8590c']}
          />
          <ErrorNote error={save.error} />
          <Group justify="flex-end">
            <Button loading={save.busy} onClick={() => void save.run()}>
              Save branding
            </Button>
          </Group>
        </Stack>
      </Card>
      <Card withBorder maw={640} mt="md">
        <Stack gap="xs">
          <Text fw={600}>Escrow</Text>
          <Text size="sm">
            The tenant key that machines' local admin and BitLocker recovery passwords are escrowed to: set it
            up, see its fingerprint, or recover it from the printed shares.
          </Text>
          <Group>
            <Button component={Link} href="/settings/escrow" variant="default">
              Open escrow settings
            </Button>
          </Group>
        </Stack>
      </Card>
    </>
  );
}
