import type { TypedDocumentString } from './gql/graphql';

/** A refusal the portal shows as a sentence and its stable code (from the API or the network). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The error's other `extensions` (e.g. `retryAfterSeconds` of REVEAL_RATE_LIMITED). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Session {
  user: { id: string; email: string; name: string };
  tenant: {
    id: string;
    name: string;
    branding: { displayName: string; logoUrl: string | null; accentColor: string };
  };
  role: Role;
  canRevealSecrets: boolean;
  clientScope: string[] | null;
  csrfToken: string;
}

export type Role = 'viewer' | 'operator' | 'engineer' | 'admin';
const rank: Record<Role, number> = { viewer: 0, operator: 1, engineer: 2, admin: 3 };
export const roleAtLeast = (role: Role, needed: Role) => rank[role] >= rank[needed];

let csrfToken = '';

/** The signed-in session, or null (401): the caller then sends the browser to /auth/login. */
export async function loadSession(): Promise<Session | null> {
  const res = await fetch('/auth/session', {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  });
  if (res.status === 401) return null;
  if (!res.ok) throw new ApiError(`HTTP_${res.status}`, `the session could not be read (HTTP ${res.status})`);
  const session = (await res.json()) as Session;
  csrfToken = session.csrfToken;
  return session;
}

export function signIn(returnTo = window.location.pathname + window.location.search): void {
  window.location.assign(`/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
}

export async function signOut(): Promise<void> {
  await fetch('/auth/logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-drydock-csrf': csrfToken },
  });
  window.location.assign('/signed-out');
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } & Record<string, unknown> }[];
}

function failure(body: GraphQLResponse<unknown>): ApiError | null {
  const first = body.errors?.[0];
  if (!first) return null;
  const { code, ...details } = first.extensions ?? {};
  return new ApiError(code ?? 'INTERNAL', first.message, details);
}

/** One GraphQL operation as the signed-in user (cookie + CSRF header); throws ApiError on any error. */
export async function gql<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-drydock-csrf': csrfToken,
      },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
  } catch {
    throw new ApiError('NETWORK', 'the API could not be reached; check your connection and try again');
  }
  const body = (await res.json().catch(() => ({}))) as GraphQLResponse<TResult>;
  const error = failure(body);
  if (error?.code === 'UNAUTHENTICATED') signIn();
  if (error) throw error;
  if (!body.data)
    throw new ApiError(`HTTP_${res.status}`, `the API answered HTTP ${res.status} without data`);
  return body.data;
}

/**
 * A subscription over the API's SSE endpoint (POST /graphql, Accept: text/event-stream): calls
 * `onNext` with each value until the server ends the stream or `stop()` is called.
 */
export function subscribe<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  onNext: (data: TResult) => void,
  onError: (error: ApiError) => void,
  onEnd: () => void = () => {},
): () => void {
  const abort = new AbortController();
  void (async () => {
    try {
      const res = await fetch('/graphql', {
        method: 'POST',
        signal: abort.signal,
        credentials: 'same-origin',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          'x-drydock-csrf': csrfToken,
        },
        body: JSON.stringify({ query: document.toString(), variables }),
      });
      if (!res.body) throw new ApiError(`HTTP_${res.status}`, `the live feed answered HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(message)?.[1];
          const data = message
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          if (event === 'complete') return onEnd();
          if (!data) continue;
          const body = JSON.parse(data) as GraphQLResponse<TResult>;
          const error = failure(body);
          if (error) return onError(error);
          if (body.data) onNext(body.data);
        }
      }
      onEnd();
    } catch (err) {
      if (abort.signal.aborted) return;
      onError(
        err instanceof ApiError
          ? err
          : new ApiError('NETWORK', 'the live feed was interrupted; reload to follow again'),
      );
    }
  })();
  return () => abort.abort();
}
