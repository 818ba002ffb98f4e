import { createHash, createHmac, randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { FastifyBaseLogger } from 'fastify';
import {
  AgentKeySchema,
  AlertKind,
  AlertSchema,
  MachineSchema,
  MachineStatus,
  PendingKind,
  SiteSchema,
  type EnrollmentRequester,
  type Machine,
  type Site,
} from '../../infra/db/entities';
import { withTenant, type EntityManager, type Orm } from '../../infra/db/orm';
import { generateKey, hashKeySecret, parseKey, verifyKeySecret } from '../../infra/security/keys';
import type { EnrollRequest } from '../../infra/wire/agent-protocol';
import { computeMachineUid, isPlaceholder } from '../../infra/wire/machine-uid';
import { appendAuditAs } from './audit';
import { checkAgentKey, lookupEnrollmentKey, revokeMachineKeys } from './keys';

export interface EnrollmentSettings {
  secret: string;
  collisionWindowSeconds: number;
  /** Valid enrollments a site may make per minute (bulk imaging behind one address included). */
  sitePerMinute: number;
}

/** Open enrollment requests (pending rows) one hardware identity may have at once. */
export const MAX_OPEN_REQUESTS_PER_MACHINE = 8;

export type EnrollOutcome =
  | { kind: 'rejected'; reason: string }
  | { kind: 'uid-mismatch' }
  | { kind: 'site-rate-limited'; retryAfterSeconds: number }
  | {
      kind: 'enrolled';
      machineId: string;
      tenantId: string;
      siteId: string;
      agentKey: string;
      status: MachineStatus;
      decision: Decision;
      /** The machine's earlier keys, revoked by this enrollment (the caller's key cache forgets them). */
      revokedKeyIds: string[];
    };

/**
 * new: first enrollment of this hardware; reused: the same install, proven by its agent key, or
 * back after a quiet spell; reimaged: same hardware, new install, old one quiet; move-requested:
 * a proven install asks for another site (it stays until approved); collision / unverified: a new
 * pending row that waits for an operator; pending: a repeat of an open request.
 */
export type Decision =
  'new' | 'reused' | 'reimaged' | 'move-requested' | 'collision' | 'unverified' | 'pending';

/** Who is enrolling: the request's source and, when the agent sent one, its current agent key. */
export interface EnrollContext {
  sourceIp: string;
  /** `Authorization: Bearer dak_…` of a re-enrolling agent: proof that it is that install. */
  authorization?: string;
}

/**
 * POST /v1/enroll, after the source guard admitted it: verify the site's current key, then decide
 * by the rules of docs/adr/0009-machine-identity.md. A request that cannot prove it is the install
 * behind a live machine never takes that machine over, and no enrollment moves a machine to another
 * site or client without an operator's approval.
 */
export async function enroll(
  orm: Orm,
  s: EnrollmentSettings,
  req: EnrollRequest,
  context: EnrollContext,
  log: FastifyBaseLogger,
): Promise<EnrollOutcome> {
  return enrollOnce(orm, s, req, context, log).catch((err: unknown) => {
    // Two first enrollments of the same hardware at once: the loser retries and reuses the row.
    if (err instanceof UniqueConstraintViolationException) return enrollOnce(orm, s, req, context, log);
    throw err;
  });
}

async function enrollOnce(
  orm: Orm,
  s: EnrollmentSettings,
  req: EnrollRequest,
  context: EnrollContext,
  log: FastifyBaseLogger,
): Promise<EnrollOutcome> {
  const parsed = parseKey(req.enrollmentKey, 'dek');
  if (!parsed) return { kind: 'rejected', reason: 'malformed enrollment key' };
  const key = await lookupEnrollmentKey(orm, parsed.keyId);
  if (!key) return { kind: 'rejected', reason: 'unknown enrollment key id' };
  if (!verifyKeySecret(s.secret, parsed, key.keyHash))
    return { kind: 'rejected', reason: 'wrong enrollment key secret' };
  if (!key.active) return { kind: 'rejected', reason: `enrollment key v${key.version} was rotated` };

  let uid: string;
  try {
    uid = computeMachineUid(req.hardware);
  } catch {
    return { kind: 'uid-mismatch' };
  }
  if (uid !== req.machineUid) return { kind: 'uid-mismatch' };

  const attemptHash = req.attempt ? hashAttempt(s.secret, req.attempt) : null;
  const proof =
    (await provenMachine(orm, s.secret, key.tenantId, context.authorization, log)) ??
    (attemptHash ? await repeatedAttempt(orm, key.tenantId, attemptHash) : null);

  return withTenant(orm, key.tenantId, async (em) => {
    const site = await em.findOne(SiteSchema, { id: key.siteId });
    if (!site || site.code !== req.siteCode)
      return { kind: 'rejected', reason: 'enrollment key belongs to another site' } as const;
    const requester: EnrollmentRequester = {
      sourceIp: context.sourceIp,
      siteId: site.id,
      siteCode: site.code,
      hostname: req.hostname,
      keyVersion: key.version,
      at: new Date().toISOString(),
    };
    const decided = await decide(em, s, { tenantId: key.tenantId, site, uid, req, proof, requester });
    if ('rejected' in decided) return { kind: 'rejected', reason: decided.rejected } as const;
    const { machine, decision } = decided;

    // An enrollment replaces the key of the row it lands on: the old one stops working at once.
    const revokedKeyIds = await revokeMachineKeys(em, machine.id, 're-enrolled');
    const agentKey = generateKey('dak');
    em.create(AgentKeySchema, {
      id: randomUUID(),
      tenantId: key.tenantId,
      machineId: machine.id,
      keyId: agentKey.keyId,
      keyHash: hashKeySecret(s.secret, parseKey(agentKey.key, 'dak')!),
      attemptHash,
      createdAt: new Date(),
    });
    await em.flush();
    await appendAuditAs(
      em,
      { tenantId: key.tenantId, actor: `agent:${uid.slice(0, 12)}` },
      {
        action: auditAction[decision],
        subjectType: 'machine',
        subjectId: machine.id,
        data: {
          machineUid: uid,
          siteId: site.id,
          siteCode: site.code,
          sourceIp: context.sourceIp,
          hostname: req.hostname,
          keyVersion: key.version,
          decision,
          proven: proof !== null,
          ...(machine.replacesMachineId ? { replacesMachineId: machine.replacesMachineId } : {}),
        },
      },
    );
    // Last, so the counter row stays locked only for the commit (enrollments of a tenant commit one
    // at a time anyway: the audit chain). Over the budget: the whole enrollment rolls back.
    const wait = await spendSiteBudget(em, key.tenantId, site.id, s.sitePerMinute);
    if (wait !== null) throw new SiteBudgetSpent(wait);
    log.info({ machineId: machine.id, decision, site: site.code }, 'machine enrolled');
    return {
      kind: 'enrolled',
      machineId: machine.id,
      tenantId: key.tenantId,
      siteId: machine.siteId,
      agentKey: agentKey.key,
      status: machine.status,
      decision,
      revokedKeyIds,
    } as const;
  }).catch((err: unknown) => {
    if (err instanceof SiteBudgetSpent)
      return { kind: 'site-rate-limited', retryAfterSeconds: err.retryAfterSeconds } as const;
    throw err;
  });
}

class SiteBudgetSpent extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('site enrollment budget spent');
  }
}

