/** Background work of the worker tier, each on its own queue so none delays executions. */
export const HEALTH_CHECK_QUEUE = 'health-checks';
export const MAINTENANCE_QUEUE = 'maintenance';

export interface HealthCheckJobData {
  connectionId: string;
}

export const healthCheckJobOptions = {
  attempts: 1,
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 24 * 3600 },
} as const;
