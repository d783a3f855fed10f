/**
 * How every worker consumer holds and recovers jobs: a crashed worker's jobs are picked up by another
 * within seconds, not minutes (lock of 10 s, checked every 3 s; docs/operations.md). Shared with the
 * bench's baseline workers so they run with the same settings as the engine's.
 */
export const stalledJobRecovery = {
  stalledInterval: 3_000,
  maxStalledCount: 2,
  lockDuration: 10_000,
} as const;
