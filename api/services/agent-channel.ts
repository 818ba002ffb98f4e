import {
  ActivityNotFoundError,
  WorkflowNotFoundError,
  type Client as TemporalClient,
} from '@temporalio/client';
import type { FastifyBaseLogger } from 'fastify';
import { propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  claimTaskOrBusy,
  finishTask,
  taskForProgress,
  taskKind,
  taskTrace,
  waitingWorkflows,
} from '../../infra/db/agent-tasks';
import { MachineSchema, type MachineStatus } from '../../infra/db/entities';
import { mergeGatewayEnumeration } from '../../infra/db/discovered-hosts';
import {
  credentialRefusalMessage,
  isActiveGateway,
  resolveForGateway,
  resolveForJoin,
} from '../../infra/db/domain-credentials';
import { escrowCompletionOf, escrowKeyOf, storeEscrowedSecret } from '../../infra/db/escrow';
import { checkEscrowEnvelopeFor, EscrowError } from '../../infra/wire/escrow-envelope';
import { mintInstallerGrant } from '../../infra/db/installer-grants';
import { withTenant, type Orm } from '../../infra/db/orm';
import type { SecretKeyring } from '../../infra/secrets/server-secrets';
import type {
  AgentTaskMessage,
  CheckInRequest,
  ProgressRequest,
  ResultRequest,
} from '../../infra/wire/agent-protocol';
import {
  BITLOCKER_RECOVERY_PASSWORD_LENGTH,
  DEFAULT_LOCAL_ADMIN_PASSWORD_LENGTH,
  ESCROW_STEP_KINDS,
  GATEWAY_STEP_KINDS,
  isEscrowStepKind,
  JOIN_CREDENTIAL_STEP_KINDS,
  StepFailure,
  StepKind,
  type BitLockerEscrowPayload,
  type EscrowStepKind,
  type LocalAdminEscrowPayload,
  type LocalAdminEscrowResult,
} from '../../infra/wire/agent-steps';

/** What every escrow step uploads (the local admin and BitLocker results have this shape). */
type EscrowUpload = LocalAdminEscrowResult;
import { checkStepResult, isStepResult } from '../../infra/wire/step-results';
import { bootIdChangedSignal, stepFailure } from '../../workflows/machines/contracts';
import type { AgentIdentity } from './keys';

/**
 * The agent channel as an authenticated agent uses it (ADR 0010): check in, take its next task,
 * report a step's progress and result. The REST routes (`api/routes/v1/agent.ts`) hold the
 * long-poll and answer in HTTP; the rules are here.
 */
export interface AgentChannelContext {
  orm: Orm;
  temporal: TemporalClient;
  log: FastifyBaseLogger;
  /** Opens domain credentials for a gateway's claim response (ADR 0026). */
  secrets: SecretKeyring;
  /** Where hosts download installers from (one-time links in a gateway's claim, ADR 0043). */
  installerBaseUrl?: string;
}

/**
 * A check-in: the machine's boot id, uptime, version and name. A new boot id is told to the
 * workflows that may be waiting for it (see signalWaitingWorkflows).
 */
export async function checkIn(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
  body: CheckInRequest,
): Promise<{ machineId: string; status: MachineStatus }> {
  const { machine, previousBootId, previousBootAt } = await withTenant(
    ctx.orm,
    agent.tenantId,
    async (em) => {
      const m = await em.findOneOrFail(MachineSchema, { id: agent.machineId });
      const previous = m.bootId ?? null;
      // When the previous boot began: its check-in time less the uptime it reported then.
      const previousBootAt = m.lastSeenAt
        ? new Date(m.lastSeenAt.getTime() - (m.uptimeSeconds ?? 0) * 1000)
        : null;
      m.bootId = body.bootId;
      m.uptimeSeconds = body.uptimeSeconds;
      m.agentVersion = body.agentVersion;
      m.lastSeenAt = new Date();
      if (body.hostname) m.hostname = body.hostname;
      await em.flush();
      return { machine: m, previousBootId: previous, previousBootAt };
    },
  );
  if (previousBootId !== null && previousBootId !== body.bootId)
    await signalWaitingWorkflows(ctx, agent, { bootId: body.bootId, previousBootId }, previousBootAt);
  return { machineId: machine.id, status: machine.status };
}

/**
 * The machine's next task, claimed for it; null when none is queued (a pending or retired machine
 * gets none); 'busy' when an open task's row was held by another transaction, so none could be
 * taken this instant (look again soon: no notice follows the lock's release). A task whose payload
 * names a domain credential (`credentialRef`) carries it resolved, for an active gateway of the
 * credential's site only — or, for a `join.domain` task naming a join credential, for an active
 * machine of its site (ADR 0048); for any other machine or kind the task fails as
 * `CredentialUnavailable` without running, and the next one is offered.
 */
