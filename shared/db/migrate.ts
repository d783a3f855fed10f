import { type MigrationProvider, Migrator } from 'kysely';
import { migrations } from '../../migrations/index.ts';
import { createDb } from './database.ts';
import { DEFAULT_PARTITIONS_AHEAD, ensureMonthlyPartitions } from './partitions.ts';

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Applies every pending migration; safe to run concurrently (kysely takes a lock). Then makes sure
 * the audit tables have their monthly partitions ahead (shared/db/partitions.ts), so a deploy after
 * months without workers still writes into monthly partitions, not the default one.
 */
export async function migrateToLatest(databaseUrl: string): Promise<string[]> {
  const db = createDb(databaseUrl, { max: 1 });
  try {
    const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    await ensureMonthlyPartitions(db, DEFAULT_PARTITIONS_AHEAD);
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  } finally {
    await db.destroy();
  }
}
