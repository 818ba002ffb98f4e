import { Client as PgClient } from 'pg';
import { loadEnv } from '../../infra/config/env';
import { DEV_APP_PASSWORD, migrate, withDatabase } from '../../infra/db/database';
import { resolvePostgres } from '../../infra/postgres/resolve';
import { dropDatabase } from '../helpers/shared';

/**
 * Index check at scale (issue 18): the statements the agent channel, the runs and retention run
 * most, EXPLAIN ANALYZEd as the app role (row-level security on) with 10,000 machines, 100,000
 * machine runs in 10 fleet runs and 1,000,000 agent tasks — and, as the baseline in the same run,
 * the same statements over 1% of that data. Prints each statement's plan root, whether any
 * sequential scan is left on a big table, and its time at both sizes.
 */
const TENANTS = 10;
const MACHINES = 10_000;
const TASKS = 1_000_000;
const FLEETS = 10;

const out = (line: string) => process.stdout.write(`${line}\n`);

interface Probe {
  name: string;
  sql: string;
  params: () => unknown[];
  /** The tenant the app role acts for (row-level security); none: runs as the table owner, as a
   * SECURITY DEFINER function does (retention). */
  tenant?: string;
  /** Milliseconds it should stay under at full size (default 10). */
  targetMs?: number;
}

async function main(): Promise<void> {
  const env = loadEnv({ ...process.env, DRYDOCK_ENV: 'test' });
  const pg = await resolvePostgres(env);
  const dbName = `drydock_bench_idx_${process.pid}`;
  const adminUrl = withDatabase(pg.adminUrl, dbName);
  await dropDatabase(pg.adminUrl, dbName);
  await migrate(adminUrl, { appPassword: DEV_APP_PASSWORD });
  const db = new PgClient({ connectionString: adminUrl });
  await db.connect();
  try {
    await seed(db, 0.01);
    const probes = await probesFor(db);
    const small = await measure(db, probes);
    await seed(db, 0.99);
    await db.query('vacuum analyze');
    const big = await measure(db, probes);
    out(
      `indexes: ${MACHINES} machines, ${(TASKS / 1e6).toFixed(0)}M agent tasks, ${FLEETS} fleet runs; baseline: the same statements at 1% of the rows`,
    );
    for (const p of probes) {
      const b = big.get(p.name)!;
      const s = small.get(p.name)!;
      out(
        `  ${p.name}: ${b.ms.toFixed(2)} ms (baseline ${s.ms.toFixed(2)} ms, ${(b.ms / Math.max(s.ms, 0.01)).toFixed(1)}×); plan ${b.root}; ${b.seqScans.length ? `SEQ SCAN on ${b.seqScans.join(', ')}` : 'no sequential scan'} [target: no sequential scan on a big table, under ${p.targetMs ?? 10} ms]`,
      );
    }
  } finally {
    await db.end();
    await dropDatabase(pg.adminUrl, dbName);
  }
}

