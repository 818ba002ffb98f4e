import type { ResolvedPostgres } from '../infra/postgres/resolve';
import type { DevServer } from '../infra/temporal/dev-server';
import { dropDatabase, dropTestDatabases } from './helpers/shared';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__drydockTest as
    { server: DevServer; pg: ResolvedPostgres; template: string } | undefined;
  if (!state) return;
  await state.server.stop();
  await dropTestDatabases(state.pg.adminUrl, String(process.pid));
  await dropDatabase(state.pg.adminUrl, state.template);
  await state.pg.stop();
}
