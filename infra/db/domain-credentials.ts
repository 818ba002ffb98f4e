import { randomUUID } from 'node:crypto';
import { openSecret, sealSecret, type SecretKeyring } from '../secrets/server-secrets';
import { StepFailure } from '../wire/agent-steps';
import { appendAudit } from './audit';
import type { EntityManager } from './orm';

/**
 * A site's domain credential (ADR 0026), by reference: stored sealed under a server-held key, one
 * current version per site; tasks and workflow histories carry only its id. The password leaves
 * the server in one place — the claim response of that site's active gateway — and every such use
 * is an audit event. Callers run inside a tenant transaction (`withTenant`), so RLS applies.
 */

export const DomainCredentialRefusal = {
  /** No credential with that id in this tenant. */
  NotFound: 'CredentialNotFound',
  /** The claiming machine is not an active gateway of the credential's site. */
  NotSiteGateway: 'CredentialNotForThisMachine',
  /** A join credential asked for a task that is not a join, or a directory credential for a join. */
  WrongPurpose: 'CredentialNotForThisTask',
} as const;

/**
 * What a credential is for (ADR 0048): `directory`, the gateway's LDAP and WinRM work; `join`, the
 * endpoints of its site joining the domain. Each purpose has its own current credential per site.
 */
export type CredentialPurpose = 'directory' | 'join';
export type DomainCredentialRefusal = (typeof DomainCredentialRefusal)[keyof typeof DomainCredentialRefusal];

const sealContext = (tenantId: string, siteId: string, id: string) =>
  `tenant:${tenantId}:site:${siteId}:domain-credential:${id}`;

export interface StoredCredential {
  id: string;
  version: number;
  domain: string;
  user: string;
}

/**
 * Stores a new version of the site's credential (the caller tested it with a bind first) and
 * replaces the previous one; audited without the password.
 */
