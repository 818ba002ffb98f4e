/** What the API tells the portal about its surroundings (GET /portal-config.json). */
export interface PortalConfig {
  /** The Temporal UI's base URL, or null when the API does not know one. */
  temporalUiUrl: string | null;
  temporalNamespace: string;
}

let config: Promise<PortalConfig> | null = null;

export function portalConfig(): Promise<PortalConfig> {
  config ??= fetch('/portal-config.json')
    .then((r) =>
      r.ok ? (r.json() as Promise<PortalConfig>) : { temporalUiUrl: null, temporalNamespace: 'default' },
    )
    .catch(() => ({ temporalUiUrl: null, temporalNamespace: 'default' }));
  return config;
}

export function temporalWorkflowUrl(c: PortalConfig, workflowId: string): string | null {
  if (!c.temporalUiUrl) return null;
  return `${c.temporalUiUrl}/namespaces/${encodeURIComponent(c.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
