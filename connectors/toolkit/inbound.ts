/**
 * The inbound hook of a connector: how the engine receives events its service sends
 * (POST /v1/inbound/{connectorId}/{connectionId}, docs/api.md "Inbound events"). The engine reads the
 * raw body (capped), hands it here untouched, and stores what `receive` extracts. A hook verifies
 * before it parses anything: nothing in the body is trusted until the signature over its exact bytes
 * has been checked.
 */

/** The request as it arrived. */
export interface InboundRequest {
  /** The exact bytes received: signatures are computed over these, never over a re-serialized body. */
  rawBody: Buffer;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The absolute URL the service was given and called: the connection's `inboundUrl` plus the query string received. */
  url: string;
}

/** What the hook may use to verify: the connection's credentials and the operator's app-level secret. */
export interface InboundContext {
  /** The connection's stored credentials, opened (e.g. Resend's `webhookSecret`, Twilio's `authToken`). */
  credentials: Readonly<Record<string, string>>;
  /** The operator's `<ID>_SIGNING_SECRET`, for services that sign with one secret per app (Slack); undefined when unset. */
  signingSecret: string | undefined;
  nowMs: number;
}

/** A response to send as it is (a handshake's answer, or the acknowledgement the service expects). */
export interface InboundReply {
  status: number;
  contentType: string;
  body: string;
}

export type InboundVerdict =
  /** The signature is missing, wrong or stale, or the secret to check it is not configured: 401, nothing stored. `reason` is logged, never sent. */
  | { kind: 'rejected'; reason: string }
  /** A verified handshake (Slack's url_verification): answered with `reply`, nothing stored. */
  | { kind: 'handshake'; reply: InboundReply }
  /** A verified event whose body the hook could not read as its service's format: 400, nothing stored. */
  | { kind: 'malformed'; reason: string }
  /**
   * A verified event. `eventId` is the service's own id, the same on every redelivery (the dedupe
   * key); `type` is `<connector id>.<the service's type>`; `payload` is the body, parsed.
   */
  | { kind: 'event'; eventId: string; type: string; payload: unknown };

export interface InboundHook {
  /**
   * The operator setting `<ID>_SIGNING_SECRET` this connector reads (docs/operations.md), with what
   * it is; absent when the secrets are per connection (credential fields).
   */
  signingSecret?: { description: string };
  /** The event types `receive` produces, for the docs and for webhooks' subscriptions (`<connector id>.` prefixed). */
  eventTypes: readonly string[];
  /** What the service gets back for an accepted event (also for a redelivery); default 200 `{"received":true}`. */
  ack?: InboundReply;
  receive(request: InboundRequest, context: InboundContext): InboundVerdict;
}
