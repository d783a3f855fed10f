import { describe, expect, it } from 'vitest';
import { isInfrastructureError } from '../../shared/infrastructure-errors.ts';

describe('infrastructure errors', () => {
  it('counts a Redis at its maxmemory (noeviction refuses writes) as unavailable, not as a bug', () => {
    expect(isInfrastructureError(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe(true);
    expect(isInfrastructureError(new Error('ROOM command not allowed'))).toBe(false);
  });
});
