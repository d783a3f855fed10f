import { describe, expect, it } from 'vitest';
import { isWellFormedId, newId } from '../../shared/ids.ts';

describe('newId', () => {
  it('is well formed, unique and time-ordered across many ids', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('invocation'));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every((id) => isWellFormedId('invocation', id))).toBe(true);
  });

  it('draws a fresh random part in each millisecond', () => {
    // Within one millisecond ulid increments the previous random part; a new millisecond draws anew.
    const firstRandom = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const ms = Date.now();
      while (Date.now() === ms);
      firstRandom.add(newId('event').slice(4 + 10, 4 + 14));
    }
    expect(firstRandom.size).toBeGreaterThan(190);
  });
});
