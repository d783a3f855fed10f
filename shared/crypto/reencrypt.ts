import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { DecryptionError, type SealedSecret, type Vault } from './vault.ts';

/**
 * Key rotation (docs/design.md, decision 1): re-seal every stored secret with the keyring's ACTIVE key, so the
 * older keys can leave CONNECTORS_ENCRYPTION_KEYS.
 *
 * - Resumable: rows are visited in id order, in batches, and only rows whose key id is not the
 *   active one are selected, so a second run (or a run after a crash) only does what is left.
 * - Safe while the api and workers run: each row is one compare-and-set UPDATE (its own short
 *   transaction) that only applies when the row still holds exactly the ciphertext we decrypted
 *   (same key id, IV and ciphertext). A credentials update, an OAuth refresh or another re-encryption
 *   that wrote the row meanwhile wins; we re-read the row and start over with what it holds now.
 * - A pure re-encryption is the same secret: `credentials_version` and `updated_at` are not touched,
 *   so in-flight calls keep their right to mark "their" credentials broken.
 * - Webhook signing secrets are re-sealed too, when a `webhooks` table with the sealed columns exists.
 * - The secret is in this process's memory only between the decrypt and the seal of one row.
 */

/** A table whose rows hold one sealed secret, with the row id as additional authenticated data. */
interface SealedTable {
  /** Name for progress lines. */
  label: string;
  table: string;
  keyId: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

const CONNECTIONS: SealedTable = {
  label: 'connections',
  table: 'connections',
  keyId: 'credentials_key_id',
  iv: 'credentials_iv',
  tag: 'credentials_tag',
  ciphertext: 'credentials_ciphertext',
};

const WEBHOOKS: SealedTable = {
  label: 'webhook secrets',
  table: 'webhooks',
  keyId: 'secret_key_id',
  iv: 'secret_iv',
  tag: 'secret_tag',
  ciphertext: 'secret_ciphertext',
};

export interface TableReport {
  label: string;
  /** Rows re-sealed with the active key by this run. */
  reencrypted: number;
  /** Rows another writer moved to the active key (or deleted) while we were at them. */
  skipped: number;
  /** Compare-and-set misses that were retried with the row's newer content. */
  conflicts: number;
  /** Rows that could not be decrypted (key missing from the ring, or tampered): listed, left as they are. */
  failed: Array<{ id: string; reason: string }>;
  /** Rows still not on the active key after the run (0 when the rotation is complete). */
  remaining: number;
}

export interface ReencryptReport {
  activeKeyId: string;
  tables: TableReport[];
}

export interface ReencryptOptions {
  /** Rows per batch (one SELECT per batch, one UPDATE per row). */
  batchSize?: number;
  /** Called after every batch and once at the end of each table. */
  onProgress?: (progress: {
    label: string;
    reencrypted: number;
    skipped: number;
    failed: number;
    lastId: string | null;
  }) => void;
  /** Tests only: runs after a row was read and decrypted, before its compare-and-set write. */
  beforeWrite?: (table: string, id: string) => Promise<void>;
}

interface SealedRow {
  id: string;
  key_id: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

const MAX_ATTEMPTS_PER_ROW = 5;

/** Whether `table` exists in the current schema with all the sealed columns. */
async function hasSealedColumns(db: Db, t: SealedTable): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from information_schema.columns
     where table_schema = current_schema() and table_name = ${t.table}
       and column_name in (${t.keyId}, ${t.iv}, ${t.tag}, ${t.ciphertext})`.execute(db);
  return rows[0]?.n === 4;
}

const selectColumns = (t: SealedTable) =>
  sql`id, ${sql.ref(t.keyId)} as key_id, ${sql.ref(t.iv)} as iv, ${sql.ref(t.tag)} as tag, ${sql.ref(t.ciphertext)} as ciphertext`;

async function nextBatch(
  db: Db,
  t: SealedTable,
  activeKeyId: string,
  afterId: string | null,
  limit: number,
): Promise<SealedRow[]> {
  const { rows } = await sql<SealedRow>`
    select ${selectColumns(t)} from ${sql.table(t.table)}
     where ${sql.ref(t.keyId)} <> ${activeKeyId} ${afterId === null ? sql`` : sql`and id > ${afterId}`}
     order by id
     limit ${limit}`.execute(db);
  return rows;
}

async function loadRow(db: Db, t: SealedTable, id: string): Promise<SealedRow | undefined> {
  const { rows } = await sql<SealedRow>`select ${selectColumns(t)} from ${sql.table(t.table)} where id = ${id}`.execute(
    db,
  );
  return rows[0];
}

/** The compare-and-set: applies only if the row still holds exactly the ciphertext we opened. */
async function swapSealed(db: Db, t: SealedTable, before: SealedRow, after: SealedSecret): Promise<boolean> {
  const result = await sql`
    update ${sql.table(t.table)}
       set ${sql.ref(t.keyId)} = ${after.keyId}, ${sql.ref(t.iv)} = ${after.iv}, ${sql.ref(t.tag)} = ${after.tag}, ${sql.ref(t.ciphertext)} = ${after.ciphertext}
     where id = ${before.id}
       and ${sql.ref(t.keyId)} = ${before.key_id}
       and ${sql.ref(t.iv)} = ${before.iv}
       and ${sql.ref(t.ciphertext)} = ${before.ciphertext}`.execute(db);
  return (result.numAffectedRows ?? 0n) > 0n;
}

type RowOutcome = 'reencrypted' | 'skipped' | { failed: string };

async function reencryptRow(
  db: Db,
  vault: Vault,
  t: SealedTable,
  first: SealedRow,
  options: ReencryptOptions,
  report: TableReport,
): Promise<RowOutcome> {
  let row: SealedRow | undefined = first;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS_PER_ROW; attempt++) {
    if (!row) return 'skipped'; // deleted meanwhile
    if (row.key_id === vault.activeKeyId) return 'skipped'; // someone else wrote it with the active key
    let plain: unknown;
    try {
      plain = vault.open({ keyId: row.key_id, iv: row.iv, tag: row.tag, ciphertext: row.ciphertext }, row.id);
    } catch (err) {
      if (err instanceof DecryptionError) return { failed: err.message };
      throw err;
    }
    const sealed = vault.seal(plain, row.id);
    if (options.beforeWrite) await options.beforeWrite(t.table, row.id);
    if (await swapSealed(db, t, row, sealed)) return 'reencrypted';
    report.conflicts++;
    row = await loadRow(db, t, row.id);
  }
  return { failed: `the row kept changing; retry later` };
}

async function reencryptTable(db: Db, vault: Vault, t: SealedTable, options: ReencryptOptions): Promise<TableReport> {
  const batchSize = options.batchSize ?? 100;
  const report: TableReport = { label: t.label, reencrypted: 0, skipped: 0, conflicts: 0, failed: [], remaining: 0 };
  const progress = (lastId: string | null) =>
    options.onProgress?.({
      label: t.label,
      reencrypted: report.reencrypted,
      skipped: report.skipped,
      failed: report.failed.length,
      lastId,
    });
  let afterId: string | null = null;
  for (;;) {
    const rows = await nextBatch(db, t, vault.activeKeyId, afterId, batchSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      afterId = row.id;
      const outcome = await reencryptRow(db, vault, t, row, options, report);
      if (outcome === 'reencrypted') report.reencrypted++;
      else if (outcome === 'skipped') report.skipped++;
      else report.failed.push({ id: row.id, reason: outcome.failed });
    }
    progress(afterId);
    if (rows.length < batchSize) break;
  }
  report.remaining = await countNotOn(db, t, vault.activeKeyId);
  return report;
}

async function countNotOn(db: Db, t: SealedTable, keyId: string): Promise<number> {
  const { rows } = await sql<{
    n: number;
  }>`select count(*)::int as n from ${sql.table(t.table)} where ${sql.ref(t.keyId)} <> ${keyId}`.execute(db);
  return rows[0]?.n ?? 0;
}

/** The connections, and the webhooks when that table exists with its sealed columns. */
async function sealedTables(db: Db): Promise<SealedTable[]> {
  return (await hasSealedColumns(db, WEBHOOKS)) ? [CONNECTIONS, WEBHOOKS] : [CONNECTIONS];
}

/** Secrets not sealed with the active key yet, over every table: what a progress display counts towards. */
export async function countPending(db: Db, vault: Vault): Promise<number> {
  let pending = 0;
  for (const t of await sealedTables(db)) pending += await countNotOn(db, t, vault.activeKeyId);
  return pending;
}

/** Re-seals every connection's credentials (and every webhook secret, if that table exists) with the active key. */
export async function reencryptAll(db: Db, vault: Vault, options: ReencryptOptions = {}): Promise<ReencryptReport> {
  const tables: TableReport[] = [];
  for (const t of await sealedTables(db)) tables.push(await reencryptTable(db, vault, t, options));
  return { activeKeyId: vault.activeKeyId, tables };
}
