/** Timestamps leave the API as ISO 8601 UTC strings (docs/api.md, Conventions). */
export const toIso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
