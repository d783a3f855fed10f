/** Readers of inbound bodies, for hooks, used only after the signature has been verified. */

/** The body as a JSON object, or undefined when it is not one. */
export function parseJsonObject(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** An `application/x-www-form-urlencoded` body as name → values, in the order received. */
export function parseForm(raw: Buffer): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(raw.toString('utf8')))
    out.set(name, [...(out.get(name) ?? []), value]);
  return out;
}
