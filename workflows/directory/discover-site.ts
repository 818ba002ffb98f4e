import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { DirectoryActivities } from '../../activities/directory/directory-activities';
import { StepKind } from '../../infra/wire/agent-steps';
import { databaseActivity } from '../activity-presets';
import {
  DirectoryFailure,
  discoveryProgressQuery,
  enterCredentialUpdate,
  type CredentialEntry,
  type DirectoryEndpoint,
  type DiscoverSiteInput,
  type DiscoverSiteResult,
  type DiscoveryProgress,
} from './contracts';
import { endpointFor, enumerate, failureReason, gatewayStep } from './directory-steps';

const db = proxyActivities<DirectoryActivities>(databaseActivity);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A site's onboarding up to its computers (docs/onboarding.md, ADR 0042): the site's gateway finds
 * the domain from DNS alone → an alert asks for the one domain credential (raised again every
 * `reminderSeconds` while none is accepted) → each credential entered (the `enterCredential`
 * update) is tested by a bind through the gateway and accepted or refused with the reason → the
 * domain's computers are enumerated into the site's discovered hosts → the site's re-enumeration
 * schedule is set. Only ids travel here: the password is sealed by the API and resolved into the
 * gateway's claim.
 */
export async function discoverSite(input: DiscoverSiteInput): Promise<DiscoverSiteResult> {
  const { workflowId, runId } = workflowInfo();
  const offline = input.offlineLimitSeconds ?? 3600;
  const progress: DiscoveryProgress = {
    state: 'discovering',
    gatewayMachineId: null,
    domain: null,
    tried: [],
    credentialId: null,
    credentialVersion: null,
    reminders: 0,
    lastRefusal: null,
    enumeration: null,
    lastError: null,
  };
  let accepted: { entry: CredentialEntry; endpoint: DirectoryEndpoint } | null = null;
  setHandler(discoveryProgressQuery, () => progress);
  const alert = (kind: string, message: string, key: string, data: Record<string, unknown> = {}) =>
    db.raiseSiteAlert({
      tenantId: input.tenantId,
      siteId: input.siteId,
      kind,
      message,
      dedupeKey: `${workflowId}:${runId}:${key}`,
      data: { workflowId, ...data },
    });

  const gateway = await db.siteGateway({ tenantId: input.tenantId, siteId: input.siteId });
  if (!gateway) {
    progress.state = 'failed';
    progress.lastError = 'the site has no active gateway';
    await alert(
      'directory.no-gateway',
      'Discovery cannot start: the site has no active gateway. Give an enrolled machine of the site the gateway role, then start discovery again.',
      'no-gateway',
    );
    throw ApplicationFailure.create({
      type: DirectoryFailure.NoGateway,
      message: progress.lastError,
      nonRetryable: true,
    });
  }
  progress.gatewayMachineId = gateway;
  const step = gatewayStep(input.tenantId, gateway, offline);

  setHandler(
    enterCredentialUpdate,
    async (entry) => {
      const domain = progress.domain!;
      progress.state = 'testing-credential';
      const endpoint = endpointFor(domain, entry.connection);
      try {
        await step(
          StepKind.DirectoryTestBind,
          { credentialRef: entry.credentialId, domain: domain.domain, endpoint },
          'check',
        );
      } catch (err) {
        const reason = failureReason(err);
        await db.decideDomainCredential({
          tenantId: input.tenantId,
          credentialId: entry.credentialId,
          accept: false,
          reason,
        });
        progress.lastRefusal = reason;
        progress.state = 'awaiting-credential';
        return { accepted: false, reason, version: null };
      }
      const verdict = await db.decideDomainCredential({
        tenantId: input.tenantId,
        credentialId: entry.credentialId,
        accept: true,
      });
      progress.credentialId = entry.credentialId;
      progress.credentialVersion = verdict?.version ?? null;
      progress.lastRefusal = null;
      accepted = { entry, endpoint };
      return { accepted: true, reason: null, version: verdict?.version ?? null };
    },
    {
      // One test at a time, and only once the domain is known and no credential is accepted yet.
      validator: (entry) => {
        if (progress.state !== 'awaiting-credential')
          throw new Error(
            progress.state === 'discovering'
              ? 'the domain is not found yet: enter the credential once discovery reports it'
              : `discovery is ${progress.state}: it takes no credential now`,
          );
        if (!UUID.test(entry.credentialId)) throw new Error('credentialId must be an id');
        if (entry.connection.security !== 'ldaps' && entry.connection.security !== 'starttls')
          throw new Error('connection.security must be ldaps or starttls');
      },
    },
  );

  const discovered = await step(
    StepKind.DirectoryDiscover,
    {
      ...(input.resolvers ? { resolvers: input.resolvers } : {}),
      ...(input.searchSuffixes ? { searchSuffixes: input.searchSuffixes } : {}),
    },
    'check',
  );
  if (!discovered.found) {
    progress.state = 'not-found';
    progress.tried = discovered.tried;
    await alert(
      'directory.not-found',
      `No Active Directory domain was found from the gateway's DNS (tried: ${discovered.tried.join(', ') || 'no search suffix'}). Check that the gateway uses the domain's DNS servers and has the domain among its search suffixes.`,
      'not-found',
      { tried: discovered.tried },
    );
    return { state: 'not-found', domain: null, enumeration: null };
  }
  const domain = discovered.found;
  progress.domain = domain;
  progress.state = 'awaiting-credential';
  const found = `Domain ${domain.domain} found (${domain.domainControllers.map((d) => d.host).join(', ')}${domain.site ? `, AD site ${domain.site}` : ''}); a domain credential is needed to list its computers.`;
  await alert('directory.credential-needed', found, 'credential-needed:0', {
    domain: domain.domain,
    certificateSha256: domain.certificate?.sha256 ?? null,
  });
  const reminder = (input.reminderSeconds ?? 24 * 3600) * 1000;
  while (!(await condition(() => accepted !== null, reminder))) {
    progress.reminders++;
    await alert(
      'directory.credential-needed',
      `Reminder ${progress.reminders}: ${found}`,
      `credential-needed:${progress.reminders}`,
      { domain: domain.domain },
    );
  }
  // The update that accepted has returned its verdict before the enumeration starts.
  await condition(allHandlersFinished);
  const chosen = accepted!;
  progress.state = 'enumerating';
  progress.enumeration = await enumerate(step, {
    credentialId: chosen.entry.credentialId,
    domain: domain.domain,
    endpoint: chosen.endpoint,
  });
  await db.ensureEnumerationSchedule({
    tenantId: input.tenantId,
    siteId: input.siteId,
    everySeconds: input.enumerationIntervalSeconds ?? 24 * 3600,
    taskQueue: workflowInfo().taskQueue,
    domain: domain.domain,
    endpoint: chosen.endpoint,
  });
  progress.state = 'done';
  return { state: 'done', domain: domain.domain, enumeration: progress.enumeration };
}
