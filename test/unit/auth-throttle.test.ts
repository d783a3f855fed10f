import { describe, expect, it } from 'vitest';
import { AuthFailureThrottle } from '../../api/middleware/auth-throttle.ts';
import { ApiError } from '../../shared/errors.ts';

describe('AuthFailureThrottle', () => {
  const refusal = (fn: () => void) => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return err as ApiError;
    }
  };

  it('throttles an address after `limit` failures in its window, with Retry-After until the window ends', () => {
    let now = 1_000_000;
    const throttle = new AuthFailureThrottle(3, 60_000, () => now);
    for (let i = 0; i < 3; i++) {
      expect(refusal(() => throttle.check('198.51.100.1'))).toBeUndefined();
      throttle.recordFailure('198.51.100.1');
    }
    now += 15_000;
    const err = refusal(() => throttle.check('198.51.100.1'));
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'rate_limited', status: 429, headers: { 'Retry-After': '45' } });
    // Another address is not affected.
    expect(refusal(() => throttle.check('198.51.100.2'))).toBeUndefined();
    // The window ends: let through, and counting starts over.
    now += 45_000;
    expect(refusal(() => throttle.check('198.51.100.1'))).toBeUndefined();
    throttle.recordFailure('198.51.100.1');
    expect(refusal(() => throttle.check('198.51.100.1'))).toBeUndefined();
  });

  it('stays bounded: expired windows are dropped, and past the cap the oldest address is forgotten', () => {
    let now = 0;
    const throttle = new AuthFailureThrottle(1, 1_000, () => now, 100);
    for (let i = 0; i < 100; i++) throttle.recordFailure(`10.0.0.${i}`);
    expect(throttle.size).toBe(100);
    throttle.recordFailure('10.0.1.0');
    expect(throttle.size).toBe(100);
    expect(refusal(() => throttle.check('10.0.0.0'))).toBeUndefined(); // forgotten
    expect(refusal(() => throttle.check('10.0.1.0'))).toBeInstanceOf(ApiError);
    now = 5_000;
    throttle.recordFailure('10.0.2.0');
    expect(throttle.size).toBe(1);
  });
});
