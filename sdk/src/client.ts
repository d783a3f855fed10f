import { type ConnectorEngineError, errorFromCode, TimeoutError } from './errors.ts';
import { type RequestOptions, sleep, Transport } from './http.ts';
import { Page, PagePromise } from './pagination.ts';
import type {
  ActionId,
  ActionOutput,
  ApiKey,
  AsyncExecution,
  Connection,
  ConnectionCreateParams,
  ConnectionListParams,
  ConnectionUpdateParams,
  Connector,
  ConnectorId,
  CreatedApiKey,
  ExecuteParams,
  ExecuteResult,
  Invocation,
  InvocationListParams,
  OAuthAuthorization,
  OAuthAuthorizeParams,
  PageParams,
  Project,
  ProjectCreateParams,
  ProjectUpdateParams,
  Tool,
  WaitOptions,
} from './types.ts';
import { webhooks } from './webhooks.ts';

export interface ClientOptions {
  /** A project key (execute, read own invocations) or a workspace key (everything). Default: env CONNECTORS_API_KEY. */
  apiKey?: string | undefined;
  /** Default: env CONNECTORS_API_URL, else http://127.0.0.1:8080. */
  baseUrl?: string | undefined;
  /** HTTP timeout per attempt. Default 60000; a sync execute always waits at least its own timeoutMs + 5 s. */
  timeoutMs?: number;
  /** Retries of 429, 503 and network errors (see README). Default 2; 0 turns retrying off. */
  maxRetries?: number;
  /** A Retry-After longer than this is not waited for: the error is thrown at once. Default 30000. */
  maxRetryDelayMs?: number;
  /** Another fetch implementation (tests, proxies). Default: the global fetch. */
  fetch?: typeof globalThis.fetch;
}

/** The engine's default sync wait (docs/api.md): the HTTP timeout must outlast it. */
const DEFAULT_EXECUTE_TIMEOUT_MS = 30_000;
const id = (value: string) => encodeURIComponent(value);

/**
 * Client of the connector engine's HTTP API. Server-side only: it holds an API key.
 *
 * ```ts
 * const client = new Client({ apiKey: process.env.CONNECTORS_API_KEY });
 * const { output } = await client.connectors.execute({ connectorId: 'slack', actionId: 'postMessage', input: { channel: '#general', text: 'Hi' } });
 * ```
 */
export class Client {
  readonly connectors: ConnectorsResource;
  readonly invocations: InvocationsResource;
  readonly projects: ProjectsResource;
  readonly connections: ConnectionsResource;
  readonly oauth: OAuthResource;
  readonly tools: ToolsResource;
  /** Verifies deliveries of webhooks out (no API call, no key needed: the same as the exported `webhooks`). */
  readonly webhooks = webhooks;
  private readonly http: Transport;

  constructor(options: ClientOptions = {}) {
    const env = globalThis.process?.env ?? {};
    const apiKey = options.apiKey ?? env.CONNECTORS_API_KEY;
    if (!apiKey) throw new Error('connector-engine: no API key; pass { apiKey } or set CONNECTORS_API_KEY.');
    const maxRetries = options.maxRetries ?? 2;
    if (!Number.isInteger(maxRetries) || maxRetries < 0)
      throw new Error('connector-engine: maxRetries must be an integer ≥ 0.');
    this.http = new Transport({
      apiKey,
      baseUrl: options.baseUrl ?? env.CONNECTORS_API_URL ?? 'http://127.0.0.1:8080',
      timeoutMs: options.timeoutMs ?? 60_000,
      maxRetries,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    });
    this.connectors = new ConnectorsResource(this.http, options.timeoutMs ?? 60_000);
    this.invocations = new InvocationsResource(this.http);
    this.projects = new ProjectsResource(this.http);
    this.connections = new ConnectionsResource(this.http);
    this.oauth = new OAuthResource(this.http);
    this.tools = new ToolsResource(this.http);
  }

  /** Any endpoint, for what the resources do not cover. Errors are typed and retried like the rest. */
  async request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T> {
    return (await this.http.request<T>(method, path, options)).body;
  }
}

function list<T>(
  http: Transport,
  path: string,
  query: Record<string, string | number | Date | undefined> = {},
): PagePromise<T> {
  const fetchPage = async (cursor: string | undefined): Promise<Page<T>> => {
    const { body } = await http.request<{ data: T[]; nextCursor: string | null }>('GET', path, {
      query: { ...query, cursor },
    });
    return new Page(body.data, body.nextCursor ?? null, fetchPage);
  };
  return new PagePromise(() => fetchPage(query.cursor as string | undefined));
}

