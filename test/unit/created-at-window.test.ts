import { describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.ts';
import { createdAtWindow } from '../../shared/invocations/created-at-window.ts';

describe('createdAtWindow', () => {
  it("spans the ids' times with a day either side", () => {
    const before = Date.now();
    const ids = [newId('invocation'), newId('invocation')];
    const after = Date.now();
    const window = createdAtWindow(ids)!;
    const day = 24 * 3600 * 1000;
    expect(window.from.getTime()).toBeGreaterThanOrEqual(before - day);
    expect(window.from.getTime()).toBeLessThanOrEqual(after - day);
    expect(window.to.getTime()).toBeGreaterThanOrEqual(before + day);
    expect(window.to.getTime()).toBeLessThanOrEqual(after + day);
  });

  it('is null when an id is not a ULID (the caller then looks up without a window), or for none', () => {
    expect(createdAtWindow([newId('invocation'), 'inv_legacy-id'])).toBeNull();
    expect(createdAtWindow([])).toBeNull();
  });
});
