import { temporalSecurity } from '../../infra/temporal/tls';
import { Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app';

interface Check {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

async function timed(fn: () => Promise<unknown>, timeoutMs: number): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  // The losing promise of the race must not reject unobserved later.
  const attempt = fn();
  attempt.catch(() => {});
  try {
    await Promise.race([
      attempt,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return {
      ok: false,
      latencyMs: Math.round(performance.now() - started),
      error: (err as Error).message.split('\n')[0],
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * 200 when PostgreSQL and Temporal both answer, 503 otherwise; the body says which, and nothing
 * more: it is unauthenticated, so why one failed (addresses, error text) goes to the log only.
 */
export async function healthzRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  // Its own connection without the SDK's retry interceptor: a health check must answer "down"
  // within its deadline, not retry in the background after the answer was given.
  const { address } = (deps.temporal.connection as Connection).options;
  const probe = Connection.lazy({
    address,
    interceptors: [],
    connectTimeout: 2000,
    ...temporalSecurity(deps.env),
  });
  app.addHook('onClose', async () => probe.close());
  app.get('/healthz', { logLevel: 'warn' }, async (_request, reply) => {
    const [postgres, temporal] = await Promise.all([
      timed(() => deps.orm.em.getConnection().execute('select 1'), 2000),
      timed(() => probe.withDeadline(Date.now() + 2000, () => probe.workflowService.getSystemInfo({})), 2000),
    ]);
    const ok = postgres.ok && temporal.ok;
    if (!ok) app.log.warn({ postgres: postgres.error, temporal: temporal.error }, 'health check failed');
    const shown = ({ ok, latencyMs }: Check) => ({ ok, latencyMs });
    return reply
      .code(ok ? 200 : 503)
      .send({ status: ok ? 'ok' : 'unavailable', postgres: shown(postgres), temporal: shown(temporal) });
  });
}