export async function nextTask(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
): Promise<AgentTaskMessage | 'busy' | null> {
  for (;;) {
    const task = await claimTaskOrBusy(ctx.orm, agent.tenantId, agent.machineId);
    if (task === null || task === 'busy') return task;
    // The site's LAN work runs on its gateway only (ADR 0029), with or without a credential.
    if (
      GATEWAY_STEP_KINDS.includes(task.kind) &&
      !(await withTenant(ctx.orm, agent.tenantId, (em) =>
        isActiveGateway(em, agent.tenantId, agent.machineId),
      ))
    ) {
      ctx.log.warn({ taskId: task.id, machineId: agent.machineId, kind: task.kind }, 'gateway step refused');
      await reportResult(ctx, agent, task.id, {
        ok: false,
        error: {
          type: StepFailure.NotAGateway,
          message: `only an active gateway of the site runs ${task.kind}; this machine is not one`,
          retryable: false,
        },
      });
      continue;
    }
    const claimed = await withInstallerLink(ctx, agent, task);
    const ref = claimed.payload.credentialRef;
    if (typeof ref !== 'string') return claimed;
    const join = JOIN_CREDENTIAL_STEP_KINDS.includes(task.kind);
    const resolved = await withTenant(ctx.orm, agent.tenantId, (em) =>
      (join ? resolveForJoin : resolveForGateway)(em, ctx.secrets, {
        tenantId: agent.tenantId,
        machineId: agent.machineId,
        credentialId: ref,
        taskId: task.id,
      }),
    );
    if (!('refused' in resolved)) {
      const { domain, user, password } = resolved;
      return { ...claimed, credential: { domain, user, password } };
    }
    ctx.log.warn(
      { taskId: task.id, machineId: agent.machineId, refusal: resolved.refused },
      'credential refused',
    );
    await reportResult(ctx, agent, task.id, {
      ok: false,
      error: {
        type: StepFailure.CredentialUnavailable,
        message: credentialRefusalMessage(join ? 'join' : 'domain', resolved.refused),
        retryable: false,
      },
    });
  }
}

/**
 * A `winrm.install` claim carries a one-time link to the site's MSI, minted for this claim only
 * (ADR 0043): never in the task row or a history. No link when the installer is gone (a key
 * rotation superseded it): the step then fails on the host's side, in words.
 */
async function withInstallerLink(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
  task: AgentTaskMessage,
): Promise<AgentTaskMessage> {
  const installerId = task.payload.installerId;
  if (task.kind !== StepKind.WinRmInstall || typeof installerId !== 'string' || !ctx.installerBaseUrl)
    return task;
  const grant = await withTenant(ctx.orm, agent.tenantId, (em) =>
    mintInstallerGrant(em, {
      tenantId: agent.tenantId,
      machineId: agent.machineId,
      taskId: task.id,
      installerId,
    }),
  );
  if (!grant) {
    ctx.log.warn({ taskId: task.id, installerId }, 'no current site installer for a one-time link');
    return task;
  }
  const url = `${ctx.installerBaseUrl}/installers/once/${agent.tenantId}/${grant.grantId}/${encodeURIComponent(grant.fileName)}?token=${grant.token}`;
  return { ...task, installerUrl: url };
}

/** A step's progress becomes its activity's heartbeat. False: no such task for this machine. */
export async function reportProgress(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
  taskId: string,
  body: ProgressRequest,
): Promise<boolean> {
  const task = await taskForProgress(ctx.orm, agent.tenantId, agent.machineId, taskId);
  if (!task) return false;
  if (task.taskToken && task.status === 'delivered') {
    await ctx.temporal.activity.heartbeat(task.taskToken, body).catch((err) => {
      if (!(err instanceof ActivityNotFoundError)) throw err;
    });
  }
  return true;
}

export type ResultOutcome =
  /** `othersOpen`: the machine has another open task (false: a claim now would find nothing). */
  | { kind: 'stored'; othersOpen: boolean }
  | { kind: 'not-found' }
  /** The result is not what its step produces: refused, not stored (ADR 0015). */
  | { kind: 'invalid'; taskKind: string; problem: string }
  /** Stored, but the workflow engine did not take it: the agent sends it again later. */
  | { kind: 'engine-unavailable'; error: string };

/**
 * Whether this machine may post a result body above the usual 64 KiB for this task: only the
 * gateway's directory enumeration needs to (ADR 0029); every other result stays small, so a stolen
 * agent key cannot make the API read megabytes per request.
 */
