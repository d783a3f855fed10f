import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../shared/config.ts';
import { newStandardSecret } from '../../shared/crypto/standard-webhooks.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { Db } from '../../shared/db/database.ts';
import { egressGuardFromConfig } from '../../shared/egress/egress-guard.ts';
import { ApiError, notFound } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { acceptsEvents } from '../../shared/inbound/inbound-url.ts';
import { isSubscribableType } from '../../shared/webhooks-out/event-types.ts';
import { freshSecrets, rotatedSecrets, secretsOf } from '../../shared/webhooks-out/signing-secrets.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';
import { decodeCursor, pageQuery, toPage } from '../pagination.ts';
import { presentDelivery, presentWebhook } from '../resources/presenters.ts';
import { parseBody, parseQuery, pathId } from '../validation.ts';

const eventType = z
  .string()
  .max(200)
  .refine(
    (t) => isSubscribableType(t, acceptsEvents),
    'must be connection.broken, connection.restored, an inbound event type of a connector that accepts events (slack.message, resend.email.delivered, twilio.message.status, …) or *',
  );
export const createWebhook = z
  .object({
    url: z.url({ protocol: /^https?$/ }).max(2000),
    events: z.array(eventType).min(1).max(50),
  })
  .strict();

/**
 * Webhooks out of a workspace (workspace keys only). The secret (`whsec_<base64>`, Standard Webhooks)
 * is shown once, at creation or rotation.
 * A workspace has at most WEBHOOKS_PER_WORKSPACE_MAX of them: each event is delivered to each
 * webhook, so the count is how much delivery work one event of a workspace can cause.
 */
export function webhooksOutRoutes(
  db: Db,
  vault: Vault,
  config: Pick<Config, 'EGRESS_ALLOW_HOSTS' | 'WEBHOOK_ALLOW_PRIVATE_TARGETS' | 'WEBHOOKS_PER_WORKSPACE_MAX'>,
): Router {
  const router = Router();
  const egress = egressGuardFromConfig(config);
  const max = config.WEBHOOKS_PER_WORKSPACE_MAX;

  const loadWebhook = async (workspaceId: string, id: string) => {
    const hook = await db
      .selectFrom('webhooks')
      .select(['id', 'url', 'events', 'created_at'])
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    if (!hook) throw notFound('webhook');
    return hook;
  };

  router.post('/v1/webhooks', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const body = parseBody(createWebhook, req);
    // Checked again on the resolved address at every delivery; here the URL's own form is refused early.
    if (egress.checkUrl(body.url) !== null) {
      throw new ApiError('invalid_input', 'Webhook URLs must point to a public address.', [
        { path: 'url', message: 'loopback, private, link-local, metadata and reserved addresses are not allowed' },
      ]);
    }
    const id = newId('webhook');
    const secret = newStandardSecret();
    const sealed = vault.seal(freshSecrets(secret), id);
    const row = await db.transaction().execute(async (trx) => {
      // The workspace row is the lock: concurrent creations of one workspace count one after another.
      await trx
        .selectFrom('workspaces')
        .select('id')
        .where('id', '=', workspaceId)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const { count } = await trx
        .selectFrom('webhooks')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('workspace_id', '=', workspaceId)
        .executeTakeFirstOrThrow();
      if (Number(count) >= max) {
        throw new ApiError(
          'conflict',
          `This workspace already has ${max} webhooks, the most allowed; delete one before creating another.`,
        );
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
    let query = db
      .selectFrom('webhooks')
      .select(['id', 'url', 'events', 'created_at'])
      .where('workspace_id', '=', workspaceId);
    if (after) query = query.where('id', '<', after);
    res.json(
      toPage(
        await query
          .orderBy('id', 'desc')
          .limit(q.limit + 1)
          .execute(),
        q.limit,
        presentWebhook,
      ),
    );
  });

  router.delete('/v1/webhooks/:webhookId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const hook = await loadWebhook(workspaceId, pathId(req, 'webhookId', 'webhook', 'webhook'));
    await db.deleteFrom('webhooks').where('id', '=', hook.id).execute();
    res.status(204).end();
  });

  // A new secret; for 24 hours deliveries are signed with it and with the ones it replaces, so the
  // receiver can switch without losing a delivery (docs/decisions/0011-standard-webhooks.md).
  router.post('/v1/webhooks/:webhookId/rotate-secret', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const id = pathId(req, 'webhookId', 'webhook', 'webhook');
    const secret = newStandardSecret();
    await db.transaction().execute(async (trx) => {
      // The row lock makes two concurrent rotations keep both retired secrets.
      const hook = await trx
        .selectFrom('webhooks')
        .select(['id', 'secret_key_id', 'secret_iv', 'secret_tag', 'secret_ciphertext'])
        .where('id', '=', id)
        .where('workspace_id', '=', workspaceId)
        .forUpdate()
        .executeTakeFirst();
      if (!hook) throw notFound('webhook');
      const current = secretsOf(
        vault.open(
          { keyId: hook.secret_key_id, iv: hook.secret_iv, tag: hook.secret_tag, ciphertext: hook.secret_ciphertext },
          hook.id,
        ),
      );
      const sealed = vault.seal(rotatedSecrets(current, secret), hook.id);
      await trx
        .updateTable('webhooks')
        .set({
          secret_key_id: sealed.keyId,
          secret_iv: sealed.iv,
          secret_tag: sealed.tag,
          secret_ciphertext: sealed.ciphertext,
        })
        .where('id', '=', hook.id)
        .execute();
    });
    res.json({ secret });
  });

  router.get('/v1/webhooks/:webhookId/deliveries', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const hook = await loadWebhook(workspaceId, pathId(req, 'webhookId', 'webhook', 'webhook'));
    const q = parseQuery(z.object(pageQuery), req);
    const after = decodeCursor(q.cursor);
    let query = db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', hook.id);
    if (after) query = query.where('id', '<', after);
    const rows = await query
      .orderBy('id', 'desc')
      .limit(q.limit + 1)
      .execute();
    res.json(toPage(rows, q.limit, presentDelivery));
  });

  return router;
}
