import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatCount, progressLine } from '../../scripts/lib/progress.ts';
import { childLogFormat } from '../../scripts/lib/start-settings.ts';
import { formatDuration, stepper } from '../../scripts/lib/steps.ts';
import { createLogger } from '../../shared/logger.ts';

/** A stream that keeps what was written to it. */
function memorySink(): { sink: Writable; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { sink, text: () => text };
}

/** A progress output that keeps what was written. */
function capture(isTTY: boolean) {
  const out = { text: '', isTTY, write: (s: string) => (out.text += s) };
  return out;
}

describe('progress of a long command (keys:reencrypt)', () => {
  it('rewrites one line in place on a terminal, and ends it', () => {
    const out = capture(true);
    const p = progressLine(out);
    p.update('re-sealed 100 / 5,000 secrets');
    p.update('re-sealed 200 / 5,000 secrets');
    p.done('re-sealed 5,000 / 5,000 secrets');
    expect(out.text).toBe(
      '\r\x1b[2Kre-sealed 100 / 5,000 secrets\r\x1b[2Kre-sealed 200 / 5,000 secrets\r\x1b[2Kre-sealed 5,000 / 5,000 secrets\n',
    );
  });

  it('writes plain lines at most every interval elsewhere, and always the final state', () => {
    const out = capture(false);
    let now = 0;
    const p = progressLine(out, { intervalMs: 5000, now: () => now });
    p.update('a'); // the first one at once
    now = 1000;
    p.update('b'); // too soon
    now = 4999;
    p.update('c'); // too soon
    now = 5000;
    p.update('d');
    now = 6000;
    p.update('e');
    p.done('f');
    expect(out.text).toBe('a\nd\nf\n');
    expect(out.text).not.toContain('\r');
  });

  it('does not repeat the final line when it was the last one written', () => {
    const out = capture(false);
    const p = progressLine(out);
    p.update('same');
    p.done('same');
    expect(out.text).toBe('same\n');
  });

  it('groups thousands', () => {
    expect(formatCount(1200)).toBe('1,200');
    expect(formatCount(5_000_000)).toBe('5,000,000');
  });
});

describe('first-run steps', () => {
  it('say what they do, then how long it took', async () => {
    const lines: string[] = [];
    let now = 0;
    const step = stepper(
      '[start]',
      (l) => lines.push(l),
      () => now,
    );
    const result = await step('initdb', async () => {
      now = 2345;
      return 42;
    });
    expect(result).toBe(42);
    expect(lines).toEqual(['[start] initdb …\n', '[start] initdb … done in 2.3 s\n']);
  });

  it('say when one failed, and pass its error on', async () => {
    const lines: string[] = [];
    const step = stepper(
      '[start]',
      (l) => lines.push(l),
      () => 0,
    );
    await expect(
      step('apt-get install -y redis-server', () => Promise.reject(new Error('no network'))),
    ).rejects.toThrow('no network');
    expect(lines.at(-1)).toBe('[start] apt-get install -y redis-server … failed after 0.0 s\n');
  });

  it('show tenths below ten seconds and whole seconds above', () => {
    expect(formatDuration(2345)).toBe('2.3 s');
    expect(formatDuration(61_400)).toBe('61 s');
  });
});

describe('log format of the api and worker under npm start', () => {
  it('is pretty on a terminal and JSON elsewhere, unless LOG_FORMAT says otherwise', () => {
    expect(childLogFormat({}, true)).toBe('pretty');
    expect(childLogFormat({}, false)).toBe('json');
    expect(childLogFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(childLogFormat({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });
});

describe('createLogger formats', () => {
  const secret = 're_live_0123456789abcdefSECRET';
  const logged = (format: 'json' | 'pretty') => {
    const { sink, text } = memorySink();
    const logger = createLogger('api', 'info', sink, format);
    logger.info(
      { apiKey: secret, credentials: { apiKey: secret }, req: { headers: { authorization: `Bearer ${secret}` } } },
      'connection created',
    );
    return text();
  };

  it('json: one JSON object per line, as before', () => {
    const line = JSON.parse(logged('json').trim()) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 30,
      service: 'api',
      name: 'api',
      msg: 'connection created',
      apiKey: '[redacted]',
    });
  });

  it('pretty: a human line, and never a redacted secret', () => {
    const text = logged('pretty');
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(api\/\d+\): connection created\n/);
    expect(() => JSON.parse(text)).toThrow();
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(secret);
    expect(text).not.toContain('SECRET');
  });

  it('follows LOG_FORMAT when the caller does not choose (api/main.ts, worker/main.ts)', () => {
    const before = process.env.LOG_FORMAT;
    const lineWith = (value: string | undefined) => {
      if (value === undefined) delete process.env.LOG_FORMAT;
      else process.env.LOG_FORMAT = value;
      const { sink, text } = memorySink();
      createLogger('worker', 'info', sink).info('ready');
      return text();
    };
    try {
      expect(JSON.parse(lineWith(undefined)).msg).toBe('ready');
      expect(JSON.parse(lineWith('json')).msg).toBe('ready');
      expect(lineWith('pretty')).toMatch(/INFO \(worker\/\d+\): ready/);
    } finally {
      if (before === undefined) delete process.env.LOG_FORMAT;
      else process.env.LOG_FORMAT = before;
    }
  });
});
