import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createWorkspace } from '../shared/auth/workspaces.ts';
import { KeyringError, parseKeyring } from '../shared/crypto/keyring.ts';
import { reencryptAll } from '../shared/crypto/reencrypt.ts';
import { Vault } from '../shared/crypto/vault.ts';
import { createDb, type Db } from '../shared/db/database.ts';
import { purgeExpired, retentionCutoff, retentionDaysFromEnv } from '../shared/invocations/retention.ts';
import { dataDirOf, repoRootOf, servicesFileOf, withStartState } from './lib/start-state.ts';

/**
 * Operator commands. `npm run cli -- <command>`:
 *   workspace:create <name>                 create a workspace; prints its key alone on the last line
 *   keys:reencrypt [--batch-size N]         re-seal every stored secret with the active key of
 *                                           CONNECTORS_ENCRYPTION_KEYS (resumable, safe while running)
 *   retention:run [--days N] [--batch-size N]
 *                                           drop outputs and artifacts of invocations older than
 *                                           INVOCATION_RETENTION_DAYS (default 30); the audit rows stay
 * Exit codes: 0 done, 1 done with rows left to handle, 64 usage, 78 configuration.
 * DATABASE_URL and CONNECTORS_ENCRYPTION_KEYS come from the environment, else from a running
 * `npm start` in this checkout (.data/services.json and .data/secrets.json, scripts/lib/start-state.ts).
 */
const usage = [
  'usage: npm run cli -- <command>',
  '  workspace:create <name>',
  '  keys:reencrypt [--batch-size N]',
  '  retention:run [--days N] [--batch-size N]',
].join('\n');

function exitUsage(): never {
  process.stderr.write(`${usage}\n`);
  process.exit(64);
}

function exitConfig(message: string): never {
  process.stderr.write(`config error: ${message}\n`);
  process.exit(78);
}

/** The command line, typed by its options; a malformed one prints the usage and exits. */
function readArgs() {
  try {
    return parseArgs({
      allowPositionals: true,
      strict: true,
      options: { 'batch-size': { type: 'string' }, days: { type: 'string' } },
    });
  } catch {
    return exitUsage();
  }
}
const { positionals, values } = readArgs();
const [command, ...args] = positionals;

const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);
function option(name: 'batch-size' | 'days', max: number): number | undefined {
  if (values[name] === undefined) return undefined;
  const parsed = positiveInt(max).safeParse(values[name]);
  if (!parsed.success) exitUsage();
  return parsed.data;
}

const dataDir = dataDirOf(repoRootOf(import.meta.url), process.env);
const state = withStartState(process.env, dataDir);
if (state.from.length > 0) process.stderr.write(`using ${state.from.join(', ')} of \`npm start\` (${dataDir})\n`);
const env = state.env;

const databaseUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//)
  .safeParse(env.DATABASE_URL);
if (!databaseUrl.success) {
  exitConfig(
    `DATABASE_URL: must be a postgres:// URL; export it, or run \`npm start\` first (it records its URLs in ${servicesFileOf(dataDir)})`,
  );
}

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = createDb(databaseUrl.data!, { max: 1 });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

switch (command) {
  case 'workspace:create': {
    const name = z.string().trim().min(1).max(200).safeParse(args.join(' '));
    if (!name.success) exitUsage();
    const { workspaceId, key } = await withDb((db) => createWorkspace(db, name.data));
    process.stdout.write(`created workspace ${workspaceId} (${name.data}); its key is shown once:\n${key}\n`);
    break;
  }

  case 'keys:reencrypt': {
    if (args.length > 0) exitUsage();
    const batchSize = option('batch-size', 10_000) ?? 100;
    let vault: Vault;
    try {
      vault = new Vault(parseKeyring(env.CONNECTORS_ENCRYPTION_KEYS ?? ''));
    } catch (err) {
      if (err instanceof KeyringError) exitConfig(err.message);
      throw err;
    }
    process.stdout.write(
      `re-encrypting stored secrets with the active key "${vault.activeKeyId}" (batches of ${batchSize})\n`,
    );
    const report = await withDb((db) =>
      reencryptAll(db, vault, {
        batchSize,
        onProgress: (p) =>
          process.stdout.write(
            `${p.label}: ${p.reencrypted} re-encrypted, ${p.skipped} skipped, ${p.failed} failed (up to ${p.lastId})\n`,
          ),
      }),
    );
    let failed = 0;
    let remaining = 0;
    let reencrypted = 0;
    for (const t of report.tables) {
      process.stdout.write(
        `${t.label}: ${t.reencrypted} re-encrypted, ${t.skipped} skipped, ${t.conflicts} concurrent update(s) retried, ${t.failed.length} failed, ${t.remaining} still on other keys\n`,
      );
      // Ids only: never a key or a secret.
      for (const f of t.failed) process.stderr.write(`${t.label}: ${f.id}: ${f.reason}\n`);
      failed += t.failed.length;
      remaining += t.remaining;
      reencrypted += t.reencrypted;
    }
    process.stdout.write(
      `done: ${reencrypted} secret(s) re-encrypted with key "${report.activeKeyId}"; ${failed} failed; ${remaining} still on other keys\n`,
    );
    if (remaining > 0) {
      process.stderr.write(
        'some rows are still sealed with other keys (failed rows above, or a process still running with the old keyring wrote them); ' +
          'fix that and run the command again before removing a key from CONNECTORS_ENCRYPTION_KEYS\n',
      );
      process.exit(1);
    }
    break;
  }

  case 'retention:run': {
    if (args.length > 0) exitUsage();
    const batchSize = option('batch-size', 100_000) ?? 1000;
    let days = option('days', 36_500);
    if (days === undefined) {
      try {
        days = retentionDaysFromEnv();
      } catch (err) {
        exitConfig((err as Error).message);
      }
    }
    const cutoff = retentionCutoff(days);
    process.stdout.write(
      `removing outputs and artifacts of invocations created before ${cutoff.toISOString()} (${days} days)\n`,
    );
    let batches = 0;
    const result = await withDb((db) =>
      purgeExpired(db, cutoff, batchSize, {
        onBatch: (t) => {
          if (++batches % 10 === 0)
            process.stdout.write(
              `  ${t.outputsCleared} output(s) cleared, ${t.artifactsDeleted} artifact(s) deleted so far\n`,
            );
        },
      }),
    );
    process.stdout.write(
      `done: ${result.outputsCleared} output(s) cleared, ${result.artifactsDeleted} artifact(s) deleted\n`,
    );
    break;
  }

  default:
    exitUsage();
}
