/**
 * `load()` run on the first call, its promise shared by every call after: for a route's heavy
 * dependency (a package of several MB) that the api should not load at start-up, when most processes
 * never serve that route (issue 21, the api's memory). A failed load is forgotten, so the next
 * request tries again instead of failing until a restart.
 */
export function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
}
