import type { Orm } from '../../infra/db/orm';

export interface ThrottleSettings {
  perMinute: number;
  lockoutFailures: number;
  lockoutSeconds: number;
}

export type ThrottleVerdict =
  { ok: true } | { ok: false; code: 'RATE_LIMITED' | 'LOCKED_OUT'; retryAfterSeconds: number };

/**
 * Rate limit and lockout per (site code, source IP), kept in PostgreSQL so every API replica
 * enforces the same numbers. Checked before any key is looked up or hashed.
 */
export async function admitEnrollment(
  orm: Orm,
  siteCode: string,
  ip: string,
  s: ThrottleSettings,
): Promise<ThrottleVerdict> {
  const rows = await orm.em
    .getConnection()
    .execute<{ attempts: number; locked_for: number | null; window_left: number }[]>(
      `insert into enrollment_throttle as t (site_code, source_ip, attempts) values (?, ?, 1)
     on conflict (site_code, source_ip) do update set
       attempts = case when t.window_started_at < now() - interval '1 minute' then 1 else t.attempts + 1 end,
       window_started_at = case when t.window_started_at < now() - interval '1 minute' then now() else t.window_started_at end,
       failures = case when t.locked_until is not null and t.locked_until <= now() then 0 else t.failures end,
       locked_until = case when t.locked_until <= now() then null else t.locked_until end
     returning attempts,
       ceil(extract(epoch from (locked_until - now())))::int as locked_for,
       ceil(extract(epoch from (window_started_at + interval '1 minute' - now())))::int as window_left`,
      [siteCode, ip],
    );
  const row = rows[0]!;
  if (row.locked_for !== null && row.locked_for > 0)
    return { ok: false, code: 'LOCKED_OUT', retryAfterSeconds: row.locked_for };
  if (row.attempts > s.perMinute)
    return { ok: false, code: 'RATE_LIMITED', retryAfterSeconds: Math.max(row.window_left, 1) };
  return { ok: true };
}

export async function recordEnrollmentFailure(
  orm: Orm,
  siteCode: string,
  ip: string,
  s: ThrottleSettings,
): Promise<void> {
  await orm.em.getConnection().execute(
    `update enrollment_throttle set failures = failures + 1,
       locked_until = case when failures + 1 >= ? then now() + make_interval(secs => ?) else locked_until end
     where site_code = ? and source_ip = ?`,
    [s.lockoutFailures, s.lockoutSeconds, siteCode, ip],
  );
}

export async function recordEnrollmentSuccess(orm: Orm, siteCode: string, ip: string): Promise<void> {
  await orm.em
    .getConnection()
    .execute(`update enrollment_throttle set failures = 0 where site_code = ? and source_ip = ?`, [
      siteCode,
      ip,
    ]);
}
