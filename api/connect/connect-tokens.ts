import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Db } from '../../shared/db/database.ts';
import type { ConnectSessionTable } from '../../shared/db/schema.ts';
import { ApiError } from '../../shared/errors.ts';
import { clientAddress } from '../http/client-address.ts';
import type { AuthFailureThrottle } from '../middleware/auth-throttle.ts';

export type ConnectSessionRow = Selectable<ConnectSessionTable>;

/** Token prefix: tells a connect token from an API key at a glance, and keeps `/connect/done` free. */
const PREFIX = 'cst_';
const tokenShape = /^cst_[A-Za-z0-9_-]{43}$/;

export const hashConnectToken = (token: string) => createHash('sha256').update(token).digest();

/** A new connect token (256 random bits) and the hash that is stored. */
export function mintConnectToken(): { token: string; hash: Buffer } {
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashConnectToken(token) };
}

/** Why a token does not work; the hosted page shows a page per reason (never for a made-up token). */
export type ClosedReason = 'expired' | 'completed' | 'unknown';

export function sessionClosed(reason: ClosedReason): ApiError {
  const message = {
    expired: 'This connect link has expired. Ask the app for a new one.',
    completed: 'This connect link has already been used. Ask the app for a new one.',
    unknown: 'This connect link is not valid.',
  }[reason];
  return new ApiError('unauthenticated', message, { reason });
}

/**
 * Resolves `Authorization: Bearer cst_…` (the hosted page sends its token so, never in a query) to
 * an open connect session. Wrong tokens count against the client address like wrong API keys
 * (AuthFailureThrottle). Expired and completed sessions are told apart from unknown tokens: their
 * holder had a real link and deserves to know why it stopped working.
 */
export class ConnectSessionAuth {
  constructor(
    private readonly db: Db,
    private readonly throttle: AuthFailureThrottle,
  ) {}

  async authenticate(req: Request): Promise<ConnectSessionRow> {
    const token = /^Bearer\s+(\S{1,200})\s*$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!token) throw sessionClosed('unknown');
    const address = clientAddress(req);
    this.throttle.check(address);
    const hash = hashConnectToken(token);
    const row = tokenShape.test(token)
      ? await this.db
          .selectFrom('connect_sessions')
          .selectAll()
          .select(sql<boolean>`expires_at <= now()`.as('expired'))
          .where('token_hash', '=', hash)
          .executeTakeFirst()
      : undefined;
    if (!row || !timingSafeEqual(row.token_hash, hash)) {
      this.throttle.recordFailure(address);
      throw sessionClosed('unknown');
    }
    if (row.completed_at) throw sessionClosed('completed');
    if (row.expired) throw sessionClosed('expired');
    const { expired: _expired, ...session } = row;
    return session;
  }
}

/**
 * Completes the session with the connection `create` stores, if the session is still open (else
 * false, nothing stored): claimed first, so two tabs or a slow OAuth consent never attach two
 * connections; released again if storing fails. The token stops working once it is completed.
 */
export async function completeSession(
  db: Db,
  sessionId: string,
  create: () => Promise<string>,
): Promise<string | null> {
  if (!(await claimSession(db, sessionId))) return null;
  let connectionId: string;
  try {
    connectionId = await create();
  } catch (err) {
    await db.updateTable('connect_sessions').set({ completed_at: null }).where('id', '=', sessionId).execute();
    throw err;
  }
  await db.updateTable('connect_sessions').set({ connection_id: connectionId }).where('id', '=', sessionId).execute();
  return connectionId;
}

async function claimSession(db: Db, sessionId: string): Promise<boolean> {
  const done = await db
    .updateTable('connect_sessions')
    .set({ completed_at: sql`now()` })
    .where('id', '=', sessionId)
    .where('completed_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
  return done.numUpdatedRows === 1n;
}
