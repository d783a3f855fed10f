/**
 * Loads a `.env` file into process.env with Node's own parser (process.loadEnvFile: no dependency).
 * A variable already set in the environment wins over the file, so `PORT=9000 npm start` still
 * works with a .env that sets PORT. A missing file is fine: .env is optional (.env.example lists
 * what it may hold). Returns whether a file was loaded.
 */
export function loadDotEnv(file: string): boolean {
  try {
    process.loadEnvFile(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
