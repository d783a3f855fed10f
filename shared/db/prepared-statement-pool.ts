import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';

/**
 * Hands kysely pg clients that send queries as named prepared statements. kysely sends every query
 * unnamed, so Postgres parses and plans it again on each execution; on the execute hot path that
 * planning cost more server CPU than running the statements (docs/benchmarks.md). A named statement
 * is parsed once per connection, and Postgres switches to a cached generic plan once it is not
 * dearer than planning anew (it keeps custom plans where parameter values matter, e.g. partial
 * indexes).
 *
 * Only plain DML/queries are named; DDL and transaction control go through unchanged. The number of
 * distinct texts is capped because each name lives on every connection that ran it: statements
 * whose text varies with their input (IN lists of different lengths) stop being named once the cap
 * is reached.
 *
 * Not for a transaction-pooling proxy (PgBouncer in transaction mode before 1.21): a statement
 * prepared on one server connection is not there on the next. `DB_PREPARED_STATEMENTS=false`.
 */
export const MAX_NAMED_STATEMENTS = 500;

const NAMEABLE = /^\s*(select|insert|update|delete|with)\b/i;

export class PreparedStatementPool implements PostgresPool {
  readonly #pool: pg.Pool;
  readonly #names = new Map<string, string>();
  readonly #clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** The statement name for `text`, or undefined when it is sent unnamed. */
  nameFor(text: string): string | undefined {
    const known = this.#names.get(text);
    if (known !== undefined) return known;
    if (this.#names.size >= MAX_NAMED_STATEMENTS || !NAMEABLE.test(text)) return undefined;
    const name = `ce_${this.#names.size + 1}`;
    this.#names.set(text, name);
    return name;
  }

  async connect(): Promise<PostgresPoolClient> {
    const client = await this.#pool.connect();
    let wrapped = this.#clients.get(client);
    if (!wrapped) {
      wrapped = this.#wrap(client);
      this.#clients.set(client, wrapped);
    }
    return wrapped;
  }

  end(): Promise<void> {
    return this.#pool.end();
  }

  #wrap(client: pg.PoolClient): PostgresPoolClient {
    // Texts whose prepared form went stale on this connection (see below): sent unnamed from then on.
    const stale = new Set<string>();
    const query = (textOrCursor: unknown, parameters?: ReadonlyArray<unknown>): unknown => {
      if (typeof textOrCursor !== 'string') return client.query(textOrCursor as pg.Submittable);
      const text = textOrCursor;
      const values = parameters as unknown[];
      const name = stale.has(text) ? undefined : this.nameFor(text);
      if (name === undefined) return client.query(text, values);
      return client.query({ name, text, values }).catch((err: unknown) => {
        // A migration changed a table under a prepared `select *` (a column added while we run):
        // Postgres refuses the statement before executing it. Send it unnamed from now on; outside
        // a transaction the retry answers this call too (inside one, the transaction fails once).
        if (!isStalePlan(err)) throw err;
        stale.add(text);
        return client.query(text, values);
      });
    };
    return {
      query: query as PostgresPoolClient['query'],
      release: () => client.release(),
    };
  }
}

function isStalePlan(err: unknown): boolean {
  return (
    (err as { code?: string }).code === '0A000' &&
    /cached plan must not change result type/.test((err as Error).message)
  );
}
