import { readFileSync } from 'node:fs';

/**
 * This process's soft limit on open files (Linux: /proc/self/limits), or null where it cannot be
 * read. Every socket is a file descriptor; so are PostgreSQL and Temporal connections and logs.
 */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Descriptors kept free for everything that is not a client socket (pools, LISTEN, Temporal, logs). */
export const RESERVED_FILES = 256;

/**
 * How many client connections the API accepts at once when API_MAX_CONNECTIONS is unset: what the
 * open-file limit leaves after the reserve, so a flood of sockets is refused at the door instead of
 * exhausting descriptors (which would also cut the API off from PostgreSQL). docs/SECURITY.md.
 */
export function defaultMaxConnections(limit = openFileLimit()): number {
  if (limit === null) return 1000;
  return Math.max(64, limit - RESERVED_FILES);
}
