import { createHash, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { appendAudit } from '../../infra/db/audit';
import {
  AgentKeySchema,
  AlertKind,
  AlertSchema,
  MachineSchema,
  MachineStatus,
  SiteSchema,
  type Machine,
} from '../../infra/db/entities';
import { withTenant, type EntityManager, type Orm } from '../../infra/db/orm';
import { generateKey, hashKeySecret, parseKey, verifyKeySecret } from '../../infra/security/keys';
import type { EnrollRequest } from '../../infra/wire/agent-protocol';
import { computeMachineUid, isPlaceholder } from '../../infra/wire/machine-uid';
import { lookupKeyRow } from './key-lookup';
import { noticeSql } from '../../infra/db/agent-notices';

export interface EnrollmentSettings {
  secret: string;
  collisionWindowSeconds: number;
  pollSeconds: number;
}

export type EnrollOutcome =
  | { kind: 'rejected'; reason: string }
  | { kind: 'uid-mismatch' }
  | {
      kind: 'enrolled';
      machineId: string;
      agentKey: string;
      status: MachineStatus;
      decision: Decision;
      /** The machine's earlier keys, revoked by this enrollment (the caller's key cache forgets them). */
      revokedKeyIds: string[];
    };

export type Decision = 'new' | 'reused' | 'reimaged' | 'moved' | 'collision';

/**
 * POST /v1/enroll, after the throttle admitted it: verify the site's current key, then decide
 * new / reuse / re-image / move / collision by the rules of docs/adr/0009-machine-identity.md.
 */
export async function enroll(
  orm: Orm,
  s: EnrollmentSettings,
  req: EnrollRequest,
  sourceIp: string,
  log: FastifyBaseLogger,
): Promise<EnrollOutcome> {
  const parsed = parseKey(req.enrollmentKey, 'dek');
  if (!parsed) return { kind: 'rejected', reason: 'malformed enrollment key' };
  const key = await lookupKeyRow<{
    tenant_id: string;
    site_id: string;
    key_hash: string;
    active: boolean;
    version: number;
  }>(orm, 'site_enrollment_keys', parsed.keyId, 'tenant_id, site_id, key_hash, active, version');
  if (!key) return { kind: 'rejected', reason: 'unknown enrollment key id' };
  if (!verifyKeySecret(s.secret, parsed, key.key_hash))
    return { kind: 'rejected', reason: 'wrong enrollment key secret' };
  if (!key.active) return { kind: 'rejected', reason: `enrollment key v${key.version} was rotated` };

  let uid: string;
  try {
    uid = computeMachineUid(req.hardware);
  } catch {
    return { kind: 'uid-mismatch' };
  }
  if (uid !== req.machineUid) return { kind: 'uid-mismatch' };

  return withTenant(orm, key.tenant_id, async (em) => {
    const site = await em.findOne(SiteSchema, { id: key.site_id });
    if (!site || site.code !== req.siteCode)
      return { kind: 'rejected', reason: 'enrollment key belongs to another site' } as const;
    const { machine, decision } = await decide(em, s, key.tenant_id, site.id, uid, req);
    if (machine.status === MachineStatus.Retired)
      return { kind: 'rejected', reason: 'machine was rejected or retired' } as const;

    // A re-enrollment replaces the machine's key: the old one stops working at once.
    const old = await em.find(AgentKeySchema, { machineId: machine.id, revokedAt: null });
    for (const k of old) {
      k.revokedAt = new Date();
      k.revokedReason = 're-enrolled';
    }
    const agentKey = generateKey('dak');
    em.create(AgentKeySchema, {
      id: randomUUID(),
      tenantId: key.tenant_id,
      machineId: machine.id,
      keyId: agentKey.keyId,
      keyHash: hashKeySecret(s.secret, parseKey(agentKey.key, 'dak')!),
      createdAt: new Date(),
    });
    await em.flush();
    for (const k of old) {
      const n = noticeSql({ t: 'revoked', k: k.keyId });
      await em.execute(n.sql, n.params);
    }
    await appendAudit(em, {
      tenantId: key.tenant_id,
      actor: `agent:${uid.slice(0, 12)}`,
      action: `machine.${decision === 'new' ? 'enrolled' : decision === 'collision' ? 'collision' : decision === 'moved' ? 'moved' : 'reenrolled'}`,
      subjectType: 'machine',
      subjectId: machine.id,
      data: {
        machineUid: uid,
        siteId: site.id,
        siteCode: site.code,
        sourceIp,
        hostname: req.hostname,
        keyVersion: key.version,
        decision,
      },
    });
    log.info({ machineId: machine.id, decision, site: site.code }, 'machine enrolled');
    return {
      kind: 'enrolled',
      machineId: machine.id,
      agentKey: agentKey.key,
      status: machine.status,
      decision,
      revokedKeyIds: old.map((k) => k.keyId),
    } as const;
  });
}

async function decide(
  em: EntityManager,
  s: EnrollmentSettings,
  tenantId: string,
  siteId: string,
  uid: string,
  req: EnrollRequest,
): Promise<{ machine: Machine; decision: Decision }> {
  const guid = isPlaceholder(req.hardware.machineGuid)
    ? null
    : req.hardware.machineGuid!.trim().toLowerCase();
  const rows = await em.find(MachineSchema, { machineUid: uid });
  const now = new Date();

  // The same installation again (agent reinstalled, or just re-running enrollment).
  const same = guid ? rows.find((r) => r.machineGuid === guid) : undefined;
  const owner = rows.find((r) => r.cloneKey === '');
  if (!same && owner) {
    const seenRecently =
      owner.lastSeenAt && now.getTime() - owner.lastSeenAt.getTime() < s.collisionWindowSeconds * 1000;
    const otherInstall =
      guid !== null &&
      owner.machineGuid !== null &&
      owner.machineGuid !== undefined &&
      owner.machineGuid !== guid;
    if (owner.status !== MachineStatus.Retired && seenRecently && otherInstall) {
      // Evidently a different live machine with the same hardware identity: a clone. It waits.
      const cloneKey = createHash('sha256').update(guid!).digest('hex').slice(0, 16);
      let clone = rows.find((r) => r.cloneKey === cloneKey);
      if (!clone) {
        clone = em.create(MachineSchema, {
          ...machineFields(req, tenantId, siteId, uid, guid),
          id: randomUUID(),
          cloneKey,
          status: MachineStatus.Pending,
          pendingReason: `machine_uid collision with ${owner.hostname} (seen ${owner.lastSeenAt!.toISOString()})`,
          createdAt: now,
        });
        await em.flush();
        await alert(
          em,
          tenantId,
          AlertKind.MachineCollision,
          clone,
          `${req.hostname} presents the hardware identity of ${owner.hostname}, which is still checking in; approve or reject it`,
          {
            ownerMachineId: owner.id,
          },
        );
      } else {
        Object.assign(clone, updateFields(req, siteId, guid));
      }
      return { machine: clone, decision: 'collision' };
    }
  }

  const existing = same ?? owner;
  if (!existing) {
    const machine = em.create(MachineSchema, {
      ...machineFields(req, tenantId, siteId, uid, guid),
      id: randomUUID(),
      cloneKey: '',
      status: MachineStatus.Active,
      createdAt: now,
    });
    await em.flush();
    await alert(em, tenantId, AlertKind.MachineEnrolled, machine, `${req.hostname} enrolled`, {});
    return { machine, decision: 'new' };
  }
  const moved = existing.siteId !== siteId;
  const reimaged = !same;
  const previousSite = existing.siteId;
  Object.assign(existing, updateFields(req, siteId, guid));
  await em.flush();
  if (moved) {
    await alert(em, tenantId, AlertKind.MachineSiteMoved, existing, `${req.hostname} moved to another site`, {
      fromSiteId: previousSite,
      toSiteId: siteId,
    });
    return { machine: existing, decision: 'moved' };
  }
  return { machine: existing, decision: reimaged ? 'reimaged' : 'reused' };
}

function machineFields(
  req: EnrollRequest,
  tenantId: string,
  siteId: string,
  uid: string,
  guid: string | null,
) {
  return { tenantId, machineUid: uid, ...updateFields(req, siteId, guid) };
}

function updateFields(req: EnrollRequest, siteId: string, guid: string | null) {
  return {
    siteId,
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
  message: string,
  data: Record<string, unknown>,
) {
  em.create(AlertSchema, {
    id: randomUUID(),
    tenantId,
    kind,
    machineId: machine.id,
    siteId: machine.siteId,
    message,
    data,
    createdAt: new Date(),
  });
  await em.flush();
}