/** Adds `share` of the full data set, spread over the tenants; idempotent per call. */
async function seed(db: PgClient, share: number): Promise<void> {
  const machines = Math.round(MACHINES * share);
  const tasks = Math.round(TASKS * share);
  const existing = Number((await db.query('select count(*) as n from tenants')).rows[0].n);
  if (existing === 0) {
    for (let t = 0; t < TENANTS; t++) {
      await db.query(
        `with t as (insert into tenants (tenant_id, slug, name) values (gen_random_uuid(), $1, $1) returning tenant_id),
              c as (insert into clients (id, tenant_id, name) select gen_random_uuid(), tenant_id, 'Client' from t returning id, tenant_id),
              s as (insert into sites (id, tenant_id, client_id, code, name)
                    select gen_random_uuid(), tenant_id, id, 'SITE-' || $2, 'Site' from c returning id, tenant_id)
         insert into profiles (id, tenant_id, name, version, document, created_by)
         select gen_random_uuid(), tenant_id, 'Standard', 1, '{}', 'bench' from s`,
        [`bench-${t}`, t],
      );
    }
  }
  // Machines: round-robin over tenants, each in its tenant's one site.
  await db.query(
    `insert into machines (id, tenant_id, site_id, machine_uid, hostname, status, last_seen_at)
     select gen_random_uuid(), s.tenant_id, s.id, 'uid-' || g || '-' || $2, 'PC-' || lpad(g::text, 6, '0'), 'active', now()
       from generate_series(1, $1) g
       join lateral (select * from sites order by id offset (g % ${TENANTS}) limit 1) s on true`,
    [machines, share],
  );
  // Fleet runs, then one machine run per machine per fleet run (the first few fleets).
  await db.query(
    `insert into fleet_runs (id, tenant_id, workflow_id, profile_id, selection, concurrency, status, created_by, finished_at)
     select gen_random_uuid(), p.tenant_id, 'fleet-run:' || gen_random_uuid(), p.id, '{}', 100, 'completed', 'bench', now()
       from profiles p, generate_series(1, greatest(1, $1::int / ${TENANTS}))`,
    [Math.round(FLEETS * Math.max(share, 0.1))],
  );
  await db.query(
    `insert into machine_runs (id, tenant_id, machine_id, site_id, fleet_run_id, seq, workflow_id, profile_id, status, created_by, finished_at)
     select gen_random_uuid(), m.tenant_id, m.id, m.site_id, f.id,
            row_number() over (partition by f.id order by m.hostname), 'provision:' || gen_random_uuid(), f.profile_id,
            'passed', 'bench', now() - interval '40 days'
       from fleet_runs f join machines m on m.tenant_id = f.tenant_id
      where not exists (select 1 from machine_runs r where r.fleet_run_id = f.id)`,
  );
  // Agent tasks: mostly finished long ago, 1% open; spread over machines and workflows.
  await db.query(
    `insert into agent_tasks (id, tenant_id, machine_id, kind, idempotency_key, workflow_id, activity_id, status, created_at, finished_at,
                              deliver_by, task_token)
     select gen_random_uuid(), m.tenant_id, m.id, 'inventory.collect', 'k-' || gen_random_uuid(),
            'provision:' || m.id || ':' || (g / 40), (g % 40)::text,
            case when g % 100 = 0 then 'queued' else 'completed' end,
            now() - make_interval(days => (g % 60)), case when g % 100 = 0 then null else now() - make_interval(days => (g % 60)) end,
            -- Queued tasks' deadlines: from 5 minutes ago to 2 hours ahead (a few overdue, for the sweep).
            now() + make_interval(mins => (g / 100) % 125 - 5), '\\x00'::bytea
       from generate_series(1, $1) g,
            (select array_agg(id order by id) as ids, array_agg(tenant_id order by id) as tenants, count(*)::int as n
               from machines) all_m,
            lateral (select all_m.ids[1 + g % all_m.n] as id, all_m.tenants[1 + g % all_m.n] as tenant_id) m`,
    [tasks],
  );
}

