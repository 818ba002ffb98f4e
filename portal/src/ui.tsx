import { Alert, Anchor, Center, Loader, Modal, Stack, Text, Title } from '@mantine/core';
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { ApiError, roleAtLeast, type Role, type Session } from './api';
import { portalConfig, temporalWorkflowUrl, type PortalConfig } from './config';

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('no session');
  return session;
}

/** Children only for a role that may use them (the API refuses the others anyway). */
export function Can({ role, children }: { role: Role; children: ReactNode }) {
  return roleAtLeast(useSession().role, role) ? <>{children}</> : null;
}

export function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && typeof e.message === 'string') return new ApiError(e.code, e.message);
  return new ApiError('INTERNAL', error instanceof Error ? error.message : String(error));
}

/** Every error as a sentence and its stable code. */
export function ErrorNote({ error, title = 'That did not work' }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = asApiError(error);
  return (
    <Alert color="red" title={title} role="alert" data-testid="error">
      <Text size="sm">
        {e.message.charAt(0).toUpperCase() + e.message.slice(1)}.{' '}
        <Text span ff="monospace" fw={700}>
          ({e.code})
        </Text>
      </Text>
    </Alert>
  );
}

export function Empty({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Stack align="center" gap={4} py="xl" data-testid="empty">
      <Text fw={600}>{title}</Text>
      <Text c="dimmed" size="sm" ta="center" maw={520}>
        {children}
      </Text>
    </Stack>
  );
}

export function Loading({ label = 'Loading' }: { label?: string }) {
  return (
    <Center py="xl" role="status" aria-label={label}>
      <Loader size="sm" />
    </Center>
  );
}

export function PageTitle({ children, right }: { children: ReactNode; right?: ReactNode }) {
  return (
    <div style={{ display: 'flex', alignItems: 'center', justifyContent: 'space-between', marginBottom: 16 }}>
      <Title order={1} size="h2">
        {children}
      </Title>
      {right}
    </div>
  );
}

/** Loads once (and again on `reload()` or when `deps` change); `pollMs` refreshes in the background. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = [], pollMs?: number) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(async () => {
    try {
      const value = await loadRef.current();
      setData(value);
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }, []);
  useEffect(() => {
    setLoading(true);
    void reload();
    if (!pollMs) return;
    const timer = setInterval(() => void reload(), pollMs);
    return () => clearInterval(timer);
  }, deps);
  return { data, error, loading, reload };
}

/** Runs a mutation: `busy` while it runs (a long operation shows progress), its error kept for display. */
export function useAction<A extends unknown[], T>(action: (...args: A) => Promise<T>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(
    async (...args: A): Promise<T | undefined> => {
      setBusy(true);
      setError(null);
      try {
        return await action(...args);
      } catch (err) {
        setError(err);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [action],
  );
  return { run, busy, error, setError };
}

export const formatTime = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

export function ago(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** An agent polls at least every minute or so: seen within five minutes counts as online. */
export const isOnline = (lastSeenAt: string | null | undefined) =>
  !!lastSeenAt && Date.now() - new Date(lastSeenAt).getTime() < 5 * 60_000;

export const statusColor = (status: string) =>
  ({
    passed: 'green',
    completed: 'green',
    failed: 'red',
    running: 'blue',
    rebooting: 'cyan',
    queued: 'gray',
    paused: 'grape',
    cancelling: 'dark',
    cancelled: 'gray',
    Active: 'green',
    Pending: 'grape',
    Retired: 'gray',
  })[status] ?? 'gray';

/** A dialog about one thing (a site, a machine): open while `of` is set, its title and body made from it. */
export function DialogFor<T>({
  of,
  title,
  onClose,
  children,
}: {
  of: T | null;
  title: (of: T) => string;
  onClose: () => void;
  children: (of: T) => ReactNode;
}) {
  return (
    <Modal
      closeButtonProps={{ 'aria-label': 'Close' }}
      opened={of !== null}
      onClose={onClose}
      title={of !== null ? title(of) : ''}
      size="lg"
    >
      {of !== null && children(of)}
    </Modal>
  );
}

/** " — follow it in the Temporal UI" after a workflow's id, when the API knows the UI's address. */
export function FollowInTemporal({ workflowId }: { workflowId: string }) {
  const [config, setConfig] = useState<PortalConfig | null>(null);
  useEffect(() => void portalConfig().then(setConfig), []);
  const link = config && temporalWorkflowUrl(config, workflowId);
  if (!link) return null;
  return (
    <>
      {' '}
      — {/* Underlined: a link inside a sentence must not be told by its colour alone (axe). */}
      <Anchor href={link} target="_blank" rel="noreferrer" underline="always">
        follow it in the Temporal UI
      </Anchor>
    </>
  );
}
