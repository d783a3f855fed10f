/**
 * Bounds how many executions the api admits at once (lookups, limiter, row insert, enqueue) and
 * hands free places to waiting tenants in turn. Without it a project with 64 requests in flight held
 * the database pool and the event loop, and a neighbour's single call queued behind all of them
 * (docs/benchmarks.md, fairness). With it, a tenant's call waits for at most one place to free up
 * per other waiting tenant, however many calls any of them has queued.
 *
 * Waiting costs nothing but memory; the wait for a sync call's result happens outside.
 */
export class FairAdmission {
  readonly #limit: number;
  #active = 0;
  /** Waiters per tenant, first come first served within a tenant. */
  readonly #waiting = new Map<string, Array<() => void>>();
  /** Tenants with waiters, in the order they get the next free places. */
  #turns: string[] = [];

  constructor(limit: number) {
    if (!(limit >= 1)) throw new RangeError('limit must be at least 1');
    this.#limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    let n = 0;
    for (const q of this.#waiting.values()) n += q.length;
    return n;
  }

  async run<T>(tenant: string, work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(tenant);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Waits for a place; the returned function gives it back (calling it again does nothing). */
  async acquire(tenant: string): Promise<() => void> {
    await this.#acquire(tenant);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#release();
    };
  }

  #acquire(tenant: string): Promise<void> | void {
    if (this.#active < this.#limit && this.#turns.length === 0) {
      this.#active++;
      return;
    }
    return new Promise<void>((resolve) => {
      const queue = this.#waiting.get(tenant);
      if (queue) queue.push(resolve);
      else {
        this.#waiting.set(tenant, [resolve]);
        this.#turns.push(tenant);
      }
    });
  }

  #release(): void {
    this.#active--;
    while (this.#active < this.#limit && this.#turns.length > 0) {
      const tenant = this.#turns.shift()!;
      const queue = this.#waiting.get(tenant)!;
      const next = queue.shift()!;
      if (queue.length > 0) this.#turns.push(tenant);
      else this.#waiting.delete(tenant);
      this.#active++;
      next();
    }
  }
}