async function probesFor(db: PgClient): Promise<Probe[]> {
  const pick = async () =>
    (
      await db.query<{
        tenant_id: string;
        machine_id: string;
        workflow_id: string;
        fleet_run_id: string;
        key: string;
        id: string;
      }>(
        `select t.tenant_id, t.machine_id, t.workflow_id, t.idempotency_key as key, t.id,
                (select r.fleet_run_id from machine_runs r where r.tenant_id = t.tenant_id
                  group by r.fleet_run_id order by count(*) desc limit 1) as fleet_run_id
           from agent_tasks t order by random() limit 1`,
      )
    ).rows[0]!;
  const row = await pick();
  return [
    {
      name: 'claim (oldest open task of a machine)',
      sql: `select o.id from agent_tasks o
             where o.tenant_id = $1 and o.machine_id = $2
               and (o.status = 'delivered' or (o.status = 'queued' and (o.deliver_by is null or o.deliver_by > now())))
               and (o.expires_at is null or o.expires_at > now())
             order by o.created_at limit 1`,
      tenant: row.tenant_id,
      params: () => [row.tenant_id, row.machine_id],
    },
    {
      name: 'finish (a task by id)',
      sql: `select status from agent_tasks where tenant_id = $1 and machine_id = $2 and id = $3`,
      tenant: row.tenant_id,
      params: () => [row.tenant_id, row.machine_id, row.id],
    },
    {
      name: 'dispatch (a step by idempotency key)',
      sql: `select id from agent_tasks where tenant_id = $1 and idempotency_key = $2`,
      tenant: row.tenant_id,
      params: () => [row.tenant_id, row.key],
    },
    {
      name: "abandon (a run's open tasks)",
      sql: `select id from agent_tasks where tenant_id = $1 and workflow_id = $2 and status in ('queued', 'delivered')`,
      tenant: row.tenant_id,
      params: () => [row.tenant_id, row.workflow_id],
    },
    {
      name: "fleet progress (a fleet run's machines by status)",
      sql: `select status, count(*) from machine_runs where fleet_run_id = $1 group by status`,
      tenant: row.tenant_id,
      params: () => [row.fleet_run_id],
    },
    {
      name: 'machines page (100 by hostname)',
      sql: `select id, hostname, status from machines where tenant_id = $1 order by hostname limit 100`,
      tenant: row.tenant_id,
      params: () => [row.tenant_id],
    },
    {
      name: 'delivery sweep (queued tasks past their deadline, ADR 0052)',
      sql: `select t.task_token from agent_tasks t
             where t.status = 'queued' and t.deliver_by is not null and t.deliver_by <= now()
               and t.task_token is not null
             order by t.deliver_by limit 500`,
      params: () => [],
    },
    {
      name: 'retention (one batch of expired tasks)',
      sql: `select c.id from agent_tasks c
             where c.status in ('completed', 'failed', 'abandoned') and c.finished_at < now() - interval '30 days'
               and not exists (select 1 from machine_runs r where r.workflow_id = c.workflow_id and r.finished_at is null)
               and not exists (select 1 from agent_tasks n where n.workflow_id = c.workflow_id
                                and (n.finished_at is null or n.finished_at >= now() - interval '30 days'))
             limit 5000`,
      params: () => [],
      targetMs: 1000,
    },
  ];
}

/** Median of five runs of each probe as the app role with its tenant set (RLS applies). */
async function measure(
  db: PgClient,
  probes: Probe[],
): Promise<Map<string, { ms: number; root: string; seqScans: string[] }>> {
  const results = new Map<string, { ms: number; root: string; seqScans: string[] }>();
  for (const p of probes) {
    const times: number[] = [];
    let root = '';
    const seqScans = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const params = p.params();
      await db.query('begin');
      try {
        if (p.tenant) {
          await db.query('set local role drydock_app');
          await db.query(`select set_config('app.tenant_id', $1, true)`, [p.tenant]);
        }
        const { rows } = await db.query<{ 'QUERY PLAN': { Plan: PlanNode; 'Execution Time': number }[] }>(
          `explain (analyze, format json) ${p.sql}`,
          params,
        );
        const plan = rows[0]!['QUERY PLAN'][0]!;
        times.push(plan['Execution Time']);
        root = `${plan.Plan['Node Type']}${plan.Plan['Index Name'] ? ` (${plan.Plan['Index Name']})` : ''}`;
        walk(plan.Plan, (n) => {
          if (
            n['Node Type'] === 'Seq Scan' &&
            ['agent_tasks', 'machine_runs', 'machines'].includes(n['Relation Name'] ?? '')
          )
            seqScans.add(n['Relation Name']!);
          if (!root.includes('(') && n['Index Name'])
            root = `${root} → ${n['Node Type']} (${n['Index Name']})`;
        });
      } finally {
        await db.query('rollback');
      }
    }
    times.sort((a, b) => a - b);
    results.set(p.name, { ms: times[2]!, root, seqScans: [...seqScans] });
  }
  return results;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
function walk(node: PlanNode, visit: (n: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