/** The error a failed invocation stands for, as the sync call would have thrown it. */
export function invocationError(invocation: Invocation): ConnectorEngineError {
  return errorFromCode({
    code: invocation.errorCode ?? 'internal_error',
    message: invocation.errorMessage ?? 'The invocation failed.',
    details: invocation.errorDetails ?? undefined,
    invocationId: invocation.id,
  });
}

export class ConnectorsResource {
  constructor(
    private readonly http: Transport,
    private readonly clientTimeoutMs: number,
  ) {}

  /** The catalog: every connector with its actions and their input JSON Schemas. */
  async list(): Promise<Connector[]> {
    return (await this.http.request<{ data: Connector[] }>('GET', '/v1/connectors')).body.data;
  }

  async get(connectorId: ConnectorId): Promise<Connector> {
    return (await this.http.request<Connector>('GET', `/v1/connectors/${id(connectorId)}`)).body;
  }

  /** Runs an action and waits for its result (up to `timeoutMs`, default 30 s, then a TimeoutError naming the invocation). */
  async execute<C extends ConnectorId, A extends ActionId<C>>(
    params: ExecuteParams<C, A>,
  ): Promise<ExecuteResult<ActionOutput<C, A>>> {
    const waitMs = params.timeoutMs ?? DEFAULT_EXECUTE_TIMEOUT_MS;
    const { body } = await this.http.request<ExecuteResult<ActionOutput<C, A>>>('POST', '/v1/executions', {
      body: executionBody(params),
      query: { timeoutMs: params.timeoutMs },
      headers: idempotencyHeader(params),
      // The engine answers 504 `timeout` itself when its wait runs out; do not cut it short.
      timeoutMs: Math.max(this.clientTimeoutMs, waitMs + 5_000),
    });
    return { output: body.output, durationMs: body.durationMs, invocationId: body.invocationId };
  }

  /**
   * Queues an action and returns at once with its invocation id (`Prefer: respond-async`); an
   * asynchronous call over the rate limit is deferred, never refused. Follow it with `invocations.wait`.
   */
  async executeAsync<C extends ConnectorId, A extends ActionId<C>>(
    params: ExecuteParams<C, A>,
  ): Promise<AsyncExecution> {
    const { status, body } = await this.http.request<AsyncExecution & { output?: unknown }>('POST', '/v1/executions', {
      body: executionBody(params),
      headers: { prefer: 'respond-async', ...idempotencyHeader(params) },
    });
    // An Idempotency-Key replay of a finished call answers 200 with its result instead of 202.
    return { invocationId: body.invocationId, status: status === 200 ? 'succeeded' : body.status };
  }
}

const executionBody = <C extends ConnectorId, A extends ActionId<C>>(p: ExecuteParams<C, A>) => ({
  connectorId: p.connectorId,
  actionId: p.actionId,
  input: p.input,
  connectionId: p.connectionId,
  projectId: p.projectId,
});
/**
 * The caller's Idempotency-Key, or one of our own (as Stripe's SDKs do): with a key, the engine runs
 * the call once however often it arrives, so the transport may retry it after a 503 or a lost
 * connection without sending the email twice. Made once per call, before the first attempt.
 */
const idempotencyHeader = <C extends ConnectorId, A extends ActionId<C>>(
  p: ExecuteParams<C, A>,
): Record<string, string> => ({
  'idempotency-key': p.idempotencyKey ?? `sdk-${globalThis.crypto.randomUUID()}`,
});

export class InvocationsResource {
  constructor(private readonly http: Transport) {}

  async get(invocationId: string, options: { signal?: AbortSignal } = {}): Promise<Invocation> {
    return (await this.http.request<Invocation>('GET', `/v1/invocations/${id(invocationId)}`, options)).body;
  }

  /** Newest first. `await` it for a page, or `for await` over it for every matching invocation. */
  list(params: InvocationListParams = {}): PagePromise<Invocation> {
    return list(this.http, '/v1/invocations', { ...params });
  }

  /**
   * Polls until the invocation has finished. Returns it when it succeeded; when it failed, throws the
   * error the sync call would have thrown (with `invocationId`), or returns it with `throwOnFailure: false`.
   */
  async wait(invocationId: string, options: WaitOptions = {}): Promise<Invocation> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const invocation = await this.get(invocationId, { signal: options.signal });
      if (invocation.status === 'succeeded') return invocation;
      if (invocation.status === 'failed') {
        if (options.throwOnFailure === false) return invocation;
        throw invocationError(invocation);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError({
          code: 'wait_timeout',
          status: 0,
          message: `Invocation ${invocationId} is still ${invocation.status} after ${timeoutMs} ms.`,
          invocationId,
        });
      }
      await sleep(Math.min(options.pollIntervalMs ?? 500, left), options.signal);
    }
  }

  /** Downloads a binary output such as `output.audio.url` (ElevenLabs), with this client's key. */
  downloadArtifact(url: string): Promise<{ contentType: string; data: Uint8Array }> {
    // Only engine paths: an absolute URL would send the API key to whoever it names.
    if (!url.startsWith('/v1/invocations/')) throw new Error(`connector-engine: not an artifact path: ${url}`);
    return this.http.download(url);
  }
}