const auditAction: Record<Decision, string> = {
  new: 'machine.enrolled',
  reused: 'machine.reenrolled',
  reimaged: 'machine.reenrolled',
  'move-requested': 'machine.move_requested',
  collision: 'machine.collision',
  unverified: 'machine.reenrollment_unverified',
  pending: 'machine.reenrollment_pending',
};

/**
 * Counts a valid enrollment against its site's budget, in the enrollment's transaction. Null when
 * admitted; else the seconds until the window ends.
 */
async function spendSiteBudget(
  em: EntityManager,
  tenantId: string,
  siteId: string,
  perMinute: number,
): Promise<number | null> {
  const [row] = await em.execute<{ enrollments: number; window_left: number }[]>(
    `insert into enrollment_site_rate as r (tenant_id, site_id, enrollments) values (?, ?, 1)
       on conflict (tenant_id, site_id) do update set
         enrollments = case when r.window_started_at < now() - interval '1 minute' then 1 else r.enrollments + 1 end,
         window_started_at = case when r.window_started_at < now() - interval '1 minute' then now() else r.window_started_at end
       returning enrollments,
         ceil(extract(epoch from (window_started_at + interval '1 minute' - now())))::int as window_left`,
    [tenantId, siteId],
  );
  return row!.enrollments > perMinute ? Math.max(row!.window_left, 1) : null;
}

/**
 * The machine whose current agent key the request carries, in the enrollment key's tenant: the
 * proof that this request comes from that install. Anything else (no header, a malformed, unknown,
 * wrong, revoked or other tenant's key) is no proof, and the request is judged without it.
 */
