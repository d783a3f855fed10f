/**
 * How cached lookups learn that a row they read changed (docs/decisions/0016-lookup-cache.md).
 * Tags are spelled `<table>:<id>`, exactly as migration 0015's triggers send them on the
 * `ce_lookup_invalidate` channel, so a notification's payload is the tag to drop.
 */
export const LOOKUP_INVALIDATION_CHANNEL = 'ce_lookup_invalidate';

/** The tag of each row a cached lookup may depend on. */
export const lookupTag = {
  apiKey: (id: string) => `api_keys:${id}`,
  project: (id: string) => `projects:${id}`,
  connection: (id: string) => `connections:${id}`,
  workspace: (id: string) => `workspaces:${id}`,
};

/** What can be told about a change. */
export interface Invalidatable {
  invalidate(tag: string): void;
}

const inThisProcess = new Set<Invalidatable>();

/** Registers a cache for `invalidateLookups`; returns its unregistration (when the api stops). */
export function registerForLocalInvalidation(cache: Invalidatable): () => void {
  inThisProcess.add(cache);
  return () => inThisProcess.delete(cache);
}

/**
 * Tells this process's caches, synchronously, about a change it has just committed. The triggers'
 * notification comes too, but possibly after the writer has answered its HTTP request: a client
 * that revokes a key or unbinds a connection and calls at once must see the change. Call it after
 * the write commits (before, a lookup could read the old row again and keep it). The writes live in
 * helpers the worker and the CLI share, where nothing is cached: there it does nothing.
 */
export function invalidateLookups(...tags: string[]): void {
  for (const cache of inThisProcess) for (const tag of tags) cache.invalidate(tag);
}
