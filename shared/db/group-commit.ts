import { isInfrastructureError } from '../infrastructure-errors.ts';

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for writes that arrive concurrently: the first is written at once; those that arrive
 * while a write is in flight wait for it and then go out together in one statement. An idle process
 * adds no latency; a busy one pays one round trip and one commit per batch instead of per item.
 * Each caller's promise settles when its own item is durable (or has failed).
 */
export class GroupCommit<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #maxBatch: number;
  #pending: Array<Pending<T>> = [];
  #flushing = false;

  constructor(write: (items: T[]) => Promise<void>, options: { maxBatch?: number } = {}) {
    this.#write = write;
    this.#maxBatch = options.maxBatch ?? 64;
  }

  add(item: T): Promise<void> {
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

  async #writeBatch(batch: Array<Pending<T>>): Promise<void> {
    try {
      await this.#write(batch.map((p) => p.item));
      for (const p of batch) p.resolve();
    } catch (err) {
      // An outage fails them all alike. Anything else may be one item's fault (a unique key taken,
      // a value out of range): write them one by one so the others are not held hostage by it.
      if (batch.length === 1 || isInfrastructureError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      await Promise.all(batch.map((p) => this.#write([p.item]).then(p.resolve, p.reject)));
    }
  }
}
