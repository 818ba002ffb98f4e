/** Drydock's custom search attributes: engineers filter runs by these in the Temporal UI. */
export const searchAttributes = {
  TenantId: 'Keyword',
  SiteId: 'Keyword',
  MachineId: 'Keyword',
  FleetRunId: 'Keyword',
  Phase: 'Keyword',
  RunStatus: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof searchAttributes;
