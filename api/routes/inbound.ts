import type { Queue } from 'bullmq';
import { type Request, Router } from 'express';
import { findConnector } from '../../connectors/registry.ts';
import type { InboundReply } from '../../connectors/toolkit/inbound.ts';
import { signingSecretSetting } from '../../connectors/toolkit/settings.ts';
import type { Config } from '../../shared/config.ts';
import { openCredentials } from '../../shared/connections/credentials.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { Db } from '../../shared/db/database.ts';
import { ApiError, notFound } from '../../shared/errors.ts';
import { recordInboundEvent } from '../../shared/inbound/inbound-events.ts';
import { inboundPath } from '../../shared/inbound/inbound-url.ts';
import type { Logger } from '../../shared/logger.ts';
import { inboundEvents } from '../../shared/metrics.ts';
import { publicBaseUrl } from '../../shared/public-url.ts';
import type { InboundEventJobData } from '../../shared/queue/inbound-event-job.ts';
import type { RawBodyReader } from '../middleware/json-body.ts';
import { findUnsafeValue, pathId } from '../validation.ts';

const DEFAULT_ACK: InboundReply = { status: 200, contentType: 'application/json', body: '{"received":true}' };

/** Header names are lower case in Node; a repeated header (rare here) is joined as HTTP would fold it. */
const headersOf = (req: Request): Record<string, string | undefined> =>
  Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));

/**
 * POST /v1/inbound/{connectorId}/{connectionId}: events from connected services (docs/api.md,
 * "Inbound events"). No API key: the service's signature over the raw body authenticates. In order:
 * the connection must exist for a connector with an inbound hook (else 404, body unread); the body is
 * read raw, capped at INBOUND_MAX_BODY_BYTES and counted in the body budget; the hook verifies the
 * signature (else 401, nothing stored) and only then parses; the event is stored once per upstream
 * event id and its fan-out queued. Nothing slow happens here: the answer does not wait for webhooks.
 */
export function inboundRoutes(deps: {
  db: Db;
  vault: Vault;
  config: Config;
  readRaw: RawBodyReader;
  queue: Queue<InboundEventJobData>;
  logger: Logger;
}): Router {
  const { db, vault, config, readRaw, queue, logger } = deps;
  const router = Router();
  const base = publicBaseUrl(config);

  router.post('/v1/inbound/:connectorId/:connectionId', async (req, res) => {
    const connector = findConnector(String(req.params.connectorId));
    const hook = connector?.inbound;
    if (!connector || !hook) throw notFound('connection');
    const connectionId = pathId(req, 'connectionId', 'connection', 'connection');
    const connection = await db
      .selectFrom('connections')
      .select([
        'id',
        'workspace_id',
        'connector_id',
        'credentials_key_id',
        'credentials_iv',
        'credentials_tag',
        'credentials_ciphertext',
      ])
      .where('id', '=', connectionId)
      .executeTakeFirst();
    if (!connection || connection.connector_id !== connector.id) throw notFound('connection');

    const rawBody = await readRaw(req, res);
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    const verdict = hook.receive(
      { rawBody, headers: headersOf(req), url: `${base}${inboundPath(connector.id, connection.id)}${query}` },
      {
        credentials: openCredentials(vault, connection),
        signingSecret: config.connectorSettings[signingSecretSetting(connector)],
        nowMs: Date.now(),
      },
    );
    const count = (outcome: string) => inboundEvents.inc({ connector: connector.id, outcome });
    const reply = (r: InboundReply) => res.status(r.status).type(r.contentType).send(r.body);

    switch (verdict.kind) {
      case 'rejected':
        count('rejected');
        logger.warn(
          { connectorId: connector.id, connectionId: connection.id, reason: verdict.reason },
          'inbound event refused',
        );
        throw new ApiError('unauthenticated', 'The request signature is missing, invalid or stale.');
      case 'handshake':
        count('handshake');
        return reply(verdict.reply);
      case 'malformed':
        count('malformed');
        throw new ApiError('invalid_input', `The event could not be read: ${verdict.reason}.`);
      case 'event': {
        // Postgres cannot store a NUL or a lone surrogate in jsonb, and deep nesting is refused as
        // everywhere else in the api: such a (signed) event is answered 400, not a 500.
        const unsafe = findUnsafeValue(verdict.payload);
        if (unsafe) {
          count('malformed');
          throw new ApiError('invalid_input', 'The event could not be stored.', [unsafe]);
        }
        const id = await recordInboundEvent(
          db,
          queue,
          {
            workspaceId: connection.workspace_id,
            connectionId: connection.id,
            connectorId: connector.id,
            upstreamEventId: verdict.eventId,
            type: verdict.type,
            payload: verdict.payload,
          },
          (err) =>
            logger.warn(
              { connectorId: connector.id, err: err.message },
              'inbound event stored; its fan-out will be queued by the maintenance tick',
            ),
        );
        count(id ? 'accepted' : 'duplicate');
        return reply(hook.ack ?? DEFAULT_ACK);
      }
    }
  });
  return router;
}