class ApiKeysResource {
  constructor(private readonly http: Transport) {}

  /** The response holds the secret `key`: it is shown this once. */
  async create(projectId: string, params: { name?: string } = {}): Promise<CreatedApiKey> {
    return (await this.http.request<CreatedApiKey>('POST', `/v1/projects/${id(projectId)}/api-keys`, { body: params }))
      .body;
  }

  list(projectId: string, params: PageParams = {}): PagePromise<ApiKey> {
    return list(this.http, `/v1/projects/${id(projectId)}/api-keys`, { ...params });
  }

  async revoke(projectId: string, keyId: string): Promise<void> {
    await this.http.request('DELETE', `/v1/projects/${id(projectId)}/api-keys/${id(keyId)}`);
  }
}

/** Projects and their keys (workspace key). */
export class ProjectsResource {
  readonly apiKeys: ApiKeysResource;

  constructor(private readonly http: Transport) {
    this.apiKeys = new ApiKeysResource(http);
  }

  async create(params: ProjectCreateParams): Promise<Project> {
    return (await this.http.request<Project>('POST', '/v1/projects', { body: params })).body;
  }

  async get(projectId: string): Promise<Project> {
    return (await this.http.request<Project>('GET', `/v1/projects/${id(projectId)}`)).body;
  }

  list(params: PageParams & { externalId?: string } = {}): PagePromise<Project> {
    return list(this.http, '/v1/projects', { ...params });
  }

  async update(projectId: string, params: ProjectUpdateParams): Promise<Project> {
    return (await this.http.request<Project>('PATCH', `/v1/projects/${id(projectId)}`, { body: params })).body;
  }

  /** Deletes the project, its keys and bindings; its invocations stay in the audit log. */
  async delete(projectId: string): Promise<void> {
    await this.http.request('DELETE', `/v1/projects/${id(projectId)}`);
  }
}

/** Connections and their bindings to projects (workspace key). */
export class ConnectionsResource {
  constructor(private readonly http: Transport) {}

  /** The credentials are tested against the upstream first: `status` is `active`, or `broken` with `statusReason`. */
  async create<C extends ConnectorId>(params: ConnectionCreateParams<C>): Promise<Connection> {
    return (await this.http.request<Connection>('POST', '/v1/connections', { body: params })).body;
  }

  async get(connectionId: string): Promise<Connection> {
    return (await this.http.request<Connection>('GET', `/v1/connections/${id(connectionId)}`)).body;
  }

  list(params: ConnectionListParams = {}): PagePromise<Connection> {
    return list(this.http, '/v1/connections', { ...params });
  }

  async update(connectionId: string, params: ConnectionUpdateParams): Promise<Connection> {
    return (await this.http.request<Connection>('PATCH', `/v1/connections/${id(connectionId)}`, { body: params })).body;
  }

  /** Re-tests the credentials and returns the updated connection. */
  async test(connectionId: string): Promise<Connection> {
    return (await this.http.request<Connection>('POST', `/v1/connections/${id(connectionId)}/test`)).body;
  }

  async delete(connectionId: string): Promise<void> {
    await this.http.request('DELETE', `/v1/connections/${id(connectionId)}`);
  }

  /** Lets the project use the connection (idempotent). */
  async bind(connectionId: string, projectId: string): Promise<void> {
    await this.http.request('PUT', `/v1/projects/${id(projectId)}/connections/${id(connectionId)}`);
  }

  async unbind(connectionId: string, projectId: string): Promise<void> {
    await this.http.request('DELETE', `/v1/projects/${id(projectId)}/connections/${id(connectionId)}`);
  }
}

/** What the project can call now, for an AI builder or a model's tool list (project key). */
export class ToolsResource {
  constructor(private readonly http: Transport) {}

  /** Every action of the project's bound, active connections, in a stable order. */
  async list(): Promise<Tool[]> {
    return (await this.http.request<{ data: Tool[] }>('GET', '/v1/tools')).body.data;
  }
}

/** OAuth connections, e.g. Slack (workspace key). */
export class OAuthResource {
  constructor(private readonly http: Transport) {}

  /** Starts an authorization: send the user to `authorizeUrl`; the engine's callback creates the connection. */
  async authorize(connectorId: ConnectorId, params: OAuthAuthorizeParams): Promise<OAuthAuthorization> {
    return (
      await this.http.request<OAuthAuthorization>('POST', `/v1/oauth/${id(connectorId)}/authorize`, { body: params })
    ).body;
  }
}
