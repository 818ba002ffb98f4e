import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { appendAudit } from '../../infra/db/audit';
import type { FleetSelection } from '../../infra/db/entities';
import {
  confirmEscrowedSecret,
  escrowedSecret,
  escrowRecipientOf,
  nextSecretVersion,
} from '../../infra/db/escrow';
import type { EscrowKind } from '../../infra/wire/escrow-envelope';
import { withTenant, type EntityManager, type Orm } from '../../infra/db/orm';
import {
  abandonRunTasks,
  beginMachineRun,
  closeFleetMachines,
  fleetCounts,
  healMachineRun,
  recordMachineRun,
  settleWithFleet,
  snapshotFleetMachines,
  startMachineRun,
  type MachineRunUpdate,
} from '../../infra/provisioning/machine-runs';
import { buildPlan, isNetbiosName, renderName } from '../../infra/provisioning/plan';
import { joinCredentialFor } from '../../infra/db/domain-credentials';
import { resolveProfile, type ProfileLayer } from '../../infra/provisioning/profile';
import {
  cancelSignal,
  type MachineRunSettled,
  type PlanStep,
  type ProvisionMachineInput,
} from '../../workflows/provisioning/contracts';
import { storeInventory } from '../machines/machine-activities';

// The failure types live with the domain's contracts, where the API maps them to codes and sentences.
import { ProvisioningFailure } from '../../workflows/provisioning/contracts';
export { ProvisioningFailure };

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

/** A run's record: the row's update, a collected inventory to store with it, the fleet to tell. */
export interface RecordMachineRunInput extends MachineRunUpdate {
  /** An inventory the run collected and has not stored yet: stored on the machine with this update. */
  inventory?: { machineId: string; report: Record<string, unknown> };
  /** The run settled (passed, failed, cancelled): its fleet run is told once the row says so. */
  settle?: { fleetWorkflowId: string; signal: MachineRunSettled };
}

