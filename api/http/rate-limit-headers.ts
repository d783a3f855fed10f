/**
 * The IETF draft's RateLimit and RateLimit-Policy fields (draft-ietf-httpapi-ratelimit-headers),
 * on execute responses: a client paces itself from the answers it already gets instead of learning
 * the limit from a 429. Both are Structured Field lists with one item, named by the connector, since
 * the limit is per project per connector:
 *
 *     RateLimit-Policy: "resend";q=100;w=60
 *     RateLimit: "resend";r=97;t=41
 *
 * `q` is the limit per window of `w` seconds; `r` how many calls would start now; `t` the seconds
 * until the window's oldest call leaves it (a sliding window has no single reset).
 */
export interface RateLimitStatus {
  /** The policy's name: the connector id. */
  policy: string;
  limitPerMinute: number;
  remaining: number;
  resetMs: number;
}

/** The window the limits count over, in seconds (limits are per minute). */
const WINDOW_S = 60;

export function rateLimitHeaders(status: RateLimitStatus): Record<string, string> {
  const name = JSON.stringify(status.policy); // connector ids are [a-z0-9-]: a valid sf-string as is
  const resetS = Math.min(WINDOW_S, Math.ceil(status.resetMs / 1000));
  return {
    'RateLimit-Policy': `${name};q=${status.limitPerMinute};w=${WINDOW_S}`,
    RateLimit: `${name};r=${status.remaining};t=${resetS}`,
  };
}
