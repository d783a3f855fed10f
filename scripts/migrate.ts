import { z } from 'zod';
import { migrateToLatest } from '../shared/db/migrate.ts';

/** `npm run migrate`: apply pending migrations to DATABASE_URL. Needs nothing else from the environment. */
const url = z
  .string()
  .regex(/^postgres(ql)?:\/\//)
  .safeParse(process.env.DATABASE_URL);
if (!url.success) {
  process.stderr.write('config error: DATABASE_URL: must be a postgres:// URL\n');
  process.exit(78);
}
const applied = await migrateToLatest(url.data);
process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
