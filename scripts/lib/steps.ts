import { performance } from 'node:perf_hooks';

/**
 * Runs one slow step of a start-up (apt-get install, initdb, migrations, a build) and says what it
 * is doing before, and how long it took after: `[start] initdb … done in 2.3 s`. A first run can take
 * a minute; a newcomer should see which part is slow rather than a silent terminal. Two whole lines
 * rather than one completed in place, so that steps running at once (or a child's own output, such
 * as apt-get's) never garble each other.
 */
export type Step = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** `2.3 s` below ten seconds, `12 s` above: precise where it matters, short where it does not. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

/** A Step that writes its lines as `<prefix> …` to `write` (one call per line, newline included). */
export function stepper(
  prefix: string,
  write: (line: string) => void,
  now: () => number = () => performance.now(),
): Step {
  return async (what, fn) => {
    write(`${prefix} ${what} …\n`);
    const started = now();
    try {
      const result = await fn();
      write(`${prefix} ${what} … done in ${formatDuration(now() - started)}\n`);
      return result;
    } catch (err) {
      write(`${prefix} ${what} … failed after ${formatDuration(now() - started)}\n`);
      throw err;
    }
  };
}
