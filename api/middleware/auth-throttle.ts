import { ApiError } from '../../shared/errors.ts';

/** Addresses remembered at once; past it the oldest window is forgotten (memory stays bounded). */
export const MAX_TRACKED_ADDRESSES = 10_000;

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Throttles failed authentications per client address (red-team finding 8: 300 wrong keys in
 * 459 ms, each a Postgres lookup). An address with `limit` failures within its window gets
 * `429 rate_limited` with Retry-After for every further request that presents a key, until the
 * window ends, without any database work; then it starts over. A valid key from a throttled
 * address is refused too: telling it apart would take the lookup the throttle exists to save. So a
 * legitimate client behind the same address (a NAT) is held back only while failures keep coming
 * from it, at most one window after they stop.
 *
 * Fixed windows in insertion order: the Map's first entry is always the oldest window, so expired
 * entries are dropped from the front as new ones arrive, and at MAX_TRACKED_ADDRESSES the oldest
 * is forgotten.
 */
export class AuthFailureThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxTracked = MAX_TRACKED_ADDRESSES,
  ) {}

  /** Throws 429 while `address` is throttled. */
  check(address: string): void {
    const window = this.windows.get(address);
    if (!window || window.failures < this.limit) return;
    const left = window.startedAt + this.windowMs - this.now();
    if (left <= 0) return;
    throw new ApiError('rate_limited', 'Too many failed authentications from this address; retry later.', undefined, {
      'Retry-After': String(Math.ceil(left / 1000)),
    });
  }

  recordFailure(address: string): void {
    const now = this.now();
    const window = this.windows.get(address);
    if (window && now < window.startedAt + this.windowMs) {
      window.failures++;
      return;
    }
    this.windows.delete(address); // re-inserted last: insertion order stays window order
    this.forgetExpired(now);
    if (this.windows.size >= this.maxTracked) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(address, { startedAt: now, failures: 1 });
  }

  /** Addresses tracked now (for tests). */
  get size(): number {
    return this.windows.size;
  }

  private forgetExpired(now: number): void {
    for (const [address, window] of this.windows) {
      if (now < window.startedAt + this.windowMs) return;
      this.windows.delete(address);
    }
  }
}
