/**
 * Postgres `jsonb` refuses the NUL character, and an upstream may send one. A result the upstream
 * produced must still be recorded (the email went out), so NULs become U+FFFD, in keys and values.
 */
export function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
  if (Array.isArray(value)) return value.map(withoutNul);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [withoutNul(k) as string, withoutNul(v)]));
  }
  return value;
}

/** Replaces every occurrence of each secret in every string of a value (deep). */
export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const redact = (v: unknown): unknown => {
    if (typeof v === 'string')
      return secrets.reduce((s, secret) => (s.includes(secret) ? s.replaceAll(secret, '[redacted]') : s), v);
    if (Array.isArray(v)) return v.map(redact);
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [redact(k) as string, redact(x)]));
    return v;
  };
  return redact(value) as T;
}
