/**
 * What every connector's fake offers the conformance suite, so that a new connector gets its
 * conformance tests without writing them. By convention the fake of connector `<id>` lives in
 * `test/fakes/<id>/<id>-fake.ts` and exports `startConformanceFake: StartConformanceFake`.
 */
export interface ConformanceFake {
  /** The connector's API base URL on this fake: what `<ID>_API_URL` is set to. */
  apiUrl: string;
  /** Credentials with every permission the actions' examples need. */
  credentials: Record<string, string>;
  /** Well-formed credentials the fake rejects the way the service rejects dead ones. */
  rejectedCredentials: Record<string, string>;
  /**
   * The next request is answered with the service's own error of this kind: its rate limit, an
   * outage, or a permission the credentials lack (valid credentials that may not do this).
   */
  failNext(kind: 'rate_limited' | 'server_error' | 'permission'): void;
  close(): Promise<void>;
}

export type StartConformanceFake = () => Promise<ConformanceFake>;

/** Loads a connector's fake by the naming convention; undefined when there is none. */
export async function loadConformanceFake(
  connectorId: string,
  root = new URL('../fakes/', import.meta.url),
): Promise<StartConformanceFake | undefined> {
  try {
    const mod = (await import(new URL(`${connectorId}/${connectorId}-fake.ts`, root).href)) as {
      startConformanceFake?: StartConformanceFake;
    };
    return mod.startConformanceFake;
  } catch (err) {
    if (
      (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' ||
      /Cannot find module|Failed to load url/.test(String(err))
    )
      return undefined;
    throw err;
  }
}
