import { lookupCacheRequests } from '../metrics.ts';

/** A successful lookup and the ids it read, as tags (`lookupTag`): a change to any of them drops it. */
export interface Tagged<V> {
  value: V;
  tags: readonly string[];
}

export interface LookupCacheOptions {
  /** How long an entry is served at most (the safety net under invalidation); 0 never serves one. */
  ttlMs: number;
  /** Entries kept at most; the least recently used goes first. */
  maxEntries: number;
  now?: () => number;
}

interface Entry<V> extends Tagged<V> {
  expiresAt: number;
}

/**
 * An in-process, bounded (LRU), per-entry-TTL cache for the lookups on every call's path
 * (docs/decisions/0016-lookup-cache.md). Built to never answer with a state older than a change it
 * was told about:
 * - Only successful lookups are stored: a miss or refusal (`undefined`, or a throw) is looked up
 *   again next time, so a new key or a new binding works at once.
 * - Concurrent misses for one key share one lookup (single flight).
 * - `invalidate(tag)` drops every entry tagged with it, and any lookup in flight is neither stored
 *   nor shared any more (it may have read the state before the change).
 * - It serves nothing until `resume()` (its invalidation source is live) and after `suspend()`:
 *   every call then goes to `load`, as without a cache.
 */
export class LookupCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly keysByTag = new Map<string, Set<string>>();
  private readonly inFlight = new Map<string, Promise<V | undefined>>();
  /** Bumped by every invalidation: a lookup that started under an older one is not stored. */
  private epoch = 0;
  private serving = false;
  private readonly now: () => number;

  constructor(
    /** The metrics label (a fixed name, never an id). */
    readonly name: string,
    private readonly options: LookupCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The value for `key`: from memory while serving and fresh, else from `load` (not stored when it finds nothing). */
  async get(key: string, load: () => Promise<Tagged<V> | undefined>): Promise<V | undefined> {
    if (!this.serving) {
      lookupCacheRequests.inc({ cache: this.name, result: 'bypass' });
      return (await load())?.value;
    }
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) {
      // Most recently used last: Map keeps insertion order, so the first entry is the one to evict.
      this.entries.delete(key);
      this.entries.set(key, entry);
      lookupCacheRequests.inc({ cache: this.name, result: 'hit' });
      return entry.value;
    }
    if (entry) this.remove(key);
    const pending = this.inFlight.get(key);
    if (pending) {
      lookupCacheRequests.inc({ cache: this.name, result: 'shared' });
      return pending;
    }
    lookupCacheRequests.inc({ cache: this.name, result: 'miss' });
    const epoch = this.epoch;
    const lookup = (async () => {
      const found = await load();
      if (found && this.serving && this.epoch === epoch) this.store(key, found);
      return found?.value;
    })();
    this.inFlight.set(key, lookup);
    const settled = () => {
      if (this.inFlight.get(key) === lookup) this.inFlight.delete(key);
    };
    lookup.then(settled, settled);
    return lookup;
  }

  /** Drops every entry that read `tag`'s row, and stops any lookup in flight from being stored or shared. */
  invalidate(tag: string): void {
    this.epoch++;
    this.inFlight.clear();
    for (const key of this.keysByTag.get(tag) ?? []) this.remove(key);
  }

  /** Drops everything. */
  clear(): void {
    this.epoch++;
    this.inFlight.clear();
    this.entries.clear();
    this.keysByTag.clear();
  }

  /** Starts serving from memory (empty): the invalidation source hears every change from now on. */
  resume(): void {
    this.clear();
    this.serving = this.options.ttlMs > 0;
  }

  /** Stops serving and forgets everything: changes may go unheard until `resume()`. */
  suspend(): void {
    this.serving = false;
    this.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: string, found: Tagged<V>): void {
    this.remove(key);
    while (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.remove(oldest.value);
    }
    this.entries.set(key, { ...found, expiresAt: this.now() + this.options.ttlMs });
    for (const tag of found.tags) {
      const keys = this.keysByTag.get(tag) ?? new Set<string>();
      keys.add(key);
      this.keysByTag.set(tag, keys);
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const tag of entry.tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
  }
}