/** Machine runs a cancelled fleet signals at once. */
const CANCEL_PARALLELISM = 20;

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
  /** See reconcileFleetMachines below. */
  async function reconcile(input: {
    tenantId: string;
    fleetRunId: string;
    fleetWorkflowId?: string;
    workflowIds: string[];
  }): Promise<(MachineRunSettled & { closedInTemporal?: true })[]> {
    if (input.workflowIds.length === 0) return [];
    const waitingFor = new Set(input.workflowIds);
    const { client, log } = Context.current();
    // Few runs end this way, and visibility lists the candidates in one query; each candidate is
    // then judged by its current execution.
    const query =
      `WorkflowType = 'provisionMachine' AND FleetRunId = '${input.fleetRunId.replaceAll("'", '')}'` +
      ` AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'`;
    const candidates = new Set<string>();
    for await (const run of client.workflow.list({ query }))
      if (waitingFor.has(run.workflowId)) candidates.add(run.workflowId);
    const healed = new Set<string>();
    for (const workflowId of candidates) {
      const [row] = await withTenant(deps.orm, input.tenantId, (em) =>
        em.execute<{ id: string }[]>(
          `select id from machine_runs where fleet_run_id = ? and workflow_id = ?`,
          [input.fleetRunId, workflowId],
        ),
      );
      if (!row) continue;
      const outcome = await healMachineRun(deps.orm, client, input.tenantId, {
        id: row.id,
        workflowId,
        fleetRunId: input.fleetRunId,
      });
      if (outcome === 'healed') {
        healed.add(workflowId);
        log.warn('a machine run ended in Temporal without settling: healed', { workflowId });
      }
    }
    const rows = await withTenant(deps.orm, input.tenantId, (em) =>
      em.execute<{ id: string; workflow_id: string; status: MachineRunSettled['outcome'] }[]>(
        `select id, workflow_id, status from machine_runs
          where fleet_run_id = ? and status in ('passed', 'failed', 'cancelled')
            and workflow_id in (select jsonb_array_elements_text(?::jsonb))`,
        [input.fleetRunId, JSON.stringify(input.workflowIds)],
      ),
    );
    return rows.map((r) => ({
      runId: r.id,
      workflowId: r.workflow_id,
      outcome: r.status,
      ...(healed.has(r.workflow_id) ? { closedInTemporal: true } : {}),
    }));
  }

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
        await beginMachineRun(em, {
          runId: input.runId,
          resolvedConfig: resolved.profile,
          profileId: chosen.id,
          profileVersion: chosen.version,
        });
        // The machine's name is reserved now, in this transaction: the rename step carries it.
        const identity = resolved.profile.phases.identity;
        const reserved = identity.enabled
          ? await reserveName(em, {
              tenantId: input.tenantId,
              siteId: layers.site_id,
              machineId: input.machineId,
              template: identity.nameTemplate,
            })
          : null;
        // A security phase that escrows needs the tenant's escrow key (public: it goes in the plan).
        const security = resolved.profile.phases.security;
        const escrows = security.enabled && (!!security.localAdmin || !!security.bitlocker);
        const recipient = escrows ? await escrowRecipientOf(em, input.tenantId) : null;
        if (escrows && !recipient)
          throw permanent(
            ProvisioningFailure.EscrowKeyMissing,
            'the profile escrows the local admin password or the BitLocker recovery password, but the tenant has no escrow key',
          );
        // A domain join names the site's join credential by reference: its id goes in the plan, never its value.
        const joinDomain = resolved.profile.phases.join.enabled
          ? resolved.profile.phases.join.domain
          : undefined;
        const joinCredentialId = joinDomain
          ? await joinCredentialFor(em, {
              tenantId: input.tenantId,
              siteId: layers.site_id,
              credential: joinDomain.credential,
            })
          : null;
        if (joinDomain && !joinCredentialId)
          throw permanent(
            ProvisioningFailure.JoinCredentialMissing,
            joinDomain.credential === 'site'
              ? `the profile joins ${joinDomain.name}, but the machine's site has no join credential`
              : `the profile joins ${joinDomain.name} with join credential ${joinDomain.credential}, which is not a join credential of the machine's site`,
          );
        let plan: PlanStep[];
        try {
          plan = buildPlan(resolved.profile, {
            ...(reserved ? { hostname: reserved.name } : {}),
            ...(recipient ? { escrow: { machineId: input.machineId, recipient } } : {}),
            ...(joinCredentialId ? { joinCredentialId } : {}),
          });
        } catch (err) {
          // A plan that cannot be laid out stays so on every retry: the run fails, it does not
          // wait as `queued` for ever (a BitLocker-only profile did, before its escrow key was looked up).
          throw permanent(
            ProvisioningFailure.InvalidProfile,
            `the plan cannot be laid out: ${(err as Error).message}`,
          );
        }
        return {
          plan,
          profileId: chosen.id,
          profileName: chosen.name,
          profileVersion: chosen.version,
        };
      });
    },

    /** The next version of a machine's escrowed secret (each escrow round of a step takes a fresh one). */
    async nextEscrowVersion(input: {
      tenantId: string;
      machineId: string;
      kind: EscrowKind;
    }): Promise<number> {
      return withTenant(deps.orm, input.tenantId, (em) => nextSecretVersion(em, input));
    },

    /**
     * The machine set the escrowed secret: it becomes the confirmed version, and the rotation is
     * an audit event (issue 16, acceptance 4). Idempotent: a repeat audits nothing twice.
     */
    async confirmEscrow(input: {
      tenantId: string;
      escrowId: string;
      workflowId: string;
      /** BitLocker: the key protector that holds this version. */
      protectorId?: string;
      /** A rotation outside provisioning (ADR 0047): what made it run. */
      trigger?: string;
    }): Promise<void> {
      await withTenant(deps.orm, input.tenantId, async (em) => {
        const before = await escrowedSecret(em, input.escrowId);
        if (!before) throw new Error(`escrowed secret ${input.escrowId} not found`);
        if (before.confirmedAt) return;
        await confirmEscrowedSecret(em, {
          tenantId: input.tenantId,
          id: input.escrowId,
          protectorId: input.protectorId ?? null,
        });
        await appendAudit(em, {
          tenantId: input.tenantId,
          actor: `workflow:${input.workflowId}`,
          action: 'escrow.rotated',
          subjectType: 'escrowed_secret',
          subjectId: input.escrowId,
          data: {
            machineId: before.machineId,
            kind: before.kind,
            secretVersion: before.secretVersion,
            keyVersion: before.keyVersion,
            ...(before.account ? { account: before.account } : {}),
            ...(input.protectorId ? { protectorId: input.protectorId } : {}),
            ...(input.trigger ? { trigger: input.trigger } : {}),
          },
        });
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
     * Mirrors a run's state to its row (infra/provisioning/machine-runs.ts owns it); a collected
     * inventory goes to the machine in the same transaction. When the run settles, then tells its
     * fleet run, after the row is committed (the fleet's counts come from the rows). A repeat writes
     * the same row and audits nothing twice; the fleet ignores a repeated signal.
     */
    async recordMachineRun(update: RecordMachineRunInput): Promise<void> {
      const { inventory, settle, ...row } = update;
      const write = (reopen: boolean) =>
        withTenant(deps.orm, update.tenantId, async (em) => {
          const done = await recordMachineRun(em, { ...row, reopen });
          if (inventory && !done.settled)
            await storeInventory(em, inventory.machineId, inventory.report, 'system:provision-machine');
          return done;
        });
      // A settled row is reopened only by the workflow's current, running execution (a reset): an
      // execution terminated while this activity ran (and healed since) must not reopen it.
      if ((await write(false)).settled && (await isCurrentRunningExecution())) await write(true);
      if (settle) await settleWithFleet(Context.current().client, settle.fleetWorkflowId, settle.signal);
    },

    /**
     * Starts the fleet run's next machines (by sequence number), each its own provisionMachine
     * workflow, and returns them. Started by this activity rather than as child workflows: a child's
     * start and its completion each go through the server's transfer queue and cost the fleet a
     * workflow task (ADR 0012). Safe to repeat: a run already started (an earlier attempt, a run of
     * the fleet before continue-as-new) is taken as started, never started again.
     */
    async startFleetMachines(
      input: StartFleetMachinesInput,
    ): Promise<{ workflowId: string; seq: number; settled?: MachineRunSettled['outcome'] }[]> {
      const rows = await withTenant(deps.orm, input.tenantId, (em) =>
        em.execute<
          {
            id: string;
            machine_id: string;
            site_id: string;
            workflow_id: string;
            seq: number;
            hostname: string;
            status: string;
            finished: boolean;
          }[]
        >(
          `select r.id, r.machine_id, r.site_id, r.workflow_id, r.seq, m.hostname, r.status,
                  r.finished_at is not null as finished
             from machine_runs r join machines m on m.id = r.machine_id
            where r.fleet_run_id = ? and r.seq >= ? order by r.seq limit ?`,
          [input.fleetRunId, input.fromSeq, input.limit],
        ),
      );
      const { client, info } = Context.current();
      // A row that settled already (its run ran, or was healed or cancelled) is never started again.
      const toStart = rows.filter((r) => !r.finished);
      await Promise.all(
        toStart.map((row) =>
          startMachineRun(client, {
            tenantId: input.tenantId,
            run: {
              id: row.id,
              machineId: row.machine_id,
              siteId: row.site_id,
              workflowId: row.workflow_id,
              profileId: input.profileId,
              fleetRunId: input.fleetRunId,
              seq: row.seq,
            },
            hostname: row.hostname,
            taskQueue: info.taskQueue,
            fleetWorkflowId: input.fleetWorkflowId,
            options: input.runOptions,
          }),
        ),
      );
      return rows.map((r) => ({
        workflowId: r.workflow_id,
        seq: r.seq,
        ...(r.finished ? { settled: r.status as MachineRunSettled['outcome'] } : {}),
      }));
    },

    /**
     * The fleet run's check of what its signals told it (ADR 0014): which of the runs it waits for
     * have settled by their rows, and which ended in Temporal without settling (terminated by an
     * engineer, timed out, failed by a fault in the code) — those are healed here from the
     * workflow's current execution (a reset's new run is running: left alone). Only settled runs
     * come back: the fleet applies them.
     */
    reconcileFleetMachines: reconcile,

    /**
     * An operator cancelled a run whose step no machine has picked up (an offline laptop): the step
     * is taken back (abandoned), so the run can end now instead of at its offline limit. A step a
     * machine is running is left to finish. Returns how many were taken back.
     */
    async withdrawQueuedSteps(input: {
      tenantId: string;
      workflowId: string;
    }): Promise<{ withdrawn: number }> {
      const withdrawn = await withTenant(deps.orm, input.tenantId, (em) =>
        abandonRunTasks(
          em,
          input.tenantId,
          input.workflowId,
          'the run was cancelled before the machine picked the step up',
          true,
        ),
      );
      return { withdrawn };
    },

    /**
     * fleetRun v2's check (ADR 0014): the runs it waits for, from reconcileFleetMachines, sorted.
     * `closed`: healed from Temporal (apply at once). `late`: settled by their rows at this check and
     * the last one, with no signal — lost or very late; alerted. `suspects`: settled by their rows
     * at this check only (a signal may be on its way): the next check's `suspects` input.
     */
    async checkFleetMachines(input: {
      tenantId: string;
      fleetRunId: string;
      workflowIds: string[];
      suspects: string[];
    }): Promise<{ closed: MachineRunSettled[]; late: MachineRunSettled[]; suspects: string[] }> {
      const found = await reconcile(input);
      const before = new Set(input.suspects);
      const strip = ({ closedInTemporal: _c, ...s }: MachineRunSettled & { closedInTemporal?: true }) => s;
      const closed = found.filter((s) => s.closedInTemporal).map(strip);
      const unsignalled = found.filter((s) => !s.closedInTemporal).map(strip);
      const late = unsignalled.filter((s) => before.has(s.workflowId));
      if (late.length > 0) {
        await withTenant(deps.orm, input.tenantId, (em) =>
          em.execute(
            `insert into alerts (id, tenant_id, kind, message, data)
             values (gen_random_uuid(), ?, 'fleet_run.lost_signals', ?, ?::jsonb)`,
            [
              input.tenantId,
              `${late.length} machine run(s) of fleet run ${input.fleetRunId} settled without their signal reaching the fleet run; the check applied them (ADR 0014)`,
              JSON.stringify({ fleetRunId: input.fleetRunId, workflowIds: late.map((s) => s.workflowId) }),
            ],
          ),
        );
      }
      return {
        closed,
        late,
        suspects: unsignalled.filter((s) => !before.has(s.workflowId)).map((s) => s.workflowId),
      };
    },

    /**
     * A cancelled fleet run's fan-out: every machine run of the fleet that started and has not
     * finished (running, paused, failed and waiting for a retry) is told to cancel, a bounded number
     * at a time — from this activity, not one signal command per machine in the fleet's history.
     * Safe to repeat (a cancel signal to a cancelling run changes nothing).
     */
    async cancelFleetMachines(input: {
      tenantId: string;
      fleetRunId: string;
    }): Promise<{ signalled: number }> {
      const rows = await withTenant(deps.orm, input.tenantId, (em) =>
        em.execute<{ workflow_id: string }[]>(
          `select workflow_id from machine_runs
            where fleet_run_id = ? and finished_at is null and status <> 'queued'`,
          [input.fleetRunId],
        ),
      );
      const { client, heartbeat } = Context.current();
      const queue = rows.map((r) => r.workflow_id);
      let signalled = 0;
      await Promise.all(
        Array.from({ length: Math.min(CANCEL_PARALLELISM, queue.length) }, async () => {
          for (let id = queue.pop(); id; id = queue.pop()) {
            await client.workflow
              .getHandle(id)
              .signal(cancelSignal)
              .then(
                () => signalled++,
                (err: unknown) => {
                  if (!(err instanceof WorkflowNotFoundError)) throw err;
                },
              );
            heartbeat();
          }
        }),
      );
      return { signalled };
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

    /**
     * The fleet run's row: its status, and its counts from the machines' rows (the truth, retries
     * included), which it returns for the fleet's progress. Finishing cancels the machines that never
     * started.
     */
    async recordFleetRun(input: {
      tenantId: string;
      fleetRunId: string;
      status: 'running' | 'paused' | 'cancelling' | 'cancelled' | 'completed';
      finished?: boolean;
    }): Promise<{ passed: number; failed: number; cancelled: number }> {
      return withTenant(deps.orm, input.tenantId, async (em) => {
        const counts = input.finished
          ? await closeFleetMachines(em, input.fleetRunId)
          : await fleetCounts(em, input.fleetRunId);
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

export type ProvisioningActivities = ReturnType<typeof createProvisioningActivities>;

/** Whether the calling activity's workflow execution is its workflow's current one, and running. */
async function isCurrentRunningExecution(): Promise<boolean> {
  const execution = Context.current().info.workflowExecution;
  if (!execution) return false;
  const { workflowId, runId } = execution;
  try {
    const now = await Context.current().client.workflow.getHandle(workflowId).describe();
    return now.runId === runId && now.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
