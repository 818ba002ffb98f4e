import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Drydock's custom search attributes: engineers filter runs by these in the Temporal UI. The dev
 * server registers every key listed here at start (infra/temporal/dev-server.ts).
 */
export const TenantIdKey = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const SiteIdKey = defineSearchAttributeKey('SiteId', SearchAttributeType.KEYWORD);
export const MachineIdKey = defineSearchAttributeKey('MachineId', SearchAttributeType.KEYWORD);
export const FleetRunIdKey = defineSearchAttributeKey('FleetRunId', SearchAttributeType.KEYWORD);
export const PhaseKey = defineSearchAttributeKey('Phase', SearchAttributeType.KEYWORD);
export const RunStatusKey = defineSearchAttributeKey('RunStatus', SearchAttributeType.KEYWORD);

export const searchAttributeKeys = [
  TenantIdKey,
  SiteIdKey,
  MachineIdKey,
  FleetRunIdKey,
  PhaseKey,
  RunStatusKey,
];