export async function storeDomainCredential(
  em: EntityManager,
  ring: SecretKeyring,
  input: {
    tenantId: string;
    siteId: string;
    domain: string;
    user: string;
    password: string;
    actor: string;
    /** Default `directory`. */
    purpose?: CredentialPurpose;
  },
): Promise<StoredCredential> {
  const id = randomUUID();
  const domain = input.domain.toLowerCase();
  const purpose = input.purpose ?? 'directory';
  const [previous] = await em.execute<{ version: number }[]>(
    `update domain_credentials set replaced_at = now()
     where tenant_id = ? and site_id = ? and purpose = ? and replaced_at is null and state = 'accepted' returning version`,
    [input.tenantId, input.siteId, purpose],
  );
  const [{ next } = { next: 1 }] = await em.execute<{ next: number }[]>(
    `select coalesce(max(version), 0) + 1 as next from domain_credentials where tenant_id = ? and site_id = ?`,
    [input.tenantId, input.siteId],
  );
  const sealed = sealSecret(ring, input.password, sealContext(input.tenantId, input.siteId, id));
  await em.execute(
    `insert into domain_credentials (id, tenant_id, site_id, domain, user_name, password_sealed, key_id, version, created_by, purpose)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      id,
      input.tenantId,
      input.siteId,
      domain,
      input.user,
      sealed,
      ring.currentId,
      next,
      input.actor,
      purpose,
    ],
  );
  await appendAudit(em, {
    tenantId: input.tenantId,
    actor: input.actor,
    action: previous ? 'domain-credential.rotated' : 'domain-credential.stored',
    subjectType: 'site',
    subjectId: input.siteId,
    data: { credentialId: id, domain, user: input.user, version: next, keyId: ring.currentId, purpose },
  });
  return { id, version: next, domain, user: input.user };
}

/**
 * A credential an operator entered, stored sealed as a `candidate`: the site's gateway is handed it
 * for a test bind only (by its own id); `decideCandidate` makes it the site's current credential or
 * rejects it. Audited without the password.
 */
export async function storeCandidateCredential(
  em: EntityManager,
  ring: SecretKeyring,
  input: { tenantId: string; siteId: string; domain: string; user: string; password: string; actor: string },
): Promise<{ id: string; domain: string; user: string }> {
  const id = randomUUID();
  const domain = input.domain.toLowerCase();
  const sealed = sealSecret(ring, input.password, sealContext(input.tenantId, input.siteId, id));
  // Every entered credential takes the site's next version number (a rejected one leaves a gap).
  await em.execute(
    `insert into domain_credentials (id, tenant_id, site_id, domain, user_name, password_sealed, key_id, version, created_by, state)
     select ?, ?, ?, ?, ?, ?, ?, coalesce(max(version), 0) + 1, ?, 'candidate'
       from domain_credentials where tenant_id = ? and site_id = ?`,
    [
      id,
      input.tenantId,
      input.siteId,
      domain,
      input.user,
      sealed,
      ring.currentId,
      input.actor,
      input.tenantId,
      input.siteId,
    ],
  );
  await appendAudit(em, {
    tenantId: input.tenantId,
    actor: input.actor,
    action: 'domain-credential.entered',
    subjectType: 'site',
    subjectId: input.siteId,
    data: { credentialId: id, domain, user: input.user },
  });
  return { id, domain, user: input.user };
}

/**
 * The outcome of a candidate's test bind: accepted, it replaces the site's current credential (the
 * next task uses it); rejected, it is never handed out again. A decided candidate stays decided
 * (a repeated call answers what was decided), so the workflow may retry this freely.
 */
export async function decideCandidate(
  em: EntityManager,
  input: { tenantId: string; credentialId: string; accept: boolean; reason?: string; actor: string },
): Promise<{ state: 'accepted' | 'rejected'; version: number } | null> {
  const [row] = await em.execute<
    { site_id: string; state: string; version: number; domain: string; user_name: string }[]
  >(
    `select site_id, state, version, domain, user_name from domain_credentials where tenant_id = ? and id = ? for update`,
    [input.tenantId, input.credentialId],
  );
  if (!row) return null;
  if (row.state !== 'candidate') return { state: row.state as 'accepted' | 'rejected', version: row.version };
  if (input.accept) {
    const [previous] = await em.execute<{ version: number }[]>(
      `update domain_credentials set replaced_at = now()
        where tenant_id = ? and site_id = ? and purpose = 'directory' and replaced_at is null and state = 'accepted' returning version`,
      [input.tenantId, row.site_id],
    );
    const [next] = await em.execute<{ version: number }[]>(
      `update domain_credentials set state = 'accepted', decided_at = now()
        where tenant_id = ? and id = ? returning version`,
      [input.tenantId, input.credentialId],
    );
    await appendAudit(em, {
      tenantId: input.tenantId,
      actor: input.actor,
      action: previous ? 'domain-credential.rotated' : 'domain-credential.stored',
      subjectType: 'site',
      subjectId: row.site_id,
      data: {
        credentialId: input.credentialId,
        domain: row.domain,
        user: row.user_name,
        version: next!.version,
      },
    });
    return { state: 'accepted', version: next!.version };
  }
  await em.execute(
    `update domain_credentials set state = 'rejected', decided_at = now() where tenant_id = ? and id = ?`,
    [input.tenantId, input.credentialId],
  );
  await appendAudit(em, {
    tenantId: input.tenantId,
    actor: input.actor,
    action: 'domain-credential.rejected',
    subjectType: 'site',
    subjectId: row.site_id,
    data: {
      credentialId: input.credentialId,
      domain: row.domain,
      user: row.user_name,
      reason: input.reason ?? null,
    },
  });
  return { state: 'rejected', version: row.version };
}

/** The site's current credential (no password), or null. */
export async function currentDomainCredential(
  em: EntityManager,
  tenantId: string,
  siteId: string,
  purpose: CredentialPurpose = 'directory',
): Promise<StoredCredential | null> {
  const [row] = await em.execute<{ id: string; version: number; domain: string; user_name: string }[]>(
    `select id, version, domain, user_name from domain_credentials
     where tenant_id = ? and site_id = ? and purpose = ? and replaced_at is null and state = 'accepted'`,
    [tenantId, siteId, purpose],
  );
  return row ? { id: row.id, version: row.version, domain: row.domain, user: row.user_name } : null;
}

export interface ResolvedCredential {
  /** The version actually resolved: a reference to an older version resolves to the current one. */
  version: number;
  domain: string;
  user: string;
  password: string;
}

/**
 * For the claim response of `machineId`'s task that references `credentialId`: the site's current
 * credential, if and only if the machine is an active gateway of that site. Audited with the task,
 * refusals too (so they are returned, not thrown: the caller's transaction commits the event); a
 * refusal also fails the task, once (refuseClaim).
 */
export async function resolveForGateway(
  em: EntityManager,
  ring: SecretKeyring,
  input: { tenantId: string; machineId: string; credentialId: string; taskId: string },
): Promise<ResolvedCredential | { refused: DomainCredentialRefusal }> {
  const [ref] = await em.execute<{ site_id: string; state: string; purpose: CredentialPurpose }[]>(
    `select site_id, state, purpose from domain_credentials where tenant_id = ? and id = ?`,
    [input.tenantId, input.credentialId],
  );
  if (!ref || ref.state === 'rejected') return { refused: DomainCredentialRefusal.NotFound };
  // A join credential is for its site's join steps only (resolveForJoin), never a gateway's work.
  if (ref.purpose !== 'directory')
    return refuseClaim(em, input, ref.site_id, DomainCredentialRefusal.WrongPurpose, 'domain');
  const [machine] = await em.execute<{ site_id: string; role: string; status: string }[]>(
    `select site_id, role, status from machines where tenant_id = ? and id = ?`,
    [input.tenantId, input.machineId],
  );
  if (
    !machine ||
    machine.role !== 'gateway' ||
    machine.status !== 'active' ||
    machine.site_id !== ref.site_id
  )
    return refuseClaim(em, input, ref.site_id, DomainCredentialRefusal.NotSiteGateway, 'domain');
  const [row] = await em.execute<
    { id: string; version: number; domain: string; user_name: string; password_sealed: string }[]
  >(
    // A candidate is handed out only by its own id (for the bind that tests it); any other
    // reference resolves to the site's current accepted credential.
    ref.state === 'candidate'
      ? `select id, version, domain, user_name, password_sealed from domain_credentials
          where tenant_id = ? and site_id = ? and id = ?`
      : `select id, version, domain, user_name, password_sealed from domain_credentials
          where tenant_id = ? and site_id = ? and purpose = 'directory' and replaced_at is null and state = 'accepted'`,
    ref.state === 'candidate'
      ? [input.tenantId, ref.site_id, input.credentialId]
      : [input.tenantId, ref.site_id],
  );
  if (!row) return { refused: DomainCredentialRefusal.NotFound };
  const password = openSecret(ring, row.password_sealed, sealContext(input.tenantId, ref.site_id, row.id));
  await appendAudit(em, {
    tenantId: input.tenantId,
    actor: `machine:${input.machineId}`,
    action: 'domain-credential.used',
    subjectType: 'site',
    subjectId: ref.site_id,
    data: { credentialId: row.id, version: row.version, taskId: input.taskId },
  });
  return { version: row.version, domain: row.domain, user: row.user_name, password };
}

/**
 * For the claim response of `machineId`'s `join.domain` task that references `credentialId` (ADR
 * 0048): the current join credential of the credential's site, if and only if the reference is a
 * join credential and the machine is an active machine of that site (any role: every endpoint
 * joins itself). Audited like resolveForGateway, refusals too.
 */
export async function resolveForJoin(
  em: EntityManager,
  ring: SecretKeyring,
  input: { tenantId: string; machineId: string; credentialId: string; taskId: string },
): Promise<ResolvedCredential | { refused: DomainCredentialRefusal }> {
  const [ref] = await em.execute<{ site_id: string; state: string; purpose: CredentialPurpose }[]>(
    `select site_id, state, purpose from domain_credentials where tenant_id = ? and id = ?`,
    [input.tenantId, input.credentialId],
  );
  if (!ref || ref.state !== 'accepted') return { refused: DomainCredentialRefusal.NotFound };
  if (ref.purpose !== 'join')
    return refuseClaim(em, input, ref.site_id, DomainCredentialRefusal.WrongPurpose, 'join');
  const [machine] = await em.execute<{ site_id: string; status: string }[]>(
    `select site_id, status from machines where tenant_id = ? and id = ?`,
    [input.tenantId, input.machineId],
  );
  if (!machine || machine.status !== 'active' || machine.site_id !== ref.site_id)
    return refuseClaim(em, input, ref.site_id, DomainCredentialRefusal.NotSiteGateway, 'join');
  const [row] = await em.execute<
    { id: string; version: number; domain: string; user_name: string; password_sealed: string }[]
  >(
    `select id, version, domain, user_name, password_sealed from domain_credentials
      where tenant_id = ? and site_id = ? and purpose = 'join' and replaced_at is null and state = 'accepted'`,
    [input.tenantId, ref.site_id],
  );
  if (!row) return { refused: DomainCredentialRefusal.NotFound };
  const password = openSecret(ring, row.password_sealed, sealContext(input.tenantId, ref.site_id, row.id));
  await appendAudit(em, {
    tenantId: input.tenantId,
    actor: `machine:${input.machineId}`,
    action: 'domain-credential.used',
    subjectType: 'site',
    subjectId: ref.site_id,
    data: { credentialId: row.id, version: row.version, taskId: input.taskId, purpose: 'join' },
  });
  return { version: row.version, domain: row.domain, user: row.user_name, password };
}

/**
 * The join credential a profile's `credential` names for a machine of `siteId` (prepareMachineRun):
 * `'site'` is the site's current one; an id must be a join credential of that site. Its id, or null.
 */
export async function joinCredentialFor(
  em: EntityManager,
  input: { tenantId: string; siteId: string; credential: string },
): Promise<string | null> {
  if (input.credential === 'site')
    return (await currentDomainCredential(em, input.tenantId, input.siteId, 'join'))?.id ?? null;
  const [row] = await em.execute<{ id: string }[]>(
    `select id from domain_credentials
      where tenant_id = ? and site_id = ? and id = ? and purpose = 'join' and state = 'accepted'`,
    [input.tenantId, input.siteId, input.credential],
  );
  return row?.id ?? null;
}

/** What a task refused its credential fails with (the claim refuses; the API says the same). */
export function credentialRefusalMessage(
  credential: 'join' | 'domain',
  refused: DomainCredentialRefusal,
): string {
  return `this machine may not use the site's ${credential} credential (${refused})`;
}

/**
 * A refused claim: its task fails as `CredentialUnavailable` (it never runs) and the refusal is an
 * audit event, both in the caller's transaction, once per task. The task row is locked first, so
 * of two claims of the same delivered task (a redelivery racing the first claim), the second finds
 * it failed and adds no second event. A task id without a row in this tenant is audited each time.
 */
async function refuseClaim(
  em: EntityManager,
  input: { tenantId: string; machineId: string; credentialId: string; taskId: string },
  siteId: string,
  refused: DomainCredentialRefusal,
  credential: 'join' | 'domain',
): Promise<{ refused: DomainCredentialRefusal }> {
  const [task] = await em.execute<{ status: string }[]>(
    `select status from agent_tasks where tenant_id = ? and machine_id = ? and id = ? for update`,
    [input.tenantId, input.machineId, input.taskId],
  );
  if (task && task.status !== 'queued' && task.status !== 'delivered') return { refused };
  if (task) {
    await em.execute(
      `update agent_tasks set status = 'failed', result = null, error = ?::jsonb, finished_at = now()
        where tenant_id = ? and machine_id = ? and id = ?`,
      [
        JSON.stringify({
          type: StepFailure.CredentialUnavailable,
          message: credentialRefusalMessage(credential, refused),
          retryable: false,
        }),
        input.tenantId,
        input.machineId,
        input.taskId,
      ],
    );
  }
  await appendAudit(em, {
    tenantId: input.tenantId,
    actor: `machine:${input.machineId}`,
    action: 'domain-credential.refused',
    subjectType: 'site',
    subjectId: siteId,
    data: { credentialId: input.credentialId, taskId: input.taskId },
  });
  return { refused };
}

/** Whether the machine is an active gateway (of any site: its own, a machine belongs to one). */
export async function isActiveGateway(
  em: EntityManager,
  tenantId: string,
  machineId: string,
): Promise<boolean> {
  const [machine] = await em.execute<{ role: string; status: string }[]>(
    `select role, status from machines where tenant_id = ? and id = ?`,
    [tenantId, machineId],
  );
  return machine?.role === 'gateway' && machine.status === 'active';
}

/** An operator's decision (after approval): the machine does its site's LAN work. Audited by the caller. */
export async function setMachineRole(
  em: EntityManager,
  tenantId: string,
  machineId: string,
  role: 'endpoint' | 'gateway',
): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>(
    `update machines set role = ? where tenant_id = ? and id = ? returning id`,
    [role, tenantId, machineId],
  );
  return rows.length > 0;
}
