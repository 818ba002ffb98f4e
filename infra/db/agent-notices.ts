/**
 * PostgreSQL NOTIFY between whoever queues agent work (workers, API) and the API processes holding
 * long-polls. Ids only: payloads are capped at 8000 bytes and every session can LISTEN.
 */
export const AGENT_CHANNEL = 'drydock_agent';

export type AgentNotice =
  | { t: 'task'; m: string }
  | { t: 'revoked'; k: string }
  /** The key now belongs to another machine row (an approved replacement): forget it, end its poll. */
  | { t: 'rekeyed'; k: string };

/** For use inside the caller's transaction: delivered on commit, dropped on rollback. */
export function noticeSql(notice: AgentNotice): { sql: string; params: string[] } {
  return { sql: `select pg_notify('${AGENT_CHANNEL}', ?)`, params: [JSON.stringify(notice)] };
}
