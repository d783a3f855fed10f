import { type Config, loadConfigOrExit } from './config.ts';
import { findMissingKeyIds } from './connections/connection-status.ts';
import { KeyringError, parseKeyring } from './crypto/keyring.ts';
import { Vault } from './crypto/vault.ts';
import { createDb, type Db } from './db/database.ts';
import type { Logger } from './logger.ts';

/**
 * Start-up shared by the api and worker processes: configuration, keyring, database, and the check
 * that every stored credential can still be decrypted with the keyring we were given.
 */
export function loadRuntime(): { config: Config; vault: Vault } {
  const config = loadConfigOrExit();
  try {
    return { config, vault: new Vault(parseKeyring(config.CONNECTORS_ENCRYPTION_KEYS)) };
  } catch (err) {
    if (err instanceof KeyringError) {
      process.stderr.write(`config error: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

export async function openDatabaseChecked(
  config: Config,
  vault: Vault,
  logger: Logger,
  poolSize?: number,
): Promise<Db> {
  const db = createDb(config.DATABASE_URL, { max: poolSize, preparedStatements: config.DB_PREPARED_STATEMENTS });
  const missing = await findMissingKeyIds(db, (kid) => vault.hasKey(kid));
  if (missing.length > 0) {
    logger.fatal(
      { missingKeyIds: missing },
      'stored credentials use encryption keys missing from CONNECTORS_ENCRYPTION_KEYS',
    );
    process.stderr.write(
      `config error: CONNECTORS_ENCRYPTION_KEYS: connections are encrypted with key id(s) ${missing.join(', ')}, which the keyring lacks; add them back (run the re-encrypt command before removing a key)\n`,
    );
    process.exit(78);
  }
  return db;
}

/** Runs `stop` once on SIGTERM/SIGINT, then exits; a second signal exits at once. */
export function onShutdownSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop()
      .then(() => process.exit(0))
      .catch((err: Error) => {
        logger.error({ err: err.message }, 'unclean shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}
