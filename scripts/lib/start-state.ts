import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What `npm start` (scripts/start.ts) keeps in its data directory for other commands on the same
 * machine: `secrets.json` (the generated keys) and, while it runs, `services.json` (the URLs of the
 * Redis and Postgres it uses). `npm run cli` reads both for whatever the environment does not set,
 * so `npm run workspace:create` works next to a running `npm start` without exports.
 */
export const STATE_VARIABLES = ['DATABASE_URL', 'REDIS_URL', 'CONNECTORS_ENCRYPTION_KEYS'] as const;
type StateVariable = (typeof STATE_VARIABLES)[number];

/** The checkout's root: the nearest directory above `fromUrl` (a source or a dist/ file) with a package.json. */
export function repoRootOf(fromUrl: string): string {
  for (let d = path.dirname(fileURLToPath(fromUrl)); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (d === path.dirname(d)) return process.cwd();
  }
}

/** `START_DATA_DIR`, else `.data`, under the checkout. */
export const dataDirOf = (root: string, env: NodeJS.ProcessEnv): string =>
  path.resolve(root, env.START_DATA_DIR || '.data');
export const secretsFileOf = (dataDir: string): string => path.join(dataDir, 'secrets.json');
export const servicesFileOf = (dataDir: string): string => path.join(dataDir, 'services.json');

/** Records the URLs a running `npm start` uses (owner-only: a URL may hold a password). */
export function writeServicesState(dataDir: string, urls: { DATABASE_URL: string; REDIS_URL: string }): void {
  const file = servicesFileOf(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ ...urls, pid: process.pid }, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Forgets them when `npm start` stops (only if they are still this process's). */
export function removeServicesState(dataDir: string): void {
  const file = servicesFileOf(dataDir);
  if (readJson(file).pid === process.pid) fs.rmSync(file, { force: true });
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * The environment a command runs with: `env` first; a variable it lacks comes from what `npm start`
 * recorded in `dataDir` (services.json while it runs, secrets.json). `from` names the variables taken
 * from there, so the command can say so.
 */
export function withStartState(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): { env: NodeJS.ProcessEnv; from: StateVariable[] } {
  const recorded = { ...readJson(secretsFileOf(dataDir)), ...readJson(servicesFileOf(dataDir)) };
  const out: NodeJS.ProcessEnv = { ...env };
  const from: StateVariable[] = [];
  for (const name of STATE_VARIABLES) {
    const value = recorded[name];
    if (!env[name] && typeof value === 'string' && value) {
      out[name] = value;
      from.push(name);
    }
  }
  return { env: out, from };
}
