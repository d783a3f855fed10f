import { isInfrastructureError } from '../infrastructure-errors.ts';

/** Writes a batch; with results (R given), one per item, in the items' order. */
type BatchWrite<T, R> = [R] extends [undefined] ? (items: T[]) => Promise<void> : (items: T[]) => Promise<R[]>;

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for writes that arrive concurrently: the first is written at once; those that arrive
 * while a write is in flight wait for it and then go out together in one statement. An idle process
 * adds no latency; a busy one pays one round trip and one commit per batch instead of per item.
 * Each caller's promise settles when its own item is durable (or has failed), with its own result
 * when the write returns one per item, in the items' order (e.g. a claimed row, or null).
 */
export class GroupCommit<T, R = undefined> {
  readonly #write: (items: T[]) => Promise<R[] | undefined>;
  readonly #maxBatch: number;
  #pending: Array<Pending<T, R>> = [];
  #flushing = false;

  constructor(write: BatchWrite<T, R>, options: { maxBatch?: number } = {}) {
    this.#write = write as (items: T[]) => Promise<R[] | undefined>;
    this.#maxBatch = options.maxBatch ?? 64;
  }

  /**
   * No write in flight: an item added now is written at once. (Nothing can be waiting then: `add`
   * starts a flush at once, and a flush ends only when nothing is left.)
   */
  get idle(): boolean {
    return !this.#flushing;
  }

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#pending.length > 0) await this.#writeBatch(this.#pending.splice(0, this.#maxBatch));
    } finally {
      this.#flushing = false;
    }
  }

  async #writeBatch(batch: Array<Pending<T, R>>): Promise<void> {
    try {
      const results = await this.#write(batch.map((p) => p.item));
      for (const [i, p] of batch.entries()) p.resolve(results?.[i] as R);
    } catch (err) {
      // An outage fails them all alike. Anything else may be one item's fault (a unique key taken,
      // a value out of range): write them one by one so the others are not held hostage by it.
      if (batch.length === 1 || isInfrastructureError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      await Promise.all(
        batch.map((p) => this.#write([p.item]).then((results) => p.resolve(results?.[0] as R), p.reject)),
      );
    }
  }
}