export async function mayPostLargeResult(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
  taskId: string,
  knownKind?: string,
): Promise<boolean> {
  const kind = knownKind ?? (await taskKind(ctx.orm, agent.tenantId, agent.machineId, taskId));
  return kind === StepKind.DirectoryEnumerate;
}

/**
 * A step's result: checked against its kind's schema, stored (the first result of a task is the
 * one kept), then handed to the waiting activity. `knownKind` saves a lookup when this process
 * handed the task out.
 */
export async function reportResult(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
  taskId: string,
  posted: ResultRequest,
  knownKind?: string,
): Promise<ResultOutcome> {
  let body = posted;
  // 0. A result is stored only if it is what its step produces (ADR 0015, docs/SECURITY.md).
  let kind: string | null = knownKind ?? null;
  if (body.ok) {
    kind = knownKind ?? (await taskKind(ctx.orm, agent.tenantId, agent.machineId, taskId));
    if (kind === null) return { kind: 'not-found' };
    const problem = checkStepResult(kind, body.result);
    if (problem) return { kind: 'invalid', taskKind: kind, problem };
  }
  // 0b. An escrow upload is checked against its task and stored before the task completes
  // (ADR 0044); one that does not belong to the task fails the step, and nothing is stored.
  if (body.ok && isEscrowStepKind(kind)) {
    const refused = await acceptEscrowUpload(ctx, agent, taskId, kind, body.result as EscrowUpload);
    if (refused) {
      ctx.log.warn({ taskId, machineId: agent.machineId, refused }, 'escrow upload refused');
      body = {
        ok: false,
        error: { type: StepFailure.EscrowRefused, message: `escrow refused: ${refused}`, retryable: false },
      };
    }
  }
  // 1. Persist first: from here on the result survives an API or Temporal restart. The first
  // result of a task is the one kept; a repeat gets the stored one completed again.
  const task = await finishTask(
    ctx.orm,
    agent.tenantId,
    agent.machineId,
    taskId,
    body.ok ? { ok: true, result: body.result } : { ok: false, error: body.error },
  );
  if (!task) return { kind: 'not-found' };
  // 1b. An enumeration is large: the API merges it into the site's discovered hosts here, and the
  // workflow's activity completes with the counts only, so no history carries the computers (ADR 0029).
  let completion: Record<string, unknown> = task.result ?? {};
  if (
    task.status === 'completed' &&
    kind === StepKind.DirectoryEnumerate &&
    isStepResult(StepKind.DirectoryEnumerate, task.result)
  ) {
    const result = task.result;
    const summary = await withTenant(ctx.orm, agent.tenantId, (em) =>
      mergeGatewayEnumeration(em, {
        tenantId: agent.tenantId,
        gatewayId: agent.machineId,
        result,
        seenAt: new Date(),
      }),
    );
    if (summary) completion = summary;
  }
  // 1c. An escrow step's workflow gets the stored secret's id, version and envelope digest: no
  // history carries the envelope (ADR 0044).
  if (task.status === 'completed' && isEscrowStepKind(kind)) {
    const result = task.result as EscrowUpload;
    const stored = await withTenant(ctx.orm, agent.tenantId, (em) =>
      escrowCompletionOf(em, {
        tenantId: agent.tenantId,
        machineId: agent.machineId,
        kind: ESCROW_STEP_KINDS[kind],
        secretVersion: result.secretVersion,
      }),
    );
    if (stored) completion = stored;
  }
  // 1d. Tracing on (a propagator registered, ADR 0040): the machine's work — first delivery to this
  // result — is a span of the trace of the activity that dispatched it.
  if (propagation.fields().length > 0) await traceMachineWork(ctx, agent, taskId, task.status);
  // 2. Then complete the waiting activity. Repeats are harmless: an activity that is already
  // done (or whose attempt timed out) is "not found", and the next attempt reads the row.
  if (task.taskToken) {
    try {
      if (task.status === 'completed') await ctx.temporal.activity.complete(task.taskToken, completion);
      else if (task.error) await ctx.temporal.activity.fail(task.taskToken, stepFailure(task.error));
    } catch (err) {
      if (!(err instanceof ActivityNotFoundError))
        return { kind: 'engine-unavailable', error: (err as Error).message };
    }
  }
  return { kind: 'stored', othersOpen: task.othersOpen };
}

