/**
 * Progress of a long operator command (keys:reencrypt over thousands of rows). On a terminal it is
 * one line rewritten in place, so the operator sees it move without a scrolling wall. Anywhere else
 * (a log file, a pipe, CI) a carriage return would garble the record: plain lines instead, at most
 * one every `intervalMs`, so a long run leaves a readable trace and a short one a line or two.
 * `done()` always leaves the final state as a whole line.
 */
export interface Progress {
  update(text: string): void;
  done(text: string): void;
}

export interface ProgressOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** At most one plain line this often when the output is not a terminal. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5_000;

/** `1,200`: counts an operator reads at a glance. */
export const formatCount = (n: number): string => n.toLocaleString('en-US');

export function progressLine(out: ProgressOutput, opts: { intervalMs?: number; now?: () => number } = {}): Progress {
  const interval = opts.intervalMs ?? PLAIN_PROGRESS_INTERVAL_MS;
  const now = opts.now ?? Date.now;
  if (out.isTTY) {
    const CLEAR_LINE = '\r\x1b[2K';
    return {
      update: (text) => void out.write(`${CLEAR_LINE}${text}`),
      done: (text) => void out.write(`${CLEAR_LINE}${text}\n`),
    };
  }
  let lastAt = Number.NEGATIVE_INFINITY;
  let last: string | undefined;
  const line = (text: string) => {
    out.write(`${text}\n`);
    last = text;
    lastAt = now();
  };
  return {
    update: (text) => {
      if (now() - lastAt >= interval) line(text);
    },
    done: (text) => {
      if (text !== last) line(text);
    },
  };
}
