import type { Kysely } from 'kysely';

/**
 * The PKCE code verifier of an authorization in flight (providers with `pkce: true`). It lives as
 * long as its state (10 minutes, single use) and is worthless without the authorization code.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_states').addColumn('pkce_verifier', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_states').dropColumn('pkce_verifier').execute();
}
