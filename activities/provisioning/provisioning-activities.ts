import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/common';
import { appendAudit } from '../../infra/db/audit';
import { snapshotFleetMachines, type FleetSelection } from '../../infra/db/fleet-selection';
import { storeInventory } from '../machines/machine-activities';
import { withTenant, type EntityManager, type Orm } from '../../infra/db/orm';
import { buildPlan, isNetbiosName, renderName } from '../../infra/provisioning/plan';
import { StepKind } from '../../infra/wire/agent-steps';
import { resolveProfile, type ProfileLayer } from '../../infra/provisioning/profile';
import type { MachineRunStatus } from '../../infra/db/entities';
import {
  machineRunSettledSignal,
  type MachineRunSettled,
  type PlanStep,
  type ProvisionMachineInput,
} from '../../workflows/provisioning/contracts';
import {
  FleetRunIdKey,
  MachineIdKey,
  RunStatusKey,
  SiteIdKey,
  TenantIdKey,
} from '../../workflows/search-attributes';

/** Failure types of the provisioning activities; all permanent (an operator must change something). */
export enum ProvisioningFailure {
  ProfileNotFound = 'ProfileNotFound',
  MachineNotFound = 'MachineNotFound',
  FleetRunNotFound = 'FleetRunNotFound',
  InvalidProfile = 'InvalidProfile',
  NameTaken = 'NameTaken',
  InvalidName = 'InvalidName',
  NoFreeName = 'NoFreeName',
}

const permanent = (type: ProvisioningFailure, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true });

export interface PrepareMachineRunInput {
  tenantId: string;
  runId: string;
  machineId: string;
  profileId: string;
  /** Use the newest version of the run's profile (a retry after the profile was fixed). */
  refresh?: boolean;
}

export interface PreparedRun {
  plan: PlanStep[];
  profileId: string;
  profileName: string;
  profileVersion: number;
}

export interface MachineRunUpdate {
  tenantId: string;
  runId: string;
  status: MachineRunStatus | `${MachineRunStatus}`;
  phase?: string | null;
  step?: string | null;
  attempt?: number;
  lastError?: { type: string; message: string; step?: string } | null;
  validation?: { item: string; pass: boolean; detail: string }[];
  finished?: boolean;
  /** An inventory the run collected and has not stored yet: stored on the machine with this update. */
  inventory?: { machineId: string; report: Record<string, unknown> };
  /** The run settled (passed, failed, cancelled): its fleet run is told once the row says so. */
  settle?: { fleetWorkflowId: string; signal: MachineRunSettled };
}

export interface StartFleetMachinesInput {
  tenantId: string;
  fleetRunId: string;
  /** Told by each machine's run when it settles. */
  fleetWorkflowId: string;
  profileId: string;
  /** The next machines by sequence number: from this one, at most `limit`. */
  fromSeq: number;
  limit: number;
  /** Passed on to every machine's run. */
  runOptions: Pick<
    ProvisionMachineInput,
    'offlineLimitSeconds' | 'failedHoldSeconds' | 'retryBackoffSeconds'
  >;
}

