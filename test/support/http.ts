import { responseProblem } from './openapi-conformance.ts';

/**
 * A small JSON client for tests: status, headers and parsed body of every call. Every response is
 * checked against the OpenAPI document (openapi-conformance.ts): one that does not fit it fails the test.
 */
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ApiClient {
  request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>>;
  get<T = any>(path: string, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  patch<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  delete<T = any>(path: string, headers?: Record<string, string>): Promise<ApiResponse<T>>;
}

export function apiClient(baseUrl: string, key?: string): ApiClient {
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    const problem = responseProblem(method, path, res.status, res.headers, parsed);
    if (problem) throw new Error(`Response does not conform to the OpenAPI document: ${problem}`);
    return { status: res.status, headers: res.headers, body: parsed as any };
  };
  return {
    request,
    get: (path, headers) => request('GET', path, undefined, headers),
    post: (path, body, headers) => request('POST', path, body ?? {}, headers),
    patch: (path, body, headers) => request('PATCH', path, body ?? {}, headers),
    put: (path, body, headers) => request('PUT', path, body, headers),
    delete: (path, headers) => request('DELETE', path, undefined, headers),
  };
}

/** Creates a project with a project key and a connection bound to it: the usual test set-up. */
export async function setUpProject(
  admin: ApiClient,
  connection: { connectorId: string; credentials: Record<string, string> },
): Promise<{ projectId: string; projectKey: string; connectionId: string; connectionStatus: string }> {
  const project = await admin.post('/v1/projects', { displayName: 'Test project' });
  if (project.status !== 201) throw new Error(`project: ${JSON.stringify(project.body)}`);
  const key = await admin.post(`/v1/projects/${project.body.id}/api-keys`, { name: 'test' });
  const conn = await admin.post('/v1/connections', {
    connectorId: connection.connectorId,
    displayName: `${connection.connectorId} test`,
    credentials: connection.credentials,
    projectIds: [project.body.id],
  });
  if (conn.status !== 201) throw new Error(`connection: ${JSON.stringify(conn.body)}`);
  return {
    projectId: project.body.id,
    projectKey: key.body.key,
    connectionId: conn.body.id,
    connectionStatus: conn.body.status,
  };
}
