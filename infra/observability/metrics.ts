import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The API's Prometheus metrics (issue 18, docs/operations.md): one registry per process, served on
 * its own address (API_METRICS_ADDRESS) so that scraping never goes through the public listener.
 * The worker's Temporal metrics come from the SDK's runtime (WORKER_METRICS_ADDRESS).
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'drydock_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status class',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'drydock_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (long-polls excluded: see drydock_agent_long_poll_seconds)',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly longPollSeconds = new Histogram({
    name: 'drydock_agent_long_poll_seconds',
    help: 'How long an agent long-poll was held before it was answered',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.1, 1, 5, 10, 20, 30, 60, 120],
    registers: [this.registry],
  });
  readonly tasksDelivered = new Counter({
    name: 'drydock_agent_tasks_delivered_total',
    help: 'Agent tasks handed to a machine, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly claims = new Counter({
    name: 'drydock_agent_claims_total',
    help: "A long-poll's looks for a task: claimed (one delivered), empty (a claim query found none), busy (an open task's row was held by another transaction: looked again shortly), skipped (the machine is known to have none: no query)",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly wakeToDelivery = new Histogram({
    name: 'drydock_agent_task_wake_to_delivery_seconds',
    help: "From the task notice waking a waiting long-poll to the task leaving in the poll's answer",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  /** Long-polls waiting right now in this process (the API's long-poll hub sets it). */
  longPollsOpen: () => number = () => 0;

  constructor(
    sources: {
      /** Runs by kind and status across all tenants (counts only), read at scrape time. */
      runCounts?: () => Promise<{ kind: string; status: string; n: number }[]>;
    } = {},
    defaults = true,
  ) {
    const open = () => this.longPollsOpen();
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'drydock_api_' });
    new Gauge({
      name: 'drydock_agent_long_polls_open',
      help: 'Agent long-polls waiting in this API process',
      registers: [this.registry],
      collect() {
        this.set(open());
      },
    });
    const runCounts = sources.runCounts;
    if (runCounts)
      new Gauge({
        name: 'drydock_runs',
        help: 'Runs by kind (machine, fleet) and status, all tenants (open ones and those finished in the last day)',
        labelNames: ['kind', 'status'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const row of await runCounts()) this.set({ kind: row.kind, status: row.status }, row.n);
        },
      });
  }
}

/** Serves `/metrics` from `registry` on host:port; resolves once listening. */
export async function serveMetrics(address: string, registry: Registry): Promise<Server> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(at + 1));
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: Error) =>
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
