import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createWorkspace } from '../shared/auth/workspaces.ts';
import { KeyringError, parseKeyring } from '../shared/crypto/keyring.ts';
import { countPending, reencryptAll } from '../shared/crypto/reencrypt.ts';
import { Vault } from '../shared/crypto/vault.ts';
import { createDb, type Db } from '../shared/db/database.ts';
import { dropPartitionsBefore } from '../shared/db/partitions.ts';
import {
  auditRetentionDaysFromEnv,
  purgeExpired,
  retentionCutoff,
  retentionDaysFromEnv,
} from '../shared/invocations/retention.ts';
import { loadDotEnv } from './lib/dotenv.ts';
import { formatCount, progressLine } from './lib/progress.ts';
import { dataDirOf, repoRootOf, servicesFileOf, withStartState } from './lib/start-state.ts';

/**
 * Operator commands. `npm run cli -- <command>` (or `npx connector-engine <command>`); `--help`
 * lists them, `<command> --help` explains one (the `commands` table below is the one source of both).
 * Exit codes: 0 done, 1 done with rows left to handle, 64 usage, 78 configuration.
 * DATABASE_URL and CONNECTORS_ENCRYPTION_KEYS come from the environment (and the checkout's .env,
 * where the environment wins), else from a running `npm start` in this checkout
 * (.data/services.json and .data/secrets.json, scripts/lib/start-state.ts).
 */
const commands: Record<string, { usage: string; summary: string; details: string[] }> = {
  'workspace:create': {
    usage: 'workspace:create <name>',
    summary: 'create a workspace; prints its key alone on the last line (shown once)',
    details: [],
  },
  'keys:reencrypt': {
    usage: 'keys:reencrypt [--batch-size N]',
    summary: 're-seal every stored secret with the active key of CONNECTORS_ENCRYPTION_KEYS',
    details: [
      'Resumable and safe while the api and workers run; shows how many secrets are done.',
      '--batch-size N   rows read per query (1-10000, default 100)',
      'Exit 1 when rows are left on other keys: fix them and run it again before removing a key.',
    ],
  },
  'retention:run': {
    usage: 'retention:run [--days N] [--audit-days N] [--batch-size N]',
    summary: "drop outputs and artifacts of old invocations, and the audit log's old months when asked",
    details: [
      '--days N         outputs older than N days (default INVOCATION_RETENTION_DAYS, 30)',
      "--audit-days N   drop the audit log's months entirely older than N days (partitions; default",
      '                 AUDIT_LOG_RETENTION_DAYS; 0 keeps every row)',
      '--batch-size N   rows per batch (1-100000, default 1000)',
    ],
  },
};

const EXIT_CODES = 'Exit codes: 0 done, 1 done with rows left to handle, 64 usage, 78 configuration.';
const usage = [
  'usage: npm run cli -- <command> [options]    (or: npx connector-engine <command>)',
  '',
  ...Object.values(commands).map((c) => `  ${c.usage.padEnd(44)}${c.summary}`),
  '',
  'Run `npm run cli -- <command> --help` for one command.',
  EXIT_CODES,
].join('\n');

function commandHelp(name: string): string {
  const c = commands[name]!;
  return [
    `usage: npm run cli -- ${c.usage}`,
    '',
    `${c.summary}.`,
    ...c.details.map((d) => `  ${d}`),
    '',
    EXIT_CODES,
  ].join('\n');
}

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
      options: {
        'batch-size': { type: 'string' },
        days: { type: 'string' },
        'audit-days': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch {
    return exitUsage();
  }
}
const { positionals, values } = readArgs();
const [command, ...args] = positionals;

// Help needs no database: answered before anything is read.
if (values.help || command === 'help') {
  const about = command === 'help' ? args[0] : command;
  if (about !== undefined && !(about in commands)) exitUsage();
  process.stdout.write(`${about === undefined ? usage : commandHelp(about)}\n`);
  process.exit(0);
}

function option(name: 'batch-size' | 'days' | 'audit-days', max: number, min = 1): number | undefined {
  if (values[name] === undefined) return undefined;
  const parsed = z.coerce.number().int().min(min).max(max).safeParse(values[name]);
  if (!parsed.success) exitUsage();
  return parsed.data;
}

const repoRoot = repoRootOf(import.meta.url);
loadDotEnv(`${repoRoot}/.env`);
const dataDir = dataDirOf(repoRoot, process.env);
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
    const progress = progressLine(process.stdout);
    const report = await withDb(async (db) => {
      const pending = await countPending(db, vault);
      // Counts per table so far; the line shows their sum against what was pending at the start.
      const byTable = new Map<string, { reencrypted: number; skipped: number; failed: number }>();
      const line = () => {
        const sum = (k: 'reencrypted' | 'skipped' | 'failed') => [...byTable.values()].reduce((n, t) => n + t[k], 0);
        const others = [
          sum('skipped') && `${formatCount(sum('skipped'))} skipped`,
          sum('failed') && `${formatCount(sum('failed'))} failed`,
        ];
        const extra = others.filter(Boolean).join(', ');
        return `re-sealed ${formatCount(sum('reencrypted'))} / ${formatCount(pending)} secrets${extra ? ` (${extra})` : ''}`;
      };
      const result = await reencryptAll(db, vault, {
        batchSize,
        onProgress: (p) => {
          byTable.set(p.label, p);
          progress.update(line());
        },
      });
      progress.done(line());
      return result;
    });
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
    let auditDays = option('audit-days', 36_500, 0);
    try {
      days ??= retentionDaysFromEnv();
      auditDays ??= auditRetentionDaysFromEnv();
    } catch (err) {
      exitConfig((err as Error).message);
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
    if (auditDays === 0) {
      process.stdout.write('audit rows are kept (AUDIT_LOG_RETENTION_DAYS is 0)\n');
      break;
    }
    const auditCutoff = retentionCutoff(auditDays);
    process.stdout.write(
      `dropping the audit log's months entirely before ${auditCutoff.toISOString()} (${auditDays} days)\n`,
    );
    const dropped = await withDb((db) =>
      dropPartitionsBefore(db, auditCutoff, (d) => process.stdout.write(`  ${d.name}: ${d.rows} row(s) deleted\n`)),
    );
    const partitions = dropped.filter((d) => d.dropped).length;
    const rows = dropped.reduce((sum, d) => sum + d.rows, 0);
    process.stdout.write(`done: ${partitions} partition(s) dropped, ${rows} audit row(s) deleted\n`);
    break;
  }

  default:
    exitUsage();
}
