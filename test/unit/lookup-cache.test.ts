import { describe, expect, it } from 'vitest';
import { LookupCache, type Tagged } from '../../shared/cache/lookup-cache.ts';
import { invalidateLookups, registerForLocalInvalidation } from '../../shared/cache/lookup-invalidation.ts';

/** A lookup that counts its calls and answers what `rows` holds now. */
function source(rows: Map<string, Tagged<string>>) {
  const counted = { calls: 0 };
  const load = (key: string) => async () => {
    counted.calls++;
    return rows.get(key);
  };
  return { counted, load };
}

/** A promise with its resolve, to hold a lookup in flight. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function serving(options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
  const cache = new LookupCache<string>('test', { ttlMs: 30_000, maxEntries: 100, ...options });
  cache.resume();
  return cache;
}

describe('the lookup cache', () => {
  it('serves a found value from memory, and looks a miss up again every time', async () => {
    const rows = new Map([['k', { value: 'v1', tags: ['api_keys:1'] }]]);
    const { counted, load } = source(rows);
    const cache = serving();
    expect(await cache.get('k', load('k'))).toBe('v1');
    expect(await cache.get('k', load('k'))).toBe('v1');
    expect(counted.calls).toBe(1);
    expect(await cache.get('new', load('new'))).toBeUndefined();
    rows.set('new', { value: 'created', tags: [] });
    expect(await cache.get('new', load('new'))).toBe('created'); // a new key works at once
    expect(counted.calls).toBe(3);
  });

  it('does not keep a failed lookup', async () => {
    const cache = serving();
    await expect(
      cache.get('k', async () => {
        throw new Error('no_connection');
      }),
    ).rejects.toThrow('no_connection');
    expect(await cache.get('k', async () => ({ value: 'bound now', tags: [] }))).toBe('bound now');
  });

  it('drops every entry tagged with a changed row, and only those', async () => {
    const rows = new Map([
      ['a', { value: 'A', tags: ['projects:p1', 'connections:c1'] }],
      ['b', { value: 'B', tags: ['projects:p1', 'connections:c2'] }],
      ['c', { value: 'C', tags: ['projects:p2'] }],
    ]);
    const { counted, load } = source(rows);
    const cache = serving();
    for (const k of ['a', 'b', 'c']) await cache.get(k, load(k));
    rows.set('a', { value: 'A2', tags: ['projects:p1', 'connections:c1'] });
    rows.set('b', { value: 'B2', tags: ['projects:p1', 'connections:c2'] });
    cache.invalidate('connections:c1');
    expect(await cache.get('a', load('a'))).toBe('A2');
    expect(await cache.get('b', load('b'))).toBe('B'); // not tagged c1
    cache.invalidate('projects:p1');
    expect(await cache.get('b', load('b'))).toBe('B2');
    expect(await cache.get('c', load('c'))).toBe('C');
    expect(counted.calls).toBe(5);
  });

  it('shares one lookup between concurrent misses for a key', async () => {
    const cache = serving();
    const held = deferred<Tagged<string> | undefined>();
    let calls = 0;
    const load = () => {
      calls++;
      return held.promise;
    };
    const both = Promise.all([cache.get('k', load), cache.get('k', load), cache.get('k', load)]);
    held.resolve({ value: 'v', tags: [] });
    expect(await both).toEqual(['v', 'v', 'v']);
    expect(calls).toBe(1);
  });

  it('never keeps a lookup that was in flight when a change came, nor lets a later request join it', async () => {
    const cache = serving();
    const old = deferred<Tagged<string> | undefined>();
    const before = cache.get('k', () => old.promise);
    cache.invalidate('api_keys:1'); // e.g. the key is revoked while its lookup runs
    const after = cache.get('k', async () => undefined); // the revoked key: not found
    old.resolve({ value: 'stale', tags: ['api_keys:1'] });
    expect(await before).toBe('stale'); // it started before the change
    expect(await after).toBeUndefined();
    expect(await cache.get('k', async () => undefined)).toBeUndefined(); // nothing was kept
  });

  it('expires entries after the TTL', async () => {
    let now = 1_000;
    const cache = serving({ ttlMs: 100, now: () => now });
    let version = 0;
    const load = async () => ({ value: `v${++version}`, tags: [] });
    expect(await cache.get('k', load)).toBe('v1');
    now += 99;
    expect(await cache.get('k', load)).toBe('v1');
    now += 1;
    expect(await cache.get('k', load)).toBe('v2');
  });

  it('holds at most maxEntries, dropping the least recently used', async () => {
    const cache = serving({ maxEntries: 2 });
    const calls: string[] = [];
    const load = (k: string) => async () => {
      calls.push(k);
      return { value: k, tags: [`t:${k}`] };
    };
    await cache.get('a', load('a'));
    await cache.get('b', load('b'));
    await cache.get('a', load('a')); // a is now the most recent
    await cache.get('c', load('c')); // evicts b
    expect(cache.size).toBe(2);
    await cache.get('a', load('a'));
    await cache.get('b', load('b'));
    expect(calls).toEqual(['a', 'b', 'c', 'b']);
  });

  it('serves nothing before resume, after suspend, or with a TTL of 0, and forgets everything on suspend', async () => {
    let calls = 0;
    const load = async () => {
      calls++;
      return { value: 'v', tags: [] };
    };
    const cache = new LookupCache<string>('test', { ttlMs: 30_000, maxEntries: 10 });
    await cache.get('k', load);
    await cache.get('k', load);
    expect(calls).toBe(2);
    cache.resume();
    await cache.get('k', load);
    await cache.get('k', load);
    expect(calls).toBe(3);
    cache.suspend();
    expect(cache.size).toBe(0);
    await cache.get('k', load);
    expect(calls).toBe(4);
    const off = new LookupCache<string>('test', { ttlMs: 0, maxEntries: 10 });
    off.resume();
    await off.get('k', load);
    await off.get('k', load);
    expect(calls).toBe(6);
  });

  it("is told synchronously about this process's own writes while registered", async () => {
    const cache = serving();
    const unregister = registerForLocalInvalidation(cache);
    let version = 0;
    const load = async () => ({ value: `v${++version}`, tags: ['api_keys:7'] });
    await cache.get('k', load);
    invalidateLookups('api_keys:7');
    expect(await cache.get('k', load)).toBe('v2');
    unregister();
    invalidateLookups('api_keys:7');
    expect(await cache.get('k', load)).toBe('v2');
  });
});
