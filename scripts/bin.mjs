#!/usr/bin/env node
/**
 * `connector-engine`, the package's bin: one name for what the npm scripts do, for `npx
 * connector-engine …` inside a clone (the package is private: it is not published).
 *
 *   connector-engine start [--help]          = npm start (scripts/start.ts)
 *   connector-engine <command> [options]     = npm run cli -- <command> (scripts/cli.ts)
 *   connector-engine --help                  lists both
 *
 * Plain JavaScript, so that it runs before anything is compiled. Each subcommand runs as its own
 * node process exactly as its npm script does; signals we get are passed on and its exit status is ours.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, nodeCommand } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [sub, ...rest] = process.argv.slice(2);
const HEADER = [
  'usage: connector-engine <command> [options]',
  '',
  '  start                                       the whole engine on this machine (npm start); start --help for more',
].join('\n');

/** The built CLI's node command line (`npm run cli`), after a build so a stale dist never runs. */
async function cliCommand(args) {
  await build();
  const { nodeArgs, file } = nodeCommand('scripts/cli.ts');
  return [...nodeArgs, file, ...args];
}

/** Runs node with `args` in the checkout, passing our signals on; exits with its status. */
function run(args) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
}

if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
  // The CLI's own list, so its commands are described in one place.
  const cli = spawnSync(process.execPath, await cliCommand(['--help']), { cwd: root, encoding: 'utf8' });
  const commands = cli.stdout.replace(/^usage:.*\n\n/, '').replaceAll('npm run cli -- ', 'connector-engine ');
  (sub === undefined ? process.stderr : process.stdout).write(`${HEADER}\n${commands}`);
  process.exit(sub === undefined ? 64 : (cli.status ?? 1));
} else if (sub === 'start') {
  run(['--import', 'tsx', path.join(root, 'scripts', 'start.ts'), ...rest]);
} else {
  run(await cliCommand([sub, ...rest]));
}
