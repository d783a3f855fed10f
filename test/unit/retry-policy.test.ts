import { describe, expect, it } from 'vitest';
import type { ActionDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { ClassifiedFailure } from '../../connectors/toolkit/upstream-errors.ts';
import { isRetryable, retryDelayMs } from '../../worker/execute/retry-policy.ts';

const action = (sideEffects: 'read' | 'write', upstreamDedupes = false) =>
  ({ sideEffects, upstreamDedupes }) as ActionDefinition;
const failure = (
  kind: ClassifiedFailure['kind'],
  requestMayHaveRun: boolean,
  retryAfterMs?: number,
): ClassifiedFailure => ({ kind, requestMayHaveRun, message: 'x', retryAfterMs });

describe('retry policy (docs/design.md, decision 5)', () => {
  it.each([
    ['read, 5xx', action('read'), failure('transient', true), true],
    ['read, 429', action('read'), failure('rate_limited', false), true],
    ['write, 5xx (may have run)', action('write'), failure('transient', true), false],
    ['write, connection refused (did not run)', action('write'), failure('transient', false), true],
    ['write, 429', action('write'), failure('rate_limited', false), true],
    ['deduped write, 5xx', action('write', true), failure('transient', true), true],
    ['read, invalid request', action('read'), failure('invalid_request', false), false],
    ['read, quota', action('read'), failure('quota', false), false],
    ['read, auth', action('read'), failure('auth_invalid', false), false],
    ['read, Retry-After beyond a minute', action('read'), failure('rate_limited', false, 120_000), false],
  ])('%s → retry %s', (_label, a, f, expected) => {
    expect(isRetryable(f, a)).toBe(expected);
  });

  it('backs off exponentially with jitter, capped', () => {
    const low = () => 0;
    const high = () => 0.999;
    expect(retryDelayMs(1, failure('transient', false), low)).toBe(250);
    expect(retryDelayMs(1, failure('transient', false), high)).toBeLessThan(500);
    expect(retryDelayMs(3, failure('transient', false), low)).toBe(1_000);
    expect(retryDelayMs(20, failure('transient', false), high)).toBeLessThan(30_000);
  });

  it('honours Retry-After', () => {
    expect(retryDelayMs(1, failure('rate_limited', false, 3_000), () => 0)).toBe(3_000);
  });
});
