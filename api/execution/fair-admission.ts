export interface FairAdmissionOptions {
  /**
   * Places one caller may hold while another, light caller is active. A light caller has had at
   * most this many calls at the gate (held and waiting) throughout the last `windowMs`; a heavy one
   * has had more. Alone, or among heavy callers only, a caller may hold every place. Default: the
   * limit (no share: callers only take turns).
   *
   * Why: on a busy machine a light caller's call is slowed less by how long it waits for a place
   * than by everything the flood's admitted calls keep the CPU busy with (docs/decisions/0005).
   */
  share?: number;
  /** How long a caller counts as active (light) after its last call was served. Default 1,000 ms. */
  windowMs?: number;
  /**
   * While a light caller is active, a heavy caller's place is given back no sooner than this long
   * after it was taken: the heavy caller is admitted at most `share` calls per `paceMs`. Default 0
   * (off: a place is given back as soon as the call is queued).
   *
   * Why: a share of places bounds how many of the heavy caller's calls the api works on at once, not
   * how fast they go through: at ~2 ms each, two places still admitted ~460 calls/s, enough to keep
   * every core of the machine busy, and the light caller's calls waited for a core at each step
   * (docs/decisions/0018).
   */
  paceMs?: number;
  /** Runs `fn` after `ms` (for tests). Default: an unref'd `setTimeout`. */
  schedule?: (fn: () => void, ms: number) => void;
  /** Clock, for tests. Default `performance.now`. */
  now?: () => number;
}

export interface AcquireOptions {
  /**
   * What one call of this kind costs the process, relative to an HTTP execution (1): a paced place
   * (`paceMs`) stays taken `paceMs × cost`. Default 1.
   */
  cost?: number;
}

export interface ReleaseOptions {
  /**
   * The call was authenticated and served. Only such calls make their caller count as an active
   * light caller, so requests with made-up keys cannot hold other callers to their share.
   */
  served?: boolean;
}

interface Caller {
  held: number;
  waiting: Array<() => void>;
}

/** A caller seen at a point in time. */
interface Sighting {
  caller: string;
  at: number;
}

/**
 * Bounds how many executions the api admits at once (lookups, limiter, row insert, enqueue) and
 * hands free places to waiting callers in turn. Without it a project with 64 requests in flight held
 * the database pool and the event loop, and a neighbour's single call queued behind all of them
 * (docs/benchmarks.md, fairness). With it, a caller's call waits for at most one place to free up
 * per other waiting caller, however many calls any of them has queued; and while a light caller is
 * active, a heavy one holds at most `share` places, leaving the light caller's calls a less busy
 * machine (docs/decisions/0003, 0005).
 *
 * Waiting costs nothing but memory; the wait for a sync call's result happens outside.
 */
export class FairAdmission {
  readonly #limit: number;
  readonly #share: number;
  readonly #windowMs: number;
  readonly #paceMs: number;
  readonly #schedule: (fn: () => void, ms: number) => void;
  readonly #now: () => number;
  #active = 0;
  /** Callers holding or waiting for places. */
  readonly #callers = new Map<string, Caller>();
  /** Callers with waiters, in the order they get the next free places. */
  #turns: string[] = [];
  /** When each caller last had more than `share` calls at the gate. */
  readonly #heavyAt = new Map<string, number>();
  #heavySweptAt = 0;
  /** The two most recently served light callers, latest first, always two different callers. */
  #light: [Sighting?, Sighting?] = [];

