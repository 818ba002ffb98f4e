import { execFile } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../infra/config/env';

/** Snippets linted as the file named (`file`), or as a workflow (a plain string). */
const cases = {
  nodeBuiltin: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;",
  pg: "import { Client } from 'pg';\nexport const x = Client;",
  orm: "import { createOrm } from '../../infra/db/orm';\nexport const x = createOrm;",
  activityValue:
    "import { createSiteActivities } from '../../activities/sites/site-activities';\nexport const x = createSiteActivities;",
  wireProtocol:
    "import { WireErrorCode } from '../../infra/wire/agent-protocol';\nexport const x = WireErrorCode;",
  clockAndRandom:
    'export const a = Date.now();\nexport const b = Math.random();\nexport const c = process.env;',
  allowed:
    "import { proxyActivities } from '@temporalio/workflow';\nimport type { SiteActivities } from '../../activities/sites/site-activities';\nexport const a = proxyActivities<SiteActivities>({ startToCloseTimeout: '1 minute' });",
  stepKinds: "import { StepKind } from '../../infra/wire/agent-steps';\nexport const x = StepKind.Reboot;",
  // The API's layers (ADR 0017) and what infra/ may import (ADR 0006).
  resolverOrm: {
    file: 'api/graphql/types/client.ts',
    code: "import { withTenant } from '../../../infra/db/orm';\nexport const x = withTenant;",
  },
  resolverAudit: {
    file: 'api/graphql/types/client.ts',
    code: "import { appendAudit } from '../../../infra/db/audit';\nexport const x = appendAudit;",
  },
  resolverTemporal: {
    file: 'api/graphql/types/client.ts',
    code: "import { Client } from '@temporalio/client';\nexport const x = Client;",
  },
  resolverRunOwner: {
    file: 'api/graphql/types/machine-run.ts',
    code: "import { startSingleRun } from '../../../infra/provisioning/machine-runs';\nexport const x = startSingleRun;",
  },
  resolverAllowed: {
    file: 'api/graphql/types/client.ts',
    code:
      "import { AlertKind, type Client } from '../../../infra/db/entities';\n" +
      "import type { Orm } from '../../../infra/db/orm';\n" +
      "import { listClients } from '../../services/clients-and-sites';\n" +
      'export const x: [typeof AlertKind, typeof listClients, Client?, Orm?] = [AlertKind, listClients];',
  },
  routeOrm: {
    file: 'api/routes/v1/agent.ts',
    code: "import { withTenant } from '../../../infra/db/orm';\nexport const x = withTenant;",
  },
  serviceTransport: {
    file: 'api/services/machines.ts',
    code: "import { GraphQLError } from 'graphql';\nexport const x = GraphQLError;",
  },
  serviceResolver: {
    file: 'api/services/machines.ts',
    code: "import { MachineRef } from '../graphql/types/machine';\nexport const x = MachineRef;",
  },
  infraApi: {
    file: 'infra/db/audit.ts',
    code: "import { audited } from '../../api/services/audit';\nexport const x = audited;",
  },
  infraCli: {
    file: 'infra/config/env.ts',
    code: "import { program } from '../../cli/main';\nexport const x = program;",
  },
};

let results: Record<keyof typeof cases, (string | null)[]>;

// ESLint runs as its own process (its flat config is ESM, which Jest's CommonJS runtime cannot
// load), once for every snippet: the typed lint builds the project's program once.
beforeAll(async () => {
  const names = Object.keys(cases) as (keyof typeof cases)[];
  const out = await new Promise<(string | null)[][]>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [
        path.join(repoRoot, 'test', 'fixtures', 'lint-texts.mjs'),
        path.join(repoRoot, 'workflows', 'sites', 'create-site.ts'),
      ],
      { cwd: repoRoot, maxBuffer: 10 * 1024 * 1024 },
      (err, stdout, stderr) => {
        try {
          resolve(JSON.parse(stdout) as (string | null)[][]);
        } catch {
          reject(err ?? new Error(stderr));
        }
      },
    );
    child.stdin!.end(JSON.stringify(names.map((n) => cases[n])));
  });
  results = Object.fromEntries(names.map((n, i) => [n, out[i]!])) as typeof results;
}, 240_000);

/** The lint rule that keeps workflows deterministic fires on the things it must refuse. */
describe('workflow determinism lint', () => {
  it.each(['nodeBuiltin', 'pg', 'orm', 'activityValue', 'wireProtocol'] as const)(
    'refuses %s imports',
    (name) => {
      expect(results[name]).toContain('no-restricted-imports');
    },
  );

  it('refuses Date.now, Math.random and process', () => {
    expect(results.clockAndRandom).toEqual([
      'no-restricted-properties',
      'no-restricted-properties',
      'no-restricted-globals',
    ]);
  });

  it('accepts type-only activity imports, the workflow API and the step kinds shared with the agent', () => {
    expect(results.allowed).toEqual([]);
    expect(results.stepKinds).toEqual([]);
  });
});

/** The layering lint: resolvers reach no database or Temporal, services no transport, infra/ no process. */
describe('layer lint', () => {
  it.each(['resolverOrm', 'resolverAudit', 'resolverTemporal', 'resolverRunOwner', 'routeOrm'] as const)(
    'refuses a resolver or route that goes around the services (%s)',
    (name) => {
      expect(results[name]).toEqual(['no-restricted-imports']);
    },
  );

  it('accepts a resolver importing a service, entity enums and types', () => {
    expect(results.resolverAllowed).toEqual([]);
  });

  it.each(['serviceTransport', 'serviceResolver'] as const)(
    'refuses a service that knows its transport (%s)',
    (name) => {
      expect(results[name]).toEqual(['no-restricted-imports']);
    },
  );

  it.each(['infraApi', 'infraCli'] as const)('refuses infra/ code importing a process (%s)', (name) => {
    expect(results[name]).toEqual(['no-restricted-imports']);
  });
});
