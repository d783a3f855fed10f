import type { Migration } from 'kysely';
import * as m0001 from './0001_initial.ts';
import * as m0002 from './0002_oauth_states.ts';
import * as m0004 from './0004_webhooks_and_health_checks.ts';
import * as m0005 from './0005_pending_invocations_index.ts';
import * as m0006 from './0006_audit_indexes.ts';
import * as m0007 from './0007_oauth_pkce.ts';
import * as m0008 from './0008_invocation_transport.ts';
import * as m0009 from './0009_project_running_cap.ts';
import * as m0010 from './0010_custom_connectors.ts';
import * as m0011 from './0011_inbound_events.ts';
import * as m0012 from './0012_connect_sessions.ts';
import * as m0013 from './0013_partitioned_audit_log.ts';
import * as m0014 from './0014_invocation_trace_id.ts';
import * as m0015 from './0015_lookup_invalidation.ts';

/** Every migration, in order. Listed statically so the migrator needs no filesystem scanning. */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_oauth_states': m0002,
  '0004_webhooks_and_health_checks': m0004,
  '0005_pending_invocations_index': m0005,
  '0006_audit_indexes': m0006,
  '0007_oauth_pkce': m0007,
  '0008_invocation_transport': m0008,
  '0009_project_running_cap': m0009,
  '0010_custom_connectors': m0010,
  '0011_inbound_events': m0011,
  '0012_connect_sessions': m0012,
  '0013_partitioned_audit_log': m0013,
  '0014_invocation_trace_id': m0014,
  '0015_lookup_invalidation': m0015,
};
