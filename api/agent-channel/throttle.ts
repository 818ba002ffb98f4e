import { isIP } from 'node:net';
import type { Orm } from '../../infra/db/orm';

export interface GuardSettings {
  /** Failed enrollments a source may make within `lockoutSeconds` before it is locked out. */
  lockoutFailures: number;
  lockoutSeconds: number;
}

export type GuardVerdict = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * The source an enrollment is counted against: an IPv4 address, or the /64 an IPv6 address is in
 * (one subscriber line usually holds a whole /64, so counting single IPv6 addresses counts nothing).
 * IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function enrollmentSource(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip.slice(0, 64);
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Failed guesses per source address, kept in PostgreSQL so every API replica counts the same
 * ones. Independent of what the request claims (its site code): a guesser cannot spread its
 * attempts over names. Only failures are counted, so a site imaging hundreds of machines behind
 * one NAT address is never held up by this guard (its valid enrollments have a budget per site,
 * see enrollment.ts). Read before any key is looked up; rows exist only for sources that failed.
 */
export async function admitEnrollment(orm: Orm, source: string): Promise<GuardVerdict> {
  const [row] = await orm.em.getConnection().execute<{ locked_for: number | null }[]>(
    `select ceil(extract(epoch from (locked_until - now())))::int as locked_for
         from enrollment_guard where source = ? and locked_until > now()`,
    [source],
  );
  return row?.locked_for ? { ok: false, retryAfterSeconds: row.locked_for } : { ok: true };
}

/**
 * Counts a failed enrollment; the `lockoutFailures`th within the window locks the source out for
 * `lockoutSeconds`. A window that ended, or a lockout that ended, starts the count again.
 */
export async function recordEnrollmentFailure(orm: Orm, source: string, s: GuardSettings): Promise<void> {
  const restart = `(g.window_started_at < now() - make_interval(secs => :span)
                    or (g.locked_until is not null and g.locked_until <= now()))`;
  const failures = `(case when ${restart} then 1 else g.failures + 1 end)`;
  await orm.em.getConnection().execute(
    `insert into enrollment_guard as g (source, failures, locked_until)
     values (:source, 1, case when 1 >= :limit then now() + make_interval(secs => :span) end)
     on conflict (source) do update set
       failures = ${failures},
       window_started_at = case when ${restart} then now() else g.window_started_at end,
       locked_until = case
         when g.locked_until > now() then g.locked_until
         when ${failures} >= :limit then now() + make_interval(secs => :span)
       end,
       updated_at = now()`
      .replace(/:span/g, String(Math.trunc(s.lockoutSeconds)))
      .replace(/:limit/g, String(Math.trunc(s.lockoutFailures)))
      .replace(':source', '?'),
    [source],
  );
}

/** Rows whose window and lockout are over carry nothing: delete them (any replica may, any time). */
export async function purgeEnrollmentGuard(orm: Orm, s: GuardSettings): Promise<number> {
  const rows = await orm.em.getConnection().execute<{ n: number }[]>(
    `with gone as (
       delete from enrollment_guard
        where updated_at < now() - make_interval(secs => ?)
          and (locked_until is null or locked_until < now())
       returning 1)
     select count(*)::int as n from gone`,
    [s.lockoutSeconds],
  );
  return rows[0]?.n ?? 0;
}
