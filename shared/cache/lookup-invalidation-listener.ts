import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { LOOKUP_INVALIDATION_CHANNEL } from './lookup-invalidation.ts';

/** What the listener drives: a cache serves only while every change reaches it. */
export interface ListeningCache {
  invalidate(tag: string): void;
  resume(): void;
  suspend(): void;
}

export interface ListenerOptions {
  /** Wait before connecting again after the connection was lost or refused. */
  retryMs?: number;
  /** How often the listener notifies itself; a notification not heard back by the next one counts as a lost connection. */
  heartbeatMs?: number;
}

/** The listener's application_name in pg_stat_activity (operators and tests find its backend by it). */
export const LISTENER_APPLICATION_NAME = 'ce-lookup-invalidation';

const PING = 'ping:';

/**
 * The one LISTEN connection of an api process (docs/decisions/0016-lookup-cache.md): each
 * notification on `ce_lookup_invalidate` drops the tagged entries of every cache. The caches serve
 * only while it is known to hear everything: from the moment its own first notification comes back
 * after LISTEN until the connection fails or a heartbeat (its own notification, every few seconds)
 * goes unanswered. In between they are emptied and bypassed, so a change made while nobody
 * listened can never be served stale; it reconnects on its own.
 */
export class LookupInvalidationListener {
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** The ping sent and not heard back yet. */
  private awaitedPing: string | undefined;
  /** The caches are serving: our first ping after LISTEN came back, and nothing failed since. */
  private listening = false;
  /** A failure was logged at warn since the caches last served: the retries are logged at debug. */
  private warned = false;
  private stopped = false;
  private readonly retryMs: number;
  private readonly heartbeatMs: number;

  constructor(
    private readonly databaseUrl: string,
    private readonly caches: readonly ListeningCache[],
    private readonly logger: Logger,
    options: ListenerOptions = {},
  ) {
    this.retryMs = options.retryMs ?? 1_000;
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
  }

  /** Connects and listens; resolves once the first attempt is under way or failed (it retries on its own). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    for (const cache of this.caches) cache.suspend();
    await this.client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    this.client = client;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      this.lost(client, err);
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => {
      if (message.channel !== LOOKUP_INVALIDATION_CHANNEL || !message.payload) return;
      if (message.payload.startsWith(PING)) return this.heard(message.payload);
      for (const cache of this.caches) cache.invalidate(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${LOOKUP_INVALIDATION_CHANNEL}`);
    } catch (err) {
      onLost(err as Error);
      return;
    }
    if (lost || this.stopped) return;
    // The caches resume when this ping comes back: LISTEN is then in effect end to end.
    this.ping(client, onLost);
    this.heartbeat = setInterval(() => {
      if (this.awaitedPing !== undefined) return onLost(new Error('heartbeat not heard back'));
      this.ping(client, onLost);
    }, this.heartbeatMs);
    this.heartbeat.unref();
  }

  private ping(client: pg.Client, onLost: (err: Error) => void): void {
    const payload = `${PING}${randomUUID()}`;
    this.awaitedPing = payload;
    client.query('select pg_notify($1, $2)', [LOOKUP_INVALIDATION_CHANNEL, payload]).catch(onLost);
  }

  private heard(payload: string): void {
    // Other api processes' pings arrive too; only ours says something about this connection.
    if (payload !== this.awaitedPing) return;
    this.awaitedPing = undefined;
    if (this.listening) return;
    this.listening = true;
    this.warned = false;
    for (const cache of this.caches) cache.resume();
    this.logger.info('lookup cache on: listening for changes');
  }

  private lost(client: pg.Client, err?: Error): void {
    clearInterval(this.heartbeat);
    this.awaitedPing = undefined;
    this.listening = false;
    for (const cache of this.caches) cache.suspend();
    client.removeAllListeners('notification');
    client.on('error', () => {}); // a late error of a connection we gave up must not crash the process
    client.end().catch(() => {});
    if (this.stopped) return;
    // One warning per outage: while Postgres is away this retries every second.
    this.logger[this.warned ? 'debug' : 'warn'](
      { err: err?.message ?? 'connection ended' },
      'lookup cache off: its change notifications stopped; reconnecting',
    );
    this.warned = true;
    this.retry = setTimeout(() => void this.connect(), this.retryMs);
    this.retry.unref();
  }
}
