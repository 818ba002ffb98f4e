import { Client } from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { AGENT_CHANNEL, type AgentNotice } from '../../infra/db/agent-notices';
import { IdleMachines, type IdleMark } from './idle-machines';
import { AgentKeyCache } from './key-cache';

/**
 * Why a long-poll's wait ended. `superseded`: a newer poll of the same key took over (one poll per
 * key); `rekeyed`: the key now belongs to another machine row (an approved replacement).
 */
/** A key's polls may replace its own open poll this often a minute (an agent restart does it once). */
export const SUPERSEDES_PER_MINUTE = 20;

export type WakeReason = 'task' | 'revoked' | 'timeout' | 'closed' | 'reconnected' | 'superseded' | 'rekeyed';

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
 *
 * One outstanding poll per agent key (per process): a new poll ends the older one (it answers
 * 204), so one key cannot hold thousands of sockets and wake-ups. A task notice wakes one waiter
 * of the machine, the newest.
 */
export class NotifyHub {
  private client: Client | null = null;
  private readonly byMachine = new Map<string, Set<Waiter>>();
  private readonly byKey = new Map<string, Waiter>();
  /** The current poll of each key that has one (its number): older polls of the key are over. */
  private readonly currentPoll = new Map<string, number>();
  private polls = 0;
  /** Per key: how often its polls replaced its own open poll in the current minute. */
  private readonly supersedes = new Map<string, { since: number; count: number }>();
  private closed = false;
  private reconnectDelay = 250;
  /** Agent keys, cached only while this hub hears revocations (it forgets them on each notice). */
  readonly keys = new AgentKeyCache();
  /** Machines known to have nothing to claim, only while this hub hears task notices. */
  readonly idle = new IdleMachines();

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
    this.idle.setListening(true);
  }

  private async reconnect(dead: Client): Promise<void> {
    if (this.closed || this.client !== dead) return;
    this.client = null;
    this.keys.setListening(false);
    this.idle.setListening(false);
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
    if (notice.t === 'task') {
      this.idle.touched(notice.m);
      const waiters = this.byMachine.get(notice.m);
      // The newest waiter (a Set iterates in insertion order): one claim per notice.
      if (waiters?.size) [...waiters][waiters.size - 1]!.wake('task');
    }
    if (notice.t === 'revoked' || notice.t === 'rekeyed') {
      this.keys.forget(notice.k);
      this.idle.forgetAll();
      this.byKey.get(notice.k)?.wake(notice.t);
    }
  }

  /**
   * A long-poll of this key begins: it becomes the key's current poll, and the older one, if still
   * open, ends now ('superseded'). Returns the poll's number for `wait` and `isCurrent`, or null
   * when the key has superseded its own polls more than SUPERSEDES_PER_MINUTE times in a minute:
   * an agent polls one at a time, so only a broken or hostile client does that (answer 429).
   */
  beginPoll(keyId: string): number | null {
    if (this.currentPoll.has(keyId) && this.countSupersede(keyId) > SUPERSEDES_PER_MINUTE) return null;
    const poll = ++this.polls;
    this.currentPoll.set(keyId, poll);
    this.byKey.get(keyId)?.wake('superseded');
    return poll;
  }

  private countSupersede(keyId: string): number {
    const now = Date.now();
    let entry = this.supersedes.get(keyId);
    if (!entry || now - entry.since > 60_000) {
      if (this.supersedes.size >= 100_000) this.supersedes.clear();
      entry = { since: now, count: 0 };
      this.supersedes.set(keyId, entry);
    }
    return ++entry.count;
  }

  isCurrent(keyId: string, poll: number): boolean {
    return this.currentPoll.get(keyId) === poll;
  }

  /** The poll answered: forget it unless a newer one took over. */
  endPoll(keyId: string, poll: number): void {
    if (this.currentPoll.get(keyId) === poll) this.currentPoll.delete(keyId);
  }

  private wakeAll(reason: WakeReason): void {
    for (const set of this.byMachine.values()) for (const w of set) w.wake(reason);
  }

  /**
   * Resolves on a task or revocation notice for this machine/key, the timeout, `signal` aborting,
   * or (with `poll`) a newer poll of the key. With `since` (the idle mark taken before the poll's
   * last claim), a task notice that came between that claim and this wait is not missed: it
   * resolves 'task' at once.
   */
  wait(
    machineId: string,
    keyId: string,
    timeoutMs: number,
    signal?: AbortSignal,
    poll?: number,
    since?: IdleMark,
  ): Promise<WakeReason> {
    if (this.closed) return Promise.resolve('closed');
    if (poll !== undefined && !this.isCurrent(keyId, poll)) return Promise.resolve('superseded');
    if (since && this.idle.changedSince(machineId, since)) return Promise.resolve('task');
    return new Promise((resolve) => {
      const waiter: Waiter = {
        machineId,
        keyId,
        wake: (reason) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.byMachine.get(machineId)?.delete(waiter);
          if (this.byMachine.get(machineId)?.size === 0) this.byMachine.delete(machineId);
          if (this.byKey.get(keyId) === waiter) this.byKey.delete(keyId);
          resolve(reason);
        },
      };
      const onAbort = () => waiter.wake('closed');
      const timer = setTimeout(() => waiter.wake('timeout'), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.byMachine.has(machineId)) this.byMachine.set(machineId, new Set());
      this.byMachine.get(machineId)!.add(waiter);
      // One waiter per key: an older one (a wait without a poll number) makes way.
      this.byKey.get(keyId)?.wake('superseded');
      this.byKey.set(keyId, waiter);
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
    this.idle.setListening(false);
    for (const set of [...this.byMachine.values()]) for (const w of [...set]) w.wake('closed');
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners();
      await client.end().catch(() => {});
    }
  }
}
