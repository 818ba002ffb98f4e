import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client as TemporalClient } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { spawnDevIdp, type DevIdpProcess } from '../../infra/auth/dev-idp-process';
import type { Orm } from '../../infra/db/orm';
import { demoTenantId, seedDemoSignIn } from '../../infra/db/seed-demo';
import { bundleAgent } from '../../installer/build-agent';
import { pinnedNodeVersion } from '../../installer/node-win';
import { buildTestApp, gql } from './api';
import { createTestDatabase, type TestDatabase } from './database';
import { createTenant, type TenantFixture } from './fixtures';
import { freePort } from './shared';
import { startTestWorker, testTemporalClient } from './temporal';

/** The real stack for agent tests: PostgreSQL, Temporal, a worker, and the API on a real port. */
export interface AgentStack {
  db: TestDatabase;
  orm: Orm;
  temporal: TemporalClient;
  taskQueue: string;
  app: FastifyInstance;
  apiUrl: string;
  /** The API's real listening URL (the same as apiUrl): sign in here (test/helpers/auth.ts). */
  baseUrl: string;
  /** The development OIDC provider this stack signs in with; its demo users are seeded. */
  oidc: { issuer: string };
  /** The demo tenant of the demo users (admin@demo.test and friends). */
  demoTenantId: string;
  port: number;
  tenant: TenantFixture;
  stateDir: string;
  env: Record<string, string>;
  /**
   * With `bundledAgents`: the agent bundled into one script exactly as drydock-agent.exe carries it
   * (installer/build-agent.ts). Pass it to the harness (`agentScript`) to run agents as processes.
   */
  agentScript?: string;
  /** Stops the API (as a crash or deploy would) and, with `restart`, brings a new one up on the same port. */
  restartApi(downMs?: number): Promise<void>;
  issueEnrollmentKey(siteId?: string): Promise<{ key: string; fingerprint: string; version: number }>;
  close(): Promise<void>;
}

export async function startAgentStack(
  env: Record<string, string> = {},
  opts: { logStream?: NodeJS.WritableStream; bundledAgents?: boolean } = {},
): Promise<AgentStack> {
  // The bundle runs under this process's Node: it must be the version node.exe carries.
  if (opts.bundledAgents && process.version !== `v${pinnedNodeVersion()}`)
    throw new Error(`bundled agents run under Node ${pinnedNodeVersion()}, not ${process.version}`);
  const db = await createTestDatabase();
  const orm = await db.appOrm();
  const temporal = await testTemporalClient();
  const worker = await startTestWorker(orm);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const idp: DevIdpProcess = await spawnDevIdp({ port: 0, redirectUris: [`${baseUrl}/auth/callback`] });
  await seedDemoSignIn(orm, 'demo', idp.issuer);
  const fullEnv = {
    AGENT_POLL_MAX_SECONDS: '5',
    ENROLL_RATE_LIMIT_PER_MINUTE: '100000',
    OIDC_ISSUER: idp.issuer,
    PUBLIC_URL: baseUrl,
    // Hosts a gateway pushes the agent to download it from this API (one-time links, ADR 0043).
    INSTALLER_API_URL: baseUrl,
    ...env,
  };
  const start = async () => {
    const app = await buildTestApp(orm, temporal, db.appUrl, worker.taskQueue, fullEnv, opts.logStream);
    await app.listen({ host: '127.0.0.1', port });
    return app;
  };
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'drydock-agents-'));
  const bundle = opts.bundledAgents
    ? await bundleAgent(path.join(stateDir, 'bundle', 'drydock-agent.js'))
    : undefined;
  const stack: AgentStack = {
    db,
    orm,
    temporal,
    taskQueue: worker.taskQueue,
    app: await start(),
    apiUrl: baseUrl,
    baseUrl,
    oidc: { issuer: idp.issuer },
    demoTenantId: demoTenantId('demo'),
    port,
    tenant: await createTenant(orm),
    stateDir,
    env: fullEnv,
    ...(bundle ? { agentScript: bundle.file } : {}),
    async restartApi(downMs = 500) {
      await stack.app.close();
      await new Promise((r) => setTimeout(r, downMs));
      stack.app = await start();
    },
    async issueEnrollmentKey(siteId = stack.tenant.siteId) {
      const res = await gql<{ rotateEnrollmentKey: { key: string; fingerprint: string; version: number } }>(
        stack.app,
        stack.tenant.tenantId,
        'mutation($s: ID!) { rotateEnrollmentKey(siteId: $s) { key fingerprint version } }',
        { s: siteId },
      );
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      return res.data.rotateEnrollmentKey;
    },
    async close() {
      const t = Date.now();
      const mark = (what: string) =>
        process.env.DEBUG_AGENTS && console.log(`${what} at ${Date.now() - t} ms`);
      await stack.app.close();
      await idp.stop();
      mark('api closed');
      await worker.stop();
      mark('worker stopped');
      await temporal.connection.close();
      await db.drop();
      mark('db dropped');
      rmSync(stack.stateDir, { recursive: true, force: true });
    },
  };
  return stack;
}
