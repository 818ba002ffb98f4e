import {
  Alert,
  AppShell,
  Badge,
  Button,
  colorsTuple,
  createTheme,
  Group,
  Image,
  MantineProvider,
  NavLink,
  Text,
  Title,
} from '@mantine/core';
import { useEffect, useState } from 'react';
import { Link, Route, Switch, useLocation } from 'wouter';
import { loadSession, signIn, signOut, type Session } from './api';
import { AuditPage } from './pages/Audit';
import { DashboardPage } from './pages/Dashboard';
import { EscrowPage } from './pages/Escrow';
import { EscrowRecoveryPage } from './pages/EscrowRecovery';
import { MachineDetailPage } from './pages/MachineDetail';
import { MachinesPage } from './pages/Machines';
import { MigrationsPage } from './pages/Migrations';
import { ProfilesPage } from './pages/Profiles';
import { FleetRunPage, MachineRunPage, NewRunPage, RunsPage } from './pages/Runs';
import { SettingsPage } from './pages/Settings';
import { SiteDiscoveryPage } from './pages/SiteDiscovery';
import { SitesPage } from './pages/Sites';
import { ErrorNote, Loading, SessionContext } from './ui';

const nav = [
  { href: '/', label: 'Fleet' },
  { href: '/machines', label: 'Machines' },
  { href: '/sites', label: 'Sites' },
  { href: '/runs', label: 'Runs' },
  { href: '/migrations', label: 'Migrations' },
  { href: '/profiles', label: 'Profiles' },
  { href: '/audit', label: 'Audit log' },
];

/** Pages reached without a session (the API's sign-in sends errors and sign-outs here). */
function Outside({ path }: { path: string }) {
  const code = new URLSearchParams(window.location.search).get('code') ?? 'SIGN_IN_FAILED';
  return (
    <MantineProvider>
      <main style={{ maxWidth: 520, margin: '80px auto', padding: 16 }}>
        <Title order={1} size="h2" mb="md">
          Drydock
        </Title>
        {path === '/signin-error' ? (
          <ErrorNote
            title="Sign-in failed"
            error={{ code, message: signInErrors[code] ?? 'the sign-in could not be completed' }}
          />
        ) : (
          <Text mb="md">You are signed out.</Text>
        )}
        <Button mt="md" onClick={() => signIn('/')}>
          Sign in
        </Button>
      </main>
    </MantineProvider>
  );
}

const signInErrors: Record<string, string> = {
  NO_TENANT_MAPPING:
    'your identity provider account is not mapped to a Drydock tenant; ask your administrator to add you',
  OIDC_STATE_MISMATCH: 'the sign-in took too long or was started in another tab; sign in again',
};

/**
 * The accent as buttons, links and badges use it: darkened until white text on it (and it as text on
 * white) reaches WCAG AA's 4.5:1. The header bar keeps the exact accent.
 */
export function readableOnWhite(hex: string): string {
  let [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  const lum = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const contrast = () => 1.05 / (0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b) + 0.05);
  while (contrast() < 4.6) [r, g, b] = [r, g, b].map((c) => Math.floor(c * 0.9)) as [number, number, number];
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** Secondary text and error text dark enough for WCAG AA contrast on white. */
const contrast = () => ({
  variables: {},
  light: { '--mantine-color-dimmed': '#495057', '--mantine-color-error': '#c92a2a' },
  dark: {},
});

export function App() {
  const [location] = useLocation();
  const outside = location === '/signin-error' || location === '/signed-out';
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (outside) return;
    loadSession().then(
      (s) => (s ? setSession(s) : signIn()),
      (err) => setError(err),
    );
  }, [outside]);
  if (outside) return <Outside path={location} />;
  if (error)
    return (
      <MantineProvider>
        <main style={{ padding: 32 }}>
          <ErrorNote error={error} />
        </main>
      </MantineProvider>
    );
  if (!session)
    return (
      <MantineProvider>
        <main>
          <Loading label="Signing in" />
        </main>
      </MantineProvider>
    );
  const { branding } = session.tenant;
  const accent = /^#[0-9a-f]{6}$/i.test(branding.accentColor) ? branding.accentColor : '#1c7ed6';
  const theme = createTheme({
    primaryColor: 'brand',
    colors: { brand: colorsTuple(readableOnWhite(accent)) },
    autoContrast: true,
    // Alert titles in black: a coloured title on the alert's tinted background falls below AA.
    components: { Alert: Alert.extend({ styles: { title: { color: 'var(--mantine-color-black)' } } }) },
  });
  return (
    <MantineProvider theme={theme} cssVariablesResolver={contrast}>
      <SessionContext.Provider value={session}>
        <Shell session={session} />
      </SessionContext.Provider>
    </MantineProvider>
  );
}

function Shell({ session }: { session: Session }) {
  const [location] = useLocation();
  const { branding } = session.tenant;
  return (
    <AppShell header={{ height: 60 }} navbar={{ width: 200, breakpoint: 0 }} padding="md">
      <AppShell.Header>
        <Group
          h="100%"
          px="md"
          justify="space-between"
          style={{ borderTop: `4px solid ${branding.accentColor}` }}
          data-testid="brand-bar"
        >
          <Group gap="sm">
            {branding.logoUrl && <Image src={branding.logoUrl} alt="" h={32} w="auto" fit="contain" />}
            <Text fw={700} size="lg" data-testid="tenant-name">
              {branding.displayName || session.tenant.name}
            </Text>
          </Group>
          <Group gap="sm">
            <Text size="sm">{session.user.email}</Text>
            <Badge variant="outline" color="dark" data-testid="role">
              {session.role}
            </Badge>
            <Button variant="default" size="xs" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <nav>
          {nav.concat(session.role === 'admin' ? [{ href: '/settings', label: 'Settings' }] : []).map((n) => (
            <NavLink
              key={n.href}
              component={Link}
              variant="filled"
              href={n.href}
              label={n.label}
              active={n.href === '/' ? location === '/' : location.startsWith(n.href)}
            />
          ))}
        </nav>
      </AppShell.Navbar>
      <AppShell.Main>
        <Switch>
          <Route path="/" component={DashboardPage} />
          <Route path="/machines" component={MachinesPage} />
          <Route path="/machines/:id">{(p) => <MachineDetailPage id={p.id} />}</Route>
          <Route path="/sites" component={SitesPage} />
          <Route path="/sites/:id/onboarding">{(p) => <SiteDiscoveryPage id={p.id} />}</Route>
          <Route path="/runs" component={RunsPage} />
          <Route path="/runs/new" component={NewRunPage} />
          <Route path="/runs/:id">{(p) => <FleetRunPage id={p.id} />}</Route>
          <Route path="/machine-runs/:id">{(p) => <MachineRunPage id={p.id} />}</Route>
          <Route path="/migrations" component={MigrationsPage} />
          <Route path="/profiles" component={ProfilesPage} />
          <Route path="/audit" component={AuditPage} />
          <Route path="/settings" component={SettingsPage} />
          <Route path="/settings/escrow" component={EscrowPage} />
          <Route path="/settings/escrow/recovery" component={EscrowRecoveryPage} />
          <Route>
            <ErrorNote error={{ code: 'NOT_FOUND', message: 'there is no page at this address' }} />
          </Route>
        </Switch>
      </AppShell.Main>
    </AppShell>
  );
}
