import type { Orm } from './orm';

/**
 * Runs by kind and status across tenants, for the `drydock_runs` gauge: counts only, through the
 * `drydock_run_counts` function (migration 0019). Cached for 15 s so that several scrapers (or a
 * short scrape interval) cost the database one query per 15 s.
 */
export function runCounts(
  orm: Orm,
  cacheMs = 15_000,
): () => Promise<{ kind: string; status: string; n: number }[]> {
  let cached: { at: number; rows: Promise<{ kind: string; status: string; n: number }[]> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at >= cacheMs) {
      const rows = orm.em
        .getConnection()
        .execute<{ kind: string; status: string; n: string }[]>(
          `select kind, status, n from drydock_run_counts()`,
        )
        .then((r) => r.map((x) => ({ kind: x.kind, status: x.status, n: Number(x.n) })));
      cached = { at: now, rows };
      rows.catch(() => (cached = undefined));
    }
    return cached.rows;
  };
}
