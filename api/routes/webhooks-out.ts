import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { Db } from '../../shared/db/database.ts';
import { ApiError, notFound } from '../../shared/errors.ts';
import type { Config } from '../../shared/config.ts';
import { egressGuardFromConfig } from '../../shared/egress/egress-guard.ts';
import { newId } from '../../shared/ids.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';
import { decodeCursor, pageQuery, toPage } from '../pagination.ts';
import { parseBody, parseQuery, pathId } from '../validation.ts';
import { presentDelivery, presentWebhook } from '../resources/presenters.ts';

const eventTypes = z.enum(['connection.broken', 'connection.restored']);
const createWebhook = z
  .object({
    url: z.url({ protocol: /^https?$/ }).max(2000),
    events: z.array(eventTypes).min(1).max(2),
  })
  .strict();

/**
 * Outgoing webhooks of a workspace (workspace keys only). The secret is shown once, at creation.
 * A workspace has at most WEBHOOKS_PER_WORKSPACE_MAX of them: each event is delivered to each
 * webhook, so the count is how much delivery work one event of a workspace can cause.
 */
export function webhookRoutes(db: Db, vault: Vault, config: Pick<Config, 'EGRESS_ALLOW_HOSTS' | 'WEBHOOK_ALLOW_PRIVATE_TARGETS' | 'WEBHOOKS_PER_WORKSPACE_MAX'>): Router {
  const router = Router();
  const egress = egressGuardFromConfig(config);
  const max = config.WEBHOOKS_PER_WORKSPACE_MAX;

  const loadWebhook = async (workspaceId: string, id: string) => {
    const hook = await db.selectFrom('webhooks').select(['id', 'url', 'events', 'created_at']).where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!hook) throw notFound('webhook');
    return hook;
  };

  router.post('/v1/webhooks', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const body = parseBody(createWebhook, req);
    // Checked again on the resolved address at every delivery; here the URL's own form is refused early.
    if (egress.checkUrl(body.url) !== null) {
      throw new ApiError('invalid_input', 'Webhook URLs must point to a public address.', [{ path: 'url', message: 'loopback, private, link-local, metadata and reserved addresses are not allowed' }]);
    }
    const id = newId('webhook');
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    const sealed = vault.seal(secret, id);
    const row = await db.transaction().execute(async (trx) => {
      // The workspace row is the lock: concurrent creations of one workspace count one after another.
      await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).forUpdate().executeTakeFirstOrThrow();
      const { count } = await trx.selectFrom('webhooks').select((eb) => eb.fn.countAll<string>().as('count')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
      if (Number(count) >= max) {
        throw new ApiError('conflict', `This workspace already has ${max} webhooks, the most allowed; delete one before creating another.`);
      }
      return trx
        .insertInto('webhooks')
        .values({
          id,
          workspace_id: workspaceId,
          url: body.url,
          events: JSON.stringify([...new Set(body.events)]),
          secret_key_id: sealed.keyId,
          secret_iv: sealed.iv,
          secret_tag: sealed.tag,
          secret_ciphertext: sealed.ciphertext,
        })
        .returning(['id', 'url', 'events', 'created_at'])
        .executeTakeFirstOrThrow();
    });
    res.status(201).json({ ...presentWebhook(row), secret });
  });

  router.get('/v1/webhooks', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const q = parseQuery(z.object(pageQuery), req);
    const after = decodeCursor(q.cursor);
    let query = db.selectFrom('webhooks').select(['id', 'url', 'events', 'created_at']).where('workspace_id', '=', workspaceId);
    if (after) query = query.where('id', '<', after);
    res.json(toPage(await query.orderBy('id', 'desc').limit(q.limit + 1).execute(), q.limit, presentWebhook));
  });

  router.delete('/v1/webhooks/:webhookId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const hook = await loadWebhook(workspaceId, pathId(req, 'webhookId', 'webhook', 'webhook'));
    await db.deleteFrom('webhooks').where('id', '=', hook.id).execute();
    res.status(204).end();
  });

  router.get('/v1/webhooks/:webhookId/deliveries', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const hook = await loadWebhook(workspaceId, pathId(req, 'webhookId', 'webhook', 'webhook'));
    const q = parseQuery(z.object(pageQuery), req);
    const after = decodeCursor(q.cursor);
    let query = db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', hook.id);
    if (after) query = query.where('id', '<', after);
    const rows = await query.orderBy('id', 'desc').limit(q.limit + 1).execute();
    res.json(toPage(rows, q.limit, presentDelivery));
  });

  return router;
}
