import { Client } from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { AGENT_CHANNEL, type AgentNotice } from '../../infra/db/agent-notices';
import { AgentKeyCache } from './key-cache';

export type WakeReason = 'task' | 'revoked' | 'timeout' | 'closed' | 'reconnected';

interface Waiter {
  machineId: string;
  keyId: string;
  wake(reason: WakeReason): void;
}

/**
 * One dedicated PostgreSQL connection per API process LISTENs for task and revocation notices and
 * wakes the long-polls waiting in this process. Any replica can serve any agent, since every
 * replica hears every NOTIFY. Reconnects with backoff and re-LISTENs; waiters are woken after a
 * reconnect so they re-check what they may have missed.
 */
export class NotifyHub {
  private client: Client | null = null;
  private readonly byMachine = new Map<string, Set<Waiter>>();
  private readonly byKey = new Map<string, Set<Waiter>>();
  private closed = false;
  private reconnectDelay = 250;
  /** Agent keys, cached only while this hub hears revocations (it forgets them on each notice). */
  readonly keys = new AgentKeyCache();

  constructor(
    private readonly url: string,
    private readonly log: FastifyBaseLogger,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.url, keepAlive: true });
    client.on('notification', (msg) => this.onNotice(msg.payload));
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'agent notify connection lost; reconnecting');
      void this.reconnect(client);
    });
    client.on('end', () => void this.reconnect(client));
    await client.connect();
    await client.query(`listen ${AGENT_CHANNEL}`);
    this.client = client;
    this.reconnectDelay = 250;
    this.keys.setListening(true);
  }

  private async reconnect(dead: Client): Promise<void> {
    if (this.closed || this.client !== dead) return;
    this.client = null;
    this.keys.setListening(false);
    dead.removeAllListeners();
    await dead.end().catch(() => {});
    while (!this.closed) {
      await new Promise((r) => setTimeout(r, this.reconnectDelay));
      try {
        await this.connect();
        this.wakeAll('reconnected');
        return;
      } catch (err) {
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, 10_000);
        this.log.warn({ err: (err as Error).message }, 'agent notify reconnect failed');
      }
    }
  }

  private onNotice(payload: string | undefined): void {
    let notice: AgentNotice;
    try {
      notice = JSON.parse(payload ?? '') as AgentNotice;
    } catch {
      return;
    }
    if (notice.t === 'task') for (const w of this.byMachine.get(notice.m) ?? []) w.wake('task');
    if (notice.t === 'revoked') {
      this.keys.forget(notice.k);
      for (const w of this.byKey.get(notice.k) ?? []) w.wake('revoked');
    }
  }

  private wakeAll(reason: WakeReason): void {
    for (const set of this.byMachine.values()) for (const w of set) w.wake(reason);
  }

  /** Resolves on a task or revocation notice for this machine/key, the timeout, or `signal` aborting. */
  wait(machineId: string, keyId: string, timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.closed) return Promise.resolve('closed');
    return new Promise((resolve) => {
      const waiter: Waiter = {
        machineId,
        keyId,
        wake: (reason) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.byMachine.get(machineId)?.delete(waiter);
          this.byKey.get(keyId)?.delete(waiter);
          if (this.byMachine.get(machineId)?.size === 0) this.byMachine.delete(machineId);
          if (this.byKey.get(keyId)?.size === 0) this.byKey.delete(keyId);
          resolve(reason);
        },
      };
      const onAbort = () => waiter.wake('closed');
      const timer = setTimeout(() => waiter.wake('timeout'), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.byMachine.has(machineId)) this.byMachine.set(machineId, new Set());
      if (!this.byKey.has(keyId)) this.byKey.set(keyId, new Set());
      this.byMachine.get(machineId)!.add(waiter);
      this.byKey.get(keyId)!.add(waiter);
    });
  }

  get waiting(): number {
    let n = 0;
    for (const set of this.byMachine.values()) n += set.size;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.keys.setListening(false);
    for (const set of [...this.byMachine.values()]) for (const w of [...set]) w.wake('closed');
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners();
      await client.end().catch(() => {});
    }
  }
}