export function createProvisioningActivities(deps: { orm: Orm }) {
  return {
    /**
     * Resolves the machine's effective config (tenant ⊕ client ⊕ site ⊕ profile ⊕ machine over the
     * Standard profile), records it on the run, reserves the machine's name (the rename step carries
     * it) and returns the plan. Idempotent.
     */
    async prepareMachineRun(input: PrepareMachineRunInput): Promise<PreparedRun> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const [chosen] = await em.execute<
          { id: string; name: string; version: number; document: ProfileLayer }[]
        >(
          `select p.id, p.name, p.version, p.document from profiles p
            where p.name = (select name from profiles where id = ?)
              and (? or p.id = ?)
            order by p.version desc limit 1`,
          [input.profileId, input.refresh === true, input.profileId],
        );
        if (!chosen) throw permanent(ProvisioningFailure.ProfileNotFound, 'the run’s profile was not found');
        const [layers] = await em.execute<
          {
            tenant: ProfileLayer;
            client: ProfileLayer;
            site: ProfileLayer;
            machine: ProfileLayer;
            site_id: string;
          }[]
        >(
          `select t.profile_layer as tenant, c.profile_layer as client, s.profile_layer as site, m.profile_layer as machine,
                  m.site_id
             from machines m join sites s on s.id = m.site_id join clients c on c.id = s.client_id
             join tenants t on t.tenant_id = m.tenant_id
            where m.id = ?`,
          [input.machineId],
        );
        if (!layers) throw permanent(ProvisioningFailure.MachineNotFound, 'machine not found');
        const resolved = resolveProfile([
          layers.tenant,
          layers.client,
          layers.site,
          chosen.document,
          layers.machine,
        ]);
        if (!resolved.ok) {
          throw permanent(
            ProvisioningFailure.InvalidProfile,
            `the effective config is invalid: ${resolved.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
          );
        }
        await em.execute(
          `update machine_runs set resolved_config = ?::jsonb, profile_id = ?, profile_version = ?,
                  status = 'running', started_at = coalesce(started_at, now()), updated_at = now(), finished_at = null
            where id = ?`,
          [JSON.stringify(resolved.profile), chosen.id, chosen.version, input.runId],
        );
        // The machine's name is reserved now, in this transaction: the rename step carries it.
        const plan = buildPlan(resolved.profile);
        for (const step of plan) {
          if (step.kind !== StepKind.Rename) continue;
          const { name } = await reserveName(em, {
            tenantId: input.tenantId,
            siteId: layers.site_id,
            machineId: input.machineId,
            template: String(step.payload.template),
          });
          step.payload = { name };
          step.label = `Rename to ${name}`;
        }
        return {
          plan,
          profileId: chosen.id,
          profileName: chosen.name,
          profileVersion: chosen.version,
        };
      });
    },

    /**
     * Reserves the machine's NetBIOS name in its site: unique within the site among reserved names
     * and other machines' current names. A {SEQ3} template takes the lowest free number. Idempotent
     * (the machine keeps its reservation while the template renders the same).
     */
    async reserveMachineName(input: ReserveNameInput): Promise<{ name: string }> {
      return withTenant(deps.orm, input.tenantId, (em) => reserveName(em, input));
    },

    /**
     * Mirrors a run's state to machine_runs for the portal (the workflow stays the source of truth);
     * when the run settles, then tells its fleet run (after the row is committed: the fleet's final
     * counts come from these rows). A repeat (a retry after the signal failed) writes the same row
     * and audits nothing twice; the fleet ignores a repeated signal.
     */
    async recordMachineRun(update: MachineRunUpdate): Promise<void> {
      await withTenant(deps.orm, update.tenantId, async (em) => {
        const [before] = await em.execute<{ status: string; finished: boolean }[]>(
          `with previous as (select id, status, finished_at from machine_runs where id = ? for update)
           update machine_runs m set status = ?,
                  phase = coalesce(?, phase), step = coalesce(?, step), attempt = coalesce(?, attempt),
                  last_error = case when ? then ?::jsonb else last_error end,
                  validation = coalesce(?::jsonb, validation),
                  finished_at = case when ? then now() else null end,
                  updated_at = now()
             from previous where m.id = previous.id
           returning previous.status, previous.finished_at is not null as finished`,
          [
            update.runId,
            update.status,
            update.phase ?? null,
            update.step ?? null,
            update.attempt ?? null,
            update.lastError !== undefined,
            update.lastError ? JSON.stringify(update.lastError) : null,
            update.validation ? JSON.stringify(update.validation) : null,
            update.finished === true,
          ],
        );
        if (update.inventory) {
          await storeInventory(
            em,
            update.inventory.machineId,
            update.inventory.report,
            'system:provision-machine',
          );
        }
        const repeat = before?.finished === true && before.status === update.status;
        if (update.finished && !repeat) {
          await auditRun(em, update);
          // A run that settles after its fleet run finished (a retry): keep the fleet's summary true.
          await em.execute(
            `update fleet_runs f set
                passed = (select count(*) from machine_runs r where r.fleet_run_id = f.id and r.status = 'passed'),
                failed = (select count(*) from machine_runs r where r.fleet_run_id = f.id and r.status = 'failed'),
                cancelled = (select count(*) from machine_runs r where r.fleet_run_id = f.id and r.status = 'cancelled')
              where f.id = (select fleet_run_id from machine_runs where id = ?) and f.finished_at is not null`,
            [update.runId],
          );
        }
      });
      if (update.settle) {
        try {
          await Context.current()
            .client.workflow.getHandle(update.settle.fleetWorkflowId)
            .signal(machineRunSettledSignal, update.settle.signal);
        } catch (err) {
          // The fleet run has finished (this is a late retry): the machine_runs row carries the outcome.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
    },

    /**
     * Starts the fleet run's next machines (by sequence number), each its own provisionMachine
     * workflow, and returns them. Started by this activity rather than as child workflows: a child's
     * start and its completion each go through the server's transfer queue and cost the fleet a
     * workflow task (ADR 0012). Safe to repeat: a run already started (an earlier attempt, a run of
     * the fleet before continue-as-new) is taken as started, never started again.
     */
    async startFleetMachines(input: StartFleetMachinesInput): Promise<{ workflowId: string; seq: number }[]> {
      const rows = await withTenant(deps.orm, input.tenantId, (em) =>
        em.execute<{ id: string; machine_id: string; site_id: string; workflow_id: string; seq: number }[]>(
          `select id, machine_id, site_id, workflow_id, seq from machine_runs
            where fleet_run_id = ? and seq >= ? order by seq limit ?`,
          [input.fleetRunId, input.fromSeq, input.limit],
        ),
      );
      const { client, info } = Context.current();
      await Promise.all(
        rows.map(async (row) => {
          const args: ProvisionMachineInput = {
            tenantId: input.tenantId,
            machineId: row.machine_id,
            siteId: row.site_id,
            runId: row.id,
            profileId: input.profileId,
            fleetRunId: input.fleetRunId,
            fleetWorkflowId: input.fleetWorkflowId,
            ...input.runOptions,
          };
          try {
            await client.workflow.start('provisionMachine', {
              taskQueue: info.taskQueue,
              workflowId: row.workflow_id,
              args: [args],
              // Running already: that run is ours. Finished already: never run it again.
              workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
              workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
              typedSearchAttributes: [
                { key: TenantIdKey, value: input.tenantId },
                { key: SiteIdKey, value: row.site_id },
                { key: MachineIdKey, value: row.machine_id },
                { key: FleetRunIdKey, value: input.fleetRunId },
                { key: RunStatusKey, value: 'running' },
              ],
            });
          } catch (err) {
            if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          }
        }),
      );
      return rows.map((r) => ({ workflowId: r.workflow_id, seq: r.seq }));
    },

    /**
     * The fleet run's check of what its signals told it (ADR 0014): which of the runs it waits for
     * have settled by their rows, and which were closed in Temporal without settling (terminated by
     * an engineer, timed out, failed by a fault in the code) — those are settled here as failed, with
     * the reason on their row. So a settle that never arrived costs the fleet two intervals (the
     * fleet waits one check for a late signal), not its end.
     */
    async reconcileFleetMachines(input: {
      tenantId: string;
      fleetRunId: string;
      workflowIds: string[];
    }): Promise<(MachineRunSettled & { closedInTemporal?: true })[]> {
      if (input.workflowIds.length === 0) return [];
      const waitingFor = new Set(input.workflowIds);
      // Few runs close this way, and visibility lists them in one query (their rows cannot say).
      const closed = new Map<string, string>();
      const { client, log } = Context.current();
      const query =
        `WorkflowType = 'provisionMachine' AND FleetRunId = '${input.fleetRunId.replaceAll("'", '')}'` +
        ` AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'`;
      for await (const run of client.workflow.list({ query })) {
        if (waitingFor.has(run.workflowId)) closed.set(run.workflowId, run.status.name);
      }
      return withTenant(deps.orm, input.tenantId, async (em) => {
        for (const [workflowId, status] of closed) {
          const how = status === 'TIMED_OUT' ? 'timed out' : status.toLowerCase();
          const lastError = {
            type: 'RunClosed',
            message: `the run was ${how} in Temporal, outside Drydock; start a new run for this machine`,
          };
          const [row] = await em.execute<{ id: string }[]>(
            `update machine_runs set status = 'failed', finished_at = now(), updated_at = now(),
                    last_error = ?::jsonb || jsonb_build_object('step', step)
              where fleet_run_id = ? and workflow_id = ? and finished_at is null
             returning id`,
            [JSON.stringify(lastError), input.fleetRunId, workflowId],
          );
          if (row) {
            log.warn('a machine run closed without settling: failed', { workflowId, status });
            await auditRun(em, { tenantId: input.tenantId, runId: row.id, status: 'failed', lastError });
          }
        }
        const rows = await em.execute<
          { id: string; workflow_id: string; status: MachineRunSettled['outcome'] }[]
        >(
          `select id, workflow_id, status from machine_runs
            where fleet_run_id = ? and status in ('passed', 'failed', 'cancelled')
              and workflow_id in (select jsonb_array_elements_text(?::jsonb))`,
          [input.fleetRunId, JSON.stringify(input.workflowIds)],
        );
        return rows.map((r) => ({
          runId: r.id,
          workflowId: r.workflow_id,
          outcome: r.status,
          ...(closed.has(r.workflow_id) ? { closedInTemporal: true } : {}),
        }));
      });
    },

    /**
     * Fixes the fleet run's machines once: one queued machine_runs row per selected active machine,
     * numbered 1..n. A repeat (activity retry, continue-as-new) counts the rows already there.
     */
    async snapshotFleetSelection(input: {
      tenantId: string;
      fleetRunId: string;
    }): Promise<{ total: number }> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const [fleet] = await em.execute<
          { selection: FleetSelection; profile_id: string; created_by: string }[]
        >(`select selection, profile_id, created_by from fleet_runs where id = ? for update`, [
          input.fleetRunId,
        ]);
        if (!fleet) throw permanent(ProvisioningFailure.FleetRunNotFound, 'fleet run not found');
        const [existing] = await em.execute<{ n: number }[]>(
          `select count(*)::int as n from machine_runs where fleet_run_id = ?`,
          [input.fleetRunId],
        );
        if (existing!.n > 0) return { total: existing!.n };
        const selected = await snapshotFleetMachines(em, {
          id: input.fleetRunId,
          selection: fleet.selection,
          profileId: fleet.profile_id,
          createdBy: fleet.created_by,
        });
        return { total: selected!.total };
      });
    },

    /** The fleet run's row; when it finishes, counts from machine_runs (never-started machines of a cancelled run become cancelled). */
    async recordFleetRun(input: {
      tenantId: string;
      fleetRunId: string;
      status: 'running' | 'paused' | 'cancelling' | 'cancelled' | 'completed';
      passed: number;
      failed: number;
      cancelled: number;
      finished?: boolean;
    }): Promise<{ passed: number; failed: number; cancelled: number }> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        let counts = { passed: input.passed, failed: input.failed, cancelled: input.cancelled };
        if (input.finished) {
          await em.execute(
            `update machine_runs set status = 'cancelled', finished_at = now(), updated_at = now()
              where fleet_run_id = ? and status = 'queued'`,
            [input.fleetRunId],
          );
          const [row] = await em.execute<{ passed: number; failed: number; cancelled: number }[]>(
            `select count(*) filter (where status = 'passed')::int as passed,
                    count(*) filter (where status = 'failed')::int as failed,
                    count(*) filter (where status = 'cancelled')::int as cancelled
               from machine_runs where fleet_run_id = ?`,
            [input.fleetRunId],
          );
          counts = row!;
        }
        await em.execute(
          `update fleet_runs set status = ?, passed = ?, failed = ?, cancelled = ?,
                  finished_at = case when ? then coalesce(finished_at, now()) else null end
            where id = ?`,
          [
            input.status,
            counts.passed,
            counts.failed,
            counts.cancelled,
            input.finished === true,
            input.fleetRunId,
          ],
        );
        if (input.finished) {
          await appendAudit(em, {
            tenantId: input.tenantId,
            actor: 'system:fleet-run',
            action: `fleet_run.${input.status}`,
            subjectType: 'fleet_run',
            subjectId: input.fleetRunId,
            data: counts,
          });
        }
        return counts;
      });
    },
  };
}

