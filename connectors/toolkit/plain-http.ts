import type { Agent as HttpAgent, IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { request as httpsRequest } from 'node:https';
import zlib from 'node:zlib';
import { UpstreamNetworkError, UpstreamResponseTooLarge } from './upstream-errors.ts';

/** One request, as the upstream client has built it. */
export interface PlainRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** The whole exchange, from sending to the last byte of the answer. */
  timeoutMs: number;
  /** The most bytes of answer read (as sent, and once decompressed); past it the request is cut off. */
  maxBytes: number;
}

export interface PlainResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Error codes that prove the request never left this machine or never reached the upstream. */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EGRESS_REFUSED',
]);

const DECOMPRESS: Record<string, (buf: Buffer, options: zlib.ZlibOptions) => Buffer> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: zlib.inflateSync,
  br: zlib.brotliDecompressSync,
};

/**
 * One HTTP exchange on node:http(s) and the process's keep-alive agents: what the worker's calls to
 * the built-in services need and nothing else (decision 0017). got did the same for about a tenth of
 * the worker's CPU per call in option handling, streams and hooks; guarded requests (a tenant's
 * custom connector: egress checks, redirects) still go through got (upstream-client.ts).
 *
 * Failures come out as the upstream client's errors: UpstreamNetworkError (`requestMayHaveBeenSent`
 * false only for the codes that prove it was not; a timeout may have reached the upstream) and
 * UpstreamResponseTooLarge, checked against Content-Length up front and as the bytes arrive.
 */
export function plainRequest(
  req: PlainRequest,
  agents: { http: HttpAgent; https: HttpsAgent },
): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const https = req.url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outgoing.destroy();
      reject(err);
    };
    const headers =
      req.body === undefined ? req.headers : { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) };
    let outgoing: ReturnType<typeof send>;
    let timer: NodeJS.Timeout | undefined;
    try {
      outgoing = send(
        req.url,
        { method: req.method, headers, agent: https ? agents.https : agents.http },
        (incoming) => {
          const status = incoming.statusCode ?? 0;
          const declared = Number(incoming.headers['content-length'] ?? 0);
          if (declared > req.maxBytes) return fail(new UpstreamResponseTooLarge(req.maxBytes, status));
          const chunks: Buffer[] = [];
          let received = 0;
          incoming.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received > req.maxBytes) return fail(new UpstreamResponseTooLarge(req.maxBytes, status));
            chunks.push(chunk);
          });
          incoming.on('error', (err) => fail(networkError(err)));
          incoming.on('aborted', () => fail(new UpstreamNetworkError('ECONNRESET', true)));
          incoming.on('end', () => {
            if (settled) return;
            let body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
            const decompress = DECOMPRESS[String(incoming.headers['content-encoding'] ?? '').toLowerCase()];
            if (decompress && body.length > 0) {
              try {
                body = decompress(body, Number.isFinite(req.maxBytes) ? { maxOutputLength: req.maxBytes } : {});
              } catch (err) {
                const tooLarge = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
                return fail(tooLarge ? new UpstreamResponseTooLarge(req.maxBytes, status) : networkError(err as Error));
              }
            }
            settled = true;
            clearTimeout(timer);
            resolve({ status, headers: incoming.headers, body });
          });
        },
      );
    } catch (err) {
      // A header value node:http refuses (as got passed such an error on).
      reject(networkError(err as Error));
      return;
    }
    timer = setTimeout(() => fail(new UpstreamNetworkError('ETIMEDOUT', true)), req.timeoutMs);
    outgoing.on('error', (err) => fail(networkError(err)));
    outgoing.end(req.body);
  });
}

function networkError(err: Error): UpstreamNetworkError {
  const code = (err as { code?: string }).code ?? 'ERR_UPSTREAM';
  return new UpstreamNetworkError(code, !NOT_SENT_CODES.has(code));
}
