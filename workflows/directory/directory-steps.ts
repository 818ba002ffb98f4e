import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { AgentChannelActivities } from '../../activities/agent-channel/agent-channel-activities';
import { StepKind, type StepPayloads, type TaskResult } from '../../infra/wire/agent-steps';
import { agentStepActivity, type AgentStepPolicy } from '../activity-presets';
import type {
  DirectoryConnection,
  DirectoryEndpoint,
  DiscoveredDomain,
  EnumerationSummary,
} from './contracts';

/** The gateway's steps as the directory workflows dispatch them (deterministic helpers only). */

export function gatewayStep(tenantId: string, gatewayId: string, offlineSeconds: number) {
  return <K extends StepKind>(kind: K, payload: StepPayloads[K], policy: AgentStepPolicy) =>
    proxyActivities<AgentChannelActivities>(
      agentStepActivity(policy, offlineSeconds, kind),
    ).dispatchAgentTask({
      tenantId,
      machineId: gatewayId,
      kind,
      payload,
      deliverWithinSeconds: offlineSeconds,
    }) as Promise<TaskResult<K>>;
}

/**
 * The DC to bind to: the lowest SRV priority, then the highest weight, then the name (stable).
 * The gateway connects to the address discovery found for it and checks the certificate against
 * its name; LDAPS on 636 unless the SRV port is used with StartTLS.
 */
export function endpointFor(domain: DiscoveredDomain, connection: DirectoryConnection): DirectoryEndpoint {
  const dc = [...domain.domainControllers].sort(
    (a, b) => a.priority - b.priority || b.weight - a.weight || a.host.localeCompare(b.host),
  )[0];
  if (!dc)
    throw ApplicationFailure.create({
      type: 'NoDomain',
      message: 'discovery found no domain controller',
      nonRetryable: true,
    });
  return {
    host: dc.host,
    ...(dc.addresses[0] ? { address: dc.addresses[0] } : {}),
    port: connection.security === 'ldaps' ? 636 : dc.port,
    security: connection.security,
    ...(connection.caPem ? { caPem: connection.caPem } : {}),
    ...(connection.pinSha256 ? { pinSha256: connection.pinSha256 } : {}),
  };
}

/** A failed step's words, for an operator (the agent's message names no secret: ADR 0026). */
export function failureReason(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return `${cause.message} (${cause.type ?? 'failed'})`;
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * One enumeration through the gateway with the site's credential (by id): the API merges the
 * computers into the site's discovered hosts and the activity completes with the counts only.
 */
export async function enumerate(
  step: ReturnType<typeof gatewayStep>,
  input: { credentialId: string; domain: string; endpoint: DirectoryEndpoint },
): Promise<EnumerationSummary> {
  const result = await step(
    StepKind.DirectoryEnumerate,
    { credentialRef: input.credentialId, domain: input.domain, endpoint: input.endpoint, pageSize: 500 },
    'change',
  );
  return result as unknown as EnumerationSummary;
}
