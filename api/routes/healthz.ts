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
  try {
    await Promise.race([
      fn(),
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

/** 200 when PostgreSQL and Temporal both answer, 503 otherwise; the body says which. */
export async function healthzRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.get('/healthz', { logLevel: 'warn' }, async (_request, reply) => {
    const [postgres, temporal] = await Promise.all([
      timed(() => deps.orm.em.getConnection().execute('select 1'), 2000),
      timed(() => deps.temporal.connection.workflowService.getSystemInfo({}), 2000),
    ]);
    const ok = postgres.ok && temporal.ok;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', postgres, temporal });
  });
}
