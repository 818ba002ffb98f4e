import type { ResolvedPostgres } from '../infra/postgres/resolve';

import { dropDatabase, dropTestDatabases } from './helpers/shared';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__drydockTest as
    { server: { stop(): Promise<void> }; pg: ResolvedPostgres; template: string } | undefined;
  if (!state) return;
  await state.server.stop();
  await dropTestDatabases(state.pg.adminUrl, String(process.pid));
  await dropDatabase(state.pg.adminUrl, state.template);
  await state.pg.stop();
}