async function provenMachine(
  orm: Orm,
  secret: string,
  tenantId: string,
  authorization: string | undefined,
  log: FastifyBaseLogger,
): Promise<{ machineId: string } | null> {
  if (!authorization) return null;
  const check = await checkAgentKey(orm, secret, authorization);
  if (!check.ok || check.agent.tenantId !== tenantId) {
    log.info(
      { keyId: check.ok ? check.agent.keyId : check.keyId },
      'enrollment carried an agent key that proves nothing',
    );
    return null;
  }
  return { machineId: check.agent.machineId };
}

/**
 * How long a repeated attempt proves its install: long enough for an agent to come back through an
 * API outage; after it, the repeat is judged like any request without proof (pending if live).
 */
export const ATTEMPT_PROOF_SECONDS = 24 * 3600;

/** The HMAC under which an enrollment attempt's secret is remembered (never the secret). */
function hashAttempt(secret: string, attempt: string): string {
  return createHmac('sha256', secret).update(`enroll-attempt:${attempt}`).digest('hex');
}

/**
 * The machine an earlier request of this very attempt enrolled, while the key it obtained is
 * unrevoked: the agent never received that answer (the API died after the commit) and asks again.
 * The attempt is a 256-bit secret the agent keeps protected like its key, so this is proof of the
 * same install; it ends when the agent stores its key and forgets the attempt.
 */
async function repeatedAttempt(
  orm: Orm,
  tenantId: string,
  attemptHash: string,
): Promise<{ machineId: string } | null> {
  return withTenant(orm, tenantId, async (em) => {
    const key = await em.findOne(AgentKeySchema, {
      attemptHash,
      revokedAt: null,
      createdAt: { $gt: new Date(Date.now() - ATTEMPT_PROOF_SECONDS * 1000) },
    });
    return key ? { machineId: key.machineId } : null;
  });
}

interface DecideInput {
  tenantId: string;
  site: Site;
  uid: string;
  req: EnrollRequest;
  proof: { machineId: string } | null;
  requester: EnrollmentRequester;
}