async function traceMachineWork(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
  taskId: string,
  status: string,
): Promise<void> {
  const traced = await taskTrace(ctx.orm, agent.tenantId, agent.machineId, taskId);
  if (!traced) return;
  const parent = propagation.extract(ROOT_CONTEXT, { traceparent: traced.traceParent });
  const span = trace.getTracer('drydock-agent-channel').startSpan(
    `AgentTask:${traced.kind}`,
    {
      ...(traced.deliveredAt ? { startTime: traced.deliveredAt } : {}),
      attributes: {
        'drydock.machine_id': agent.machineId,
        'drydock.task_id': taskId,
        'drydock.task.kind': traced.kind,
        'drydock.task.deliveries': traced.deliveries,
        'drydock.task.status': status,
      },
    },
    parent,
  );
  if (status !== 'completed') span.setStatus({ code: SpanStatusCode.ERROR, message: status });
  span.end();
}

/**
 * Checks an escrow step's envelope against its task — sealed to the tenant key the task named
 * (which must be one of the tenant's keys), for this tenant, this machine, the kind and the secret
 * version the task asked for — and stores it. A version already stored is never replaced. The
 * refusal's reason, or null when stored.
 */
async function acceptEscrowUpload(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
  taskId: string,
  stepKind: EscrowStepKind,
  result: EscrowUpload,
): Promise<string | null> {
  const kind = ESCROW_STEP_KINDS[stepKind];
  return withTenant(ctx.orm, agent.tenantId, async (em) => {
    const [task] = await em.execute<{ payload: LocalAdminEscrowPayload | BitLockerEscrowPayload }[]>(
      `select payload from agent_tasks where tenant_id = ? and machine_id = ? and id = ?`,
      [agent.tenantId, agent.machineId, taskId],
    );
    if (!task) return 'no such task';
    const p = task.payload;
    if (p.machineId !== agent.machineId || p.recipient.tenantId !== agent.tenantId)
      return 'the task was not made for this machine';
    if (result.secretVersion !== p.secretVersion)
      return `the result is secret version ${result.secretVersion}, the task asked for ${p.secretVersion}`;
    // The agent's secrets are ASCII of a known length: a ciphertext of another size was cut or
    // padded on the way (the AEAD would tell only the key holder, later).
    const length =
      'account' in p ? (p.length ?? DEFAULT_LOCAL_ADMIN_PASSWORD_LENGTH) : BITLOCKER_RECOVERY_PASSWORD_LENGTH;
    const ciphertext = result.envelope.split('.')[6] ?? '';
    if (Math.floor((ciphertext.length * 3) / 4) !== length + 16)
      return `ESCROW_MALFORMED: the ciphertext is not the size of a ${length}-character secret`;
    const key = await escrowKeyOf(em, agent.tenantId, p.recipient.keyVersion);
    if (!key || key.publicKey !== p.recipient.publicKey) return 'the task names no escrow key of the tenant';
    try {
      await checkEscrowEnvelopeFor(
        { tenantId: agent.tenantId, keyVersion: key.keyVersion, publicKey: key.publicKey },
        { machineId: agent.machineId, kind, secretVersion: p.secretVersion },
        result.envelope,
      );
    } catch (err) {
      if (err instanceof EscrowError) return `${err.code}: ${err.message}`;
      throw err;
    }
    await storeEscrowedSecret(em, {
      tenantId: agent.tenantId,
      machineId: agent.machineId,
      kind,
      secretVersion: p.secretVersion,
      keyVersion: key.keyVersion,
      envelope: result.envelope,
      account: 'account' in p ? p.account : null,
      taskId,
    });
    return null;
  });
}

/**
 * A new boot id: tell the workflows that may be waiting on it — those with a task still open on
 * this machine, and those that asked it to restart during the previous boot. Found in agent_tasks
 * (one indexed query), not by a visibility search, which costs the Temporal server a scan per
 * reboot. A workflow that has finished meanwhile is skipped.
 */
async function signalWaitingWorkflows(
  ctx: AgentChannelContext,
  agent: AgentIdentity,
  boot: { bootId: string; previousBootId: string },
  previousBootAt: Date | null,
): Promise<void> {
  try {
    const workflowIds = await waitingWorkflows(
      ctx.orm,
      agent.tenantId,
      agent.machineId,
      previousBootAt ?? new Date(Date.now() - 24 * 3600_000),
    );
    for (const workflowId of workflowIds) {
      await ctx.temporal.workflow
        .getHandle(workflowId)
        .signal(bootIdChangedSignal, boot)
        .catch((err: Error) => {
          if (!(err instanceof WorkflowNotFoundError))
            ctx.log.warn({ err: err.message, workflowId }, 'boot signal failed');
        });
    }
  } catch (err) {
    ctx.log.warn(
      { err: (err as Error).message, machineId: agent.machineId },
      'could not find the machine’s waiting workflows',
    );
  }
}
