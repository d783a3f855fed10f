import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { hashApiKey } from '../../shared/auth/api-keys.ts';
import type { LookupCache } from '../../shared/cache/lookup-cache.ts';
import { lookupTag } from '../../shared/cache/lookup-invalidation.ts';
import type { Db } from '../../shared/db/database.ts';
import { ApiError } from '../../shared/errors.ts';
import { clientAddress } from '../http/client-address.ts';
import type { AuthFailureThrottle } from './auth-throttle.ts';

export type Principal =
  | { kind: 'workspace'; workspaceId: string; keyId: string }
  | { kind: 'project'; workspaceId: string; projectId: string; keyId: string };

const bearer = /^Bearer\s+(\S{1,512})\s*$/i;

const presentedHashes = new WeakMap<Request, Buffer | null>();

/**
 * SHA-256 of the bearer key the request presents, or null without one. Computed once per request:
 * authentication looks the key up by it, and the execution admission gate tells callers apart by it.
 */
export function presentedKeyHash(req: Request): Buffer | null {
  let hash = presentedHashes.get(req);
  if (hash === undefined) {
    const match = bearer.exec(req.get('authorization') ?? '');
    hash = match ? hashApiKey(match[1]!) : null;
    presentedHashes.set(req, hash);
  }
  return hash;
}

/**
 * Who a request is at the admission gate: its key's hash (a flood with one key gets one turn per
 * round like anyone else). The one rule for every transport that enters it.
 */
export function admissionCaller(req: Request): string {
  return presentedKeyHash(req)?.toString('base64url') ?? 'no key';
}

/** Shorter keys do not exist (generated ones are 49 characters, BOOTSTRAP_WORKSPACE_KEY at least 32): refused without a lookup. */
const plausibleKey = /^Bearer\s+\S{32,512}\s*$/i;

/** An unrevoked key's row, as authentication reads (and caches) it. */
export interface ApiKeyRow {
  readonly id: string;
  readonly workspace_id: string;
  readonly project_id: string | null;
  readonly kind: string;
  readonly key_hash: Buffer;
}

const missingKey = () => new ApiError('unauthenticated', 'Send an API key as "Authorization: Bearer <key>".');

/**
 * Resolves `Authorization: Bearer <key>` to a principal (and sets `req.principal`). Keys are looked
 * up by their SHA-256, then compared in constant time. A found key is served from `keys` (tagged by
 * the key, its workspace and its project: docs/decisions/0016-lookup-cache.md); an unknown or
 * revoked one is looked up every time. A revocation through this api takes effect on the next
 * request, one elsewhere as soon as its notification arrives (LOOKUP_CACHE_TTL_MS at most).
 * Failures are counted per client address (AuthFailureThrottle): a throttled address gets 429
 * before any lookup. A request without a key costs nothing and is not counted.
 * Routes authenticate before they read the body (api/middleware/json-body.ts), so a made-up key
 * never makes the api buffer one.
 */
export class Authenticator {
  constructor(
    private readonly db: Db,
    private readonly throttle: AuthFailureThrottle,
    private readonly keys: LookupCache<ApiKeyRow>,
  ) {}

  async authenticate(req: Request): Promise<Principal> {
    const hash = presentedKeyHash(req);
    if (!hash) throw missingKey();
    const address = clientAddress(req);
    this.throttle.check(address);
    const row = plausibleKey.test(req.get('authorization') ?? '') ? await this.lookUp(hash) : undefined;
    if (!row || !timingSafeEqual(row.key_hash, hash)) {
      this.throttle.recordFailure(address);
      throw new ApiError('unauthenticated', 'The API key is unknown or revoked.');
    }
    req.principal =
      row.kind === 'project' && row.project_id
        ? { kind: 'project', workspaceId: row.workspace_id, projectId: row.project_id, keyId: row.id }
        : { kind: 'workspace', workspaceId: row.workspace_id, keyId: row.id };
    return req.principal;
  }

  private lookUp(hash: Buffer): Promise<ApiKeyRow | undefined> {
    return this.keys.get(hash.toString('base64url'), async () => {
      const row = await this.db
        .selectFrom('api_keys')
        .select(['id', 'workspace_id', 'project_id', 'kind', 'key_hash'])
        .where('key_hash', '=', hash)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (!row) return undefined;
      const tags = [lookupTag.apiKey(row.id), lookupTag.workspace(row.workspace_id)];
      if (row.project_id) tags.push(lookupTag.project(row.project_id));
      return { value: row, tags };
    });
  }
}

/** Authenticator.authenticate as middleware, for the routes that need a key. */
export function authenticate(authenticator: Authenticator): RequestHandler {
  return async (req, _res, next) => {
    await authenticator.authenticate(req);
    next();
  };
}

/** Management routes: workspace keys only. */
export const requireWorkspaceKey: RequestHandler = (req, _res, next) => {
  if (req.principal?.kind !== 'workspace') throw new ApiError('forbidden', 'This route needs a workspace key.');
  next();
};

export function workspacePrincipal(req: Express.Request): Extract<Principal, { kind: 'workspace' }> {
  if (req.principal?.kind !== 'workspace') throw new ApiError('forbidden', 'This route needs a workspace key.');
  return req.principal;
}

export function principalOf(req: Express.Request): Principal {
  if (!req.principal) throw missingKey();
  return req.principal;
}
