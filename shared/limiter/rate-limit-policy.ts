import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import { rateLimitCeilingOf } from '../../connectors/toolkit/settings.ts';
import type { Config } from '../config.ts';
import { effectiveLimit } from './sliding-window-limiter.ts';

type Connector = Pick<ConnectorDefinition, 'id' | 'rateLimit'>;

/**
 * The operator's rate-limit settings in one place: what a project may set for itself
 * (`PATCH /v1/projects/{id}`) and what is in force for a call. A workspace admin is a tenant, so a
 * project's own limit stays within the connector's ceiling and RATE_LIMIT_MAX_PER_MINUTE.
 */
export class RateLimitPolicy {
  constructor(
    private readonly config: Pick<Config, 'RATE_LIMIT_PER_MINUTE' | 'RATE_LIMIT_MAX_PER_MINUTE' | 'connectorSettings'>,
  ) {}

  /** The highest override a project may set for the connector. */
  maxOverride(connector: Connector): number {
    return Math.min(
      rateLimitCeilingOf(connector, this.config.connectorSettings),
      this.config.RATE_LIMIT_MAX_PER_MINUTE,
    );
  }

  /** Calls per minute in force for the project's calls to the connector (stored overrides above the caps are clamped). */
  limitFor(projectOverrides: Record<string, number>, connector: Connector): number {
    return effectiveLimit(
      projectOverrides,
      connector.id,
      rateLimitCeilingOf(connector, this.config.connectorSettings),
      this.config.RATE_LIMIT_PER_MINUTE,
      this.config.RATE_LIMIT_MAX_PER_MINUTE,
    );
  }
}
