import type { Db } from '../db/database.ts';
import { isInfrastructureError } from '../infrastructure-errors.ts';
import { completeInvocations, type InvocationOutcome } from './invocation-store.ts';

interface Pending {
  id: string;
  outcome: InvocationOutcome;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for completions: the first completion is written at once; completions that arrive
 * while a write is in flight wait for it and then go out together in one statement. An idle worker
 * adds no latency; a busy one writes one statement and one commit per batch instead of per call.
 * Each caller's promise settles only when its own row is durable, so a job is still acknowledged
 * only after its audit row is written.
 */
export class CompletionBatcher {
  readonly #db: Db;
  readonly #maxBatch: number;
  #pending: Pending[] = [];
  #flushing = false;

  constructor(db: Db, options: { maxBatch?: number } = {}) {
    this.#db = db;
    this.#maxBatch = options.maxBatch ?? 64;
  }

  complete(id: string, outcome: InvocationOutcome): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ id, outcome, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, this.#maxBatch);
        await this.#write(batch);
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #write(batch: Pending[]): Promise<void> {
    try {
      await completeInvocations(this.#db, batch);
      for (const p of batch) p.resolve();
    } catch (err) {
      // An outage fails them all alike. Anything else may be one row's fault: write them one by one so
      // the others are not held hostage by it.
      if (batch.length === 1 || isInfrastructureError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      await Promise.all(
        batch.map((p) => completeInvocations(this.#db, [p]).then(p.resolve, p.reject)),
      );
    }
  }
}