interface ReserveNameInput {
  tenantId: string;
  siteId: string;
  machineId: string;
  template: string;
}

async function reserveName(em: EntityManager, input: ReserveNameInput): Promise<{ name: string }> {
  // One allocation at a time per site: sequences and uniqueness are decided under this lock.
  await em.execute(`select pg_advisory_xact_lock(hashtext('machine-names:' || ?::text))`, [input.siteId]);
  const [ctx] = await em.execute<
    { code: string; serial: string | null; current: string | null; seq: number | null }[]
  >(
    `select s.code, m.hardware->>'systemSerial' as serial, n.name as current, n.sequence as seq
         from machines m join sites s on s.id = m.site_id
         left join machine_names n on n.site_id = s.id and n.machine_id = m.id
        where m.id = ? and s.id = ?`,
    [input.machineId, input.siteId],
  );
  if (!ctx) throw permanent(ProvisioningFailure.InvalidName, 'the machine is not in this site');
  const usesSeq = input.template.includes('{SEQ3}');
  const render = (seq: number) =>
    renderName(input.template, { site: ctx.code, serial: ctx.serial ?? '', seq });
  if (ctx.current && ctx.current === render(ctx.seq ?? 0)) return { name: ctx.current };

  const taken = async (name: string) => {
    const rows = await em.execute<{ n: number }[]>(
      `select count(*)::int as n from (
           select 1 from machine_names where site_id = ? and name = ? and machine_id <> ?
           union all
           select 1 from machines where site_id = ? and upper(hostname) = ? and id <> ? and status <> 'retired'
         ) x`,
      [input.siteId, name, input.machineId, input.siteId, name, input.machineId],
    );
    return rows[0]!.n > 0;
  };
  let name: string | null = null;
  let seq: number | null = null;
  if (usesSeq) {
    const used = await em.execute<{ sequence: number }[]>(
      `select sequence from machine_names where site_id = ? and sequence is not null and machine_id <> ? order by sequence`,
      [input.siteId, input.machineId],
    );
    const usedSet = new Set(used.map((u) => u.sequence));
    for (let candidate = 1; candidate <= 999 && name === null; candidate++) {
      if (usedSet.has(candidate)) continue;
      const rendered = render(candidate);
      if (!(await taken(rendered))) {
        name = rendered;
        seq = candidate;
      }
    }
    if (name === null)
      throw permanent(ProvisioningFailure.NoFreeName, `no free name left for ${input.template} in this site`);
  } else {
    name = render(0);
    if (await taken(name)) {
      throw permanent(
        ProvisioningFailure.NameTaken,
        `${name} is already used by another machine in this site; use {SEQ3} or {SERIAL4} in the name template`,
      );
    }
  }
  if (!isNetbiosName(name)) {
    throw permanent(
      ProvisioningFailure.InvalidName,
      `${JSON.stringify(name)} is not a NetBIOS-safe name (1–15 letters, digits, dashes; not all digits)`,
    );
  }
  await em.execute(`delete from machine_names where site_id = ? and machine_id = ?`, [
    input.siteId,
    input.machineId,
  ]);
  await em.execute(
    `insert into machine_names (tenant_id, site_id, name, machine_id, sequence) values (?, ?, ?, ?, ?)`,
    [input.tenantId, input.siteId, name, input.machineId, seq],
  );
  return { name };
}

async function auditRun(em: EntityManager, update: MachineRunUpdate): Promise<void> {
  const [row] = await em.execute<{ machine_id: string }[]>(
    `select machine_id from machine_runs where id = ?`,
    [update.runId],
  );
  await appendAudit(em, {
    tenantId: update.tenantId,
    actor: 'system:provision-machine',
    action: `machine_run.${update.status}`,
    subjectType: 'machine',
    subjectId: row?.machine_id ?? update.runId,
    data: { runId: update.runId, ...(update.lastError ? { error: update.lastError.type } : {}) },
  });
}

export type ProvisioningActivities = ReturnType<typeof createProvisioningActivities>;