async function decide(
  em: EntityManager,
  s: EnrollmentSettings,
  input: DecideInput,
): Promise<{ machine: Machine; decision: Decision } | { rejected: string }> {
  const { tenantId, site, uid, req, proof, requester } = input;
  const guid = isPlaceholder(req.hardware.machineGuid)
    ? null
    : req.hardware.machineGuid!.trim().toLowerCase();
  const rows = await em.find(MachineSchema, { machineUid: uid });
  const now = new Date();

  // 1. Proven: the request carries this hardware's current agent key. It stays in its own site:
  // another site is a request an operator approves.
  const proven = proof ? rows.find((r) => r.id === proof.machineId) : undefined;
  if (proven) {
    if (proven.status === MachineStatus.Retired) return { rejected: 'machine was rejected or retired' };
    Object.assign(proven, facts(req, guid));
    if (proven.siteId === site.id) {
      if (proven.pendingKind === PendingKind.Move) clearMoveRequest(proven);
      await em.flush();
      return { machine: proven, decision: 'reused' };
    }
    if (proven.requestedSiteId !== site.id) {
      proven.requestedSiteId = site.id;
      proven.requestedBy = requester;
      if (proven.status === MachineStatus.Active) proven.pendingKind = PendingKind.Move;
      await em.flush();
      await alert(em, tenantId, AlertKind.MachineMoveRequested, proven, {
        message: `${proven.hostname} asks to move to site ${site.code} (from ${requester.sourceIp}); it stays in its site until an operator approves`,
        data: { fromSiteId: proven.siteId, toSiteId: site.id, requestedBy: requester },
      });
    }
    return { machine: proven, decision: 'move-requested' };
  }

  // 2. A repeat of an open request (same install facts, same site): the same pending row.
  const requestKey = pendingRowKey(guid, site.id, req.hostname);
  const open = rows.find((r) => r.cloneKey === requestKey && r.status === MachineStatus.Pending);
  if (open) {
    Object.assign(open, facts(req, guid), { requestedBy: requester });
    await em.flush();
    return { machine: open, decision: 'pending' };
  }

  // 3. The machine this hardware already is: the active row of this install, else the owner.
  const target =
    (guid ? rows.find((r) => r.status === MachineStatus.Active && r.machineGuid === guid) : undefined) ??
    rows.find((r) => r.cloneKey === '');
  if (!target) {
    const machine = em.create(MachineSchema, {
      ...facts(req, guid),
      tenantId,
      machineUid: uid,
      siteId: site.id,
      id: randomUUID(),
      cloneKey: '',
      status: MachineStatus.Active,
      createdAt: now,
    });
    await em.flush();
    await alert(em, tenantId, AlertKind.MachineEnrolled, machine, {
      message: `${req.hostname} enrolled`,
      data: {},
    });
    return { machine, decision: 'new' };
  }
  if (target.status === MachineStatus.Retired) return { rejected: 'machine was rejected or retired' };

  // 4. Quiet (not seen within the window) and in this site: a re-image or a reinstall after a
  // quiet spell takes the row back.
  const live =
    !!target.lastSeenAt && now.getTime() - target.lastSeenAt.getTime() < s.collisionWindowSeconds * 1000;
  if (!live && target.siteId === site.id) {
    const sameInstall = guid !== null && target.machineGuid === guid;
    Object.assign(target, facts(req, guid));
    await em.flush();
    return { machine: target, decision: sameInstall ? 'reused' : 'reimaged' };
  }

  // 5. Live, or in another site, and unproven: a new pending row; the machine keeps its agent.
  const openRequests = rows.filter((r) => r.status === MachineStatus.Pending && r.cloneKey !== '').length;
  if (openRequests >= MAX_OPEN_REQUESTS_PER_MACHINE)
    return { rejected: `${openRequests} enrollment requests for this hardware are open already` };
  const collision = guid !== null && !!target.machineGuid && target.machineGuid !== guid;
  const kind = collision ? PendingKind.Collision : PendingKind.Unverified;
  const why = collision
    ? `${req.hostname} presents the hardware identity of ${target.hostname} with another MachineGuid`
    : `${req.hostname} re-enrolled as ${target.hostname} without proving it is that install (${guid ? 'no agent key' : 'no MachineGuid'})`;
  const where = target.siteId === site.id ? '' : `, asking for site ${site.code}`;
  const pending = em.create(MachineSchema, {
    ...facts(req, guid),
    tenantId,
    machineUid: uid,
    siteId: site.id,
    id: randomUUID(),
    cloneKey: requestKey,
    status: MachineStatus.Pending,
    pendingKind: kind,
    replacesMachineId: target.id,
    requestedBy: requester,
    pendingReason: `${why}${where}${live ? ` (it checked in ${target.lastSeenAt!.toISOString()})` : ''}`,
    createdAt: now,
  });
  await em.flush();
  await alert(
    em,
    tenantId,
    collision ? AlertKind.MachineCollision : AlertKind.MachineReenrollmentUnverified,
    pending,
    {
      message: `${why}${where}, from ${requester.sourceIp}; approve it as a new machine or as the replacement of ${target.hostname}, or reject it`,
      data: { ownerMachineId: target.id, requestedBy: requester },
    },
  );
  return { machine: pending, decision: kind === PendingKind.Collision ? 'collision' : 'unverified' };
}

/** A pending row's discriminator: the same request repeated lands on the same row. */
function pendingRowKey(guid: string | null, siteId: string, hostname: string): string {
  return createHash('sha256')
    .update(`request\n${guid ?? '-'}\n${siteId}\n${hostname.toLowerCase()}`)
    .digest('hex')
    .slice(0, 16);
}

export function clearMoveRequest(machine: Machine): void {
  machine.requestedSiteId = null;
  machine.requestedBy = null;
  if (machine.pendingKind === PendingKind.Move) machine.pendingKind = null;
}

/** What an enrollment refreshes on its row; never the site (that takes an operator). */
function facts(req: EnrollRequest, guid: string | null) {
  return {
    hostname: req.hostname,
    machineGuid: guid,
    hardware: req.hardware as Record<string, unknown>,
    os: req.os as Record<string, unknown>,
    agentVersion: req.agentVersion,
    labels: req.labels ?? {},
    lastSeenAt: new Date(),
  };
}

async function alert(
  em: EntityManager,
  tenantId: string,
  kind: AlertKind,
  machine: Machine,
  body: { message: string; data: Record<string, unknown> },
) {
  em.create(AlertSchema, {
    id: randomUUID(),
    tenantId,
    kind,
    machineId: machine.id,
    siteId: machine.siteId,
    message: body.message,
    data: body.data,
    createdAt: new Date(),
  });
  await em.flush();
}
