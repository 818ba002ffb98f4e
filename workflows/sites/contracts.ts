/**
 * The sites domain as the API and workers see it: ids, inputs, results and failure types.
 * Imports nothing from the implementation.
 */
export { CORE_TASK_QUEUE } from '../task-queues';

export const createSiteWorkflowId = (tenantId: string, code: string): string =>
  `create-site:${tenantId}:${code}`;

export interface CreateSiteInput {
  tenantId: string;
  clientId: string;
  /** Upper-case letters, digits and dashes, 3–32 characters; unique within the tenant (other tenants' codes are invisible). */
  code: string;
  name: string;
  /** Who asked, for the audit event. */
  actor: string;
}

export interface CreateSiteResult {
  siteId: string;
  /** False when the site already existed with the same client (a repeated request). */
  created: boolean;
}

export enum SiteFailure {
  ClientNotFound = 'ClientNotFound',
  SiteCodeTaken = 'SiteCodeTaken',
  InvalidSite = 'InvalidSite',
}