  constructor(limit: number, options: FairAdmissionOptions = {}) {
    if (!(limit >= 1)) throw new RangeError('limit must be at least 1');
    const share = options.share ?? limit;
    if (!(share >= 1 && share <= limit)) throw new RangeError('share must be between 1 and the limit');
    this.#limit = limit;
    this.#share = share;
    this.#windowMs = options.windowMs ?? 1_000;
    this.#paceMs = options.paceMs ?? 0;
    if (!(this.#paceMs >= 0)) throw new RangeError('paceMs must not be negative');
    this.#schedule = options.schedule ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.#now = options.now ?? (() => performance.now());
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    let n = 0;
    for (const c of this.#callers.values()) n += c.waiting.length;
    return n;
  }

  async run<T>(caller: string, work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(caller);
    try {
      const result = await work();
      release({ served: true });
      return result;
    } finally {
      release();
    }
  }

  /** Waits for a place; the returned function gives it back (calling it again does nothing). */
  async acquire(caller: string, options: AcquireOptions = {}): Promise<(options?: ReleaseOptions) => void> {
    await this.#acquire(caller);
    const takenAt = this.#now();
    const paceMs = this.#paceMs * (options.cost ?? 1);
    let held = true;
    return (options = {}) => {
      if (!held) return;
      held = false;
      const served = options.served === true;
      const now = this.#now();
      const paced = paceMs - (now - takenAt);
      if (paced > 0 && this.#isPaced(caller, now)) this.#schedule(() => this.#release(caller, served), paced);
      else this.#release(caller, served);
    };
  }

  /** A heavy caller while another, light caller is active: its places are paced (`paceMs`). */
  #isPaced(caller: string, now: number): boolean {
    return this.#isHeavy(caller, now) && this.#capOf(caller, now) < this.#limit;
  }

  #acquire(caller: string): Promise<void> | void {
    const now = this.#now();
    let state = this.#callers.get(caller);
    if (!state) {
      state = { held: 0, waiting: [] };
      this.#callers.set(caller, state);
    }
    if (state.held + state.waiting.length + 1 > this.#share) this.#markHeavy(caller, now);
    if (state.waiting.length === 0 && this.#active < this.#limit) {
      // Waiters a lifted cap has made eligible go first.
      this.#handOutPlaces(now);
      if (this.#active < this.#limit && state.held < this.#capOf(caller, now)) {
        this.#active++;
        state.held++;
        return;
      }
    }
    return new Promise<void>((resolve) => {
      if (state.waiting.push(resolve) === 1) this.#turns.push(caller);
    });
  }

  #release(caller: string, served: boolean): void {
    const now = this.#now();
    const state = this.#callers.get(caller)!;
    this.#active--;
    state.held--;
    if (served && !this.#isHeavy(caller, now)) this.#markLight(caller, now);
    this.#handOutPlaces(now);
    if (state.held === 0 && state.waiting.length === 0) this.#callers.delete(caller);
  }

  /** Gives free places to waiting callers in turn, skipping those at their cap. */
  #handOutPlaces(now: number): void {
    let unchecked = this.#turns.length;
    while (this.#active < this.#limit && unchecked > 0) {
      const caller = this.#turns.shift()!;
      const state = this.#callers.get(caller)!;
      if (state.held >= this.#capOf(caller, now)) {
        this.#turns.push(caller);
        unchecked--;
        continue;
      }
      const next = state.waiting.shift()!;
      if (state.waiting.length > 0) this.#turns.push(caller);
      this.#active++;
      state.held++;
      next();
      unchecked = this.#turns.length;
    }
  }

  #capOf(caller: string, now: number): number {
    if (this.#share === this.#limit) return this.#limit;
    const [latest, before] = this.#light;
    const other = latest?.caller === caller ? before : latest;
    const lightActive = other !== undefined && now - other.at < this.#windowMs && !this.#isHeavy(other.caller, now);
    return lightActive ? this.#share : this.#limit;
  }

  #markHeavy(caller: string, now: number): void {
    if (this.#share === this.#limit) return;
    this.#heavyAt.set(caller, now);
    if (now - this.#heavySweptAt >= this.#windowMs) {
      this.#heavySweptAt = now;
      for (const [c, at] of this.#heavyAt) if (now - at >= this.#windowMs) this.#heavyAt.delete(c);
    }
  }

  #isHeavy(caller: string, now: number): boolean {
    const at = this.#heavyAt.get(caller);
    return at !== undefined && now - at < this.#windowMs;
  }

  #markLight(caller: string, now: number): void {
    const [latest] = this.#light;
    if (latest?.caller === caller) latest.at = now;
    else this.#light = [{ caller, at: now }, latest];
  }
}
