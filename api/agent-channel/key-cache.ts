import type { AgentKeyRow } from '../../infra/db/agent-tasks';

/**
 * Agent key rows by key id, so an agent's poll and result do not look their key up every time.
 * Safe only while revocations are heard: the NotifyHub forgets a key on its `revoked` notice (every
 * API replica hears it), the process that revokes forgets it at once, and while the hub's LISTEN
 * connection is down nothing is cached (a notice could be missed). A lookup that overlapped a
 * revocation is not cached. The secret is still checked against the row's HMAC on every request.
 */
export class AgentKeyCache {
  private readonly rows = new Map<string, { row: AgentKeyRow; until: number }>();
  /** Bumped by every forget and clear: a lookup started before one is not cached. */
  private generation = 0;
  private enabled = false;

  constructor(
    private readonly ttlMs = 60_000,
    private readonly maxRows = 50_000,
  ) {}

  async get(keyId: string, load: () => Promise<AgentKeyRow | null>): Promise<AgentKeyRow | null> {
    const hit = this.rows.get(keyId);
    if (hit && hit.until > Date.now()) return hit.row;
    const generation = this.generation;
    const row = await load();
    if (row && this.enabled && generation === this.generation) {
      this.rows.delete(keyId);
      // Oldest first out: a Map iterates in insertion order.
      if (this.rows.size >= this.maxRows) this.rows.delete(this.rows.keys().next().value!);
      this.rows.set(keyId, { row, until: Date.now() + this.ttlMs });
    }
    return row;
  }

  forget(keyId: string): void {
    this.generation++;
    this.rows.delete(keyId);
  }

  /** Revocation notices flow (true) or may be missed (false: cache nothing, forget everything). */
  setListening(listening: boolean): void {
    this.generation++;
    this.enabled = listening;
    if (!listening) this.rows.clear();
  }

  get size(): number {
    return this.rows.size;
  }
}
