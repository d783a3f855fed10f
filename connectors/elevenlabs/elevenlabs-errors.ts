import { type ErrorTable, stringAt } from '../toolkit/error-table.ts';

/**
 * ElevenLabs errors (docs/upstreams/elevenlabs.md) come in two envelopes: legacy `{detail:{status,message}}`
 * and current `{detail:{type,code,status,message}}`, plus FastAPI's 422 `{detail:[…]}`. The legacy
 * `status` is the more specific (missing_permissions comes as code "unauthorized"), so it wins.
 * 401 is used for invalid keys, missing permissions AND exhausted quota: only invalid_api_key breaks.
 */
function codeOf(body: unknown): string | undefined {
  const detail = (body as { detail?: unknown } | undefined)?.detail;
  if (Array.isArray(detail)) return 'validation_error';
  return stringAt(body, 'detail', 'status') ?? stringAt(body, 'detail', 'code');
}

function messageOf(body: unknown): string | undefined {
  const detail = (body as { detail?: unknown } | undefined)?.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join('.')}: ${d.msg ?? 'invalid'}`)
      .join('; ')
      .slice(0, 500);
  }
  return stringAt(body, 'detail', 'message');
}

export const elevenLabsErrors: ErrorTable = {
  codeOf,
  messageOf,
  byCode: {
    invalid_api_key: 'auth_invalid',
    missing_permissions: 'permission',
    unauthorized: 'permission',
    paid_plan_required: 'permission',
    'only_for_creator+': 'permission',
    quota_exceeded: 'quota',
    too_many_concurrent_requests: 'rate_limited',
    concurrent_limit_exceeded: 'rate_limited',
    system_busy: 'rate_limited',
    rate_limit_exceeded: 'rate_limited',
    voice_not_found: 'invalid_request',
    max_character_limit_exceeded: 'invalid_request',
    validation_error: 'invalid_request',
  },
  byStatus: {
    // 401 means an invalid key, a missing permission or a spent quota; only the code tells which.
    401: 'permission',
    403: 'permission',
  },
};
