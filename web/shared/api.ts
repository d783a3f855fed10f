/**
 * The pages talk to the public API only, with a bearer token in a header: the operator's workspace
 * key (held in memory by the console, never stored) or a connect session's token. No cookie ever
 * authorizes a write, so no other site can make a browser perform one (no CSRF surface).
 */

/** An error envelope of the API (`{error: {code, message, details}}`), or a network failure. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the pages name the JSON shape they expect at each call (`call<Project[]>`); unnamed ones read it loosely.
export type Call = <T = any>(method: string, path: string, body?: unknown) => Promise<T>;

/** A caller bound to a bearer token. */
export function apiCaller(token: string | null): Call {
  return async (method, path, body) => {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      throw new ApiFailure(0, 'network_error', 'The server could not be reached. Check the connection and try again.');
    }
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: parsed JSON of any shape: read for the error envelope, else returned as the caller's `T`.
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = parsed?.error;
      throw new ApiFailure(
        res.status,
        e?.code ?? 'http_error',
        e?.message ?? `The server answered ${res.status}.`,
        e?.details,
      );
    }
    return parsed;
  };
}

/** Query string of the set values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
