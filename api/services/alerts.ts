import { AlertSchema, type Alert } from '../../infra/db/entities';
import { checkRange } from './input';
import { authorize, inTenant, type ServiceContext } from './service-context';

/** The newest alerts, newest first (any role). */
export async function listAlerts(ctx: ServiceContext, input: { last?: number | null }): Promise<Alert[]> {
  authorize(ctx);
  const limit = checkRange(input.last, 'last', { min: 1, max: 500, fallback: 50 });
  return inTenant(ctx, (em) => em.find(AlertSchema, {}, { orderBy: { createdAt: 'desc' }, limit }));
}
