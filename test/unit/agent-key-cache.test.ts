import { AgentKeyCache } from '../../api/agent-channel/key-cache';
import type { AgentKeyRow } from '../../infra/db/agent-tasks';

const row = (revoked = false): AgentKeyRow => ({
  tenantId: 't',
  machineId: 'm',
  keyHash: 'h',
  revokedAt: revoked ? new Date() : null,
});

/** A loader that counts its calls and answers what `current` holds. */
function loader() {
  const state = { calls: 0, current: row() as AgentKeyRow | null };
  return { state, load: async () => (state.calls++, state.current) };
}

describe('the agent key cache', () => {
  it('caches nothing until revocations are heard, then answers from memory', async () => {
    const cache = new AgentKeyCache();
    const { state, load } = loader();
    await cache.get('k', load);
    await cache.get('k', load);
    expect(state.calls).toBe(2);
    cache.setListening(true);
    await cache.get('k', load);
    await cache.get('k', load);
    expect(state.calls).toBe(3);
  });

  it('forgets a revoked key, and everything when the notices may be missed', async () => {
    const cache = new AgentKeyCache();
    cache.setListening(true);
    const { state, load } = loader();
    await cache.get('k', load);
    state.current = row(true);
    cache.forget('k');
    expect((await cache.get('k', load))?.revokedAt).toBeInstanceOf(Date);
    await cache.get('other', load);
    expect(cache.size).toBe(2);
    cache.setListening(false);
    expect(cache.size).toBe(0);
  });

  it('does not cache a lookup that overlapped a revocation', async () => {
    const cache = new AgentKeyCache();
    cache.setListening(true);
    let release: () => void = () => {};
    const slow = new Promise<void>((r) => (release = r));
    const pending = cache.get('k', async () => (await slow, row()));
    cache.forget('k'); // the revocation commits while the lookup is in flight
    release();
    await pending;
    const { state, load } = loader();
    await cache.get('k', load);
    expect(state.calls).toBe(1);
  });

  it('expires rows after its time to live and keeps at most its size', async () => {
    const cache = new AgentKeyCache(0, 2);
    cache.setListening(true);
    const { state, load } = loader();
    await cache.get('a', load);
    await cache.get('a', load);
    expect(state.calls).toBe(2);
    await cache.get('b', load);
    await cache.get('c', load);
    expect(cache.size).toBe(2);
  });

  it('never caches an unknown key id', async () => {
    const cache = new AgentKeyCache();
    cache.setListening(true);
    await cache.get('nope', async () => null);
    expect(cache.size).toBe(0);
  });
});
