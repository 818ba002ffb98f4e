/** Workflows and server-side activities (database, escrow, notifications, agent dispatch). */
export const CORE_TASK_QUEUE = 'core';

/** LAN activities that must run inside a site (WinRM, LDAP, DNS). */
export const siteTaskQueue = (siteId: string): string => `site:${siteId}`;
