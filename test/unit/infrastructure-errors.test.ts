import { describe, expect, it } from 'vitest';
import { isInfrastructureError } from '../../shared/infrastructure-errors.ts';

describe('infrastructure errors', () => {
  it('counts a Redis at its maxmemory (noeviction refuses writes) as unavailable, not as a bug', () => {
    expect(isInfrastructureError(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe(true);
    expect(isInfrastructureError(new Error('ROOM command not allowed'))).toBe(false);
  });

  it('counts a Redis Cluster moving slots in a failover as unavailable, not as a bug', () => {
    for (const message of [
      'Too many Cluster redirections. Last error: ReplyError: MOVED 2294 127.0.0.1:30484',
      'Too many Cluster redirections. Last error: Error: Connection is closed.',
      'CLUSTERDOWN The cluster is down',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'Failed to refresh slots cache.',
      "Cluster isn't ready and enableOfflineQueue options is false",
    ])
      expect(isInfrastructureError(new Error(message)), message).toBe(true);
  });
});
