import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createWorkspace } from '../shared/auth/workspaces.ts';
import { createDb } from '../shared/db/database.ts';

/**
 * Operator commands. `npm run cli -- <command>`:
 *   workspace:create <name>   create a workspace; prints its key alone on the last line
 */
const usage = 'usage: npm run cli -- workspace:create <name>';

const { positionals } = parseArgs({ allowPositionals: true, strict: true, options: {} });
const [command, ...args] = positionals;

const databaseUrl = z.string().regex(/^postgres(ql)?:\/\//).safeParse(process.env.DATABASE_URL);
if (!databaseUrl.success) {
  process.stderr.write('config error: DATABASE_URL: must be a postgres:// URL\n');
  process.exit(78);
}

switch (command) {
  case 'workspace:create': {
    const name = z.string().trim().min(1).max(200).safeParse(args.join(' '));
    if (!name.success) {
      process.stderr.write(`${usage}\n`);
      process.exit(64);
    }
    const db = createDb(databaseUrl.data, { max: 1 });
    try {
      const { workspaceId, key } = await createWorkspace(db, name.data);
      process.stdout.write(`created workspace ${workspaceId} (${name.data}); its key is shown once:\n${key}\n`);
    } finally {
      await db.destroy();
    }
    break;
  }
  default:
    process.stderr.write(`${usage}\n`);
    process.exit(64);
}
