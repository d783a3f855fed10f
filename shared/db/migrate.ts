import { type MigrationProvider, Migrator } from 'kysely';
import { migrations } from '../../migrations/index.ts';
import { createDb } from './database.ts';

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Applies every pending migration; safe to run concurrently (kysely takes a lock). */
export async function migrateToLatest(databaseUrl: string): Promise<string[]> {
  const db = createDb(databaseUrl, { max: 1 });
  try {
    const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  } finally {
    await db.destroy();
  }
}
