import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes, randomUUID } from "node:crypto";

import { scrubText } from "./scrub";

/**
 * The request id and W3C trace context of the request the Next.js server is handling, kept in
 * an AsyncLocalStorage entered once per request (see `http-hook.ts`), so every log record and
 * every BFF call a render makes carries the same ids without passing them around.
 */

export type RequestContext = {
  requestId: string;
  traceId: string;
  /** This server's span for the request: the parent of every call it makes. */
  spanId: string;
  flags: string;
};

// One store per process: Next.js bundles this module into several chunks (instrumentation,
// pages, route handlers), and each copy must see the context the request hook entered.
const STORE = Symbol.for("web.log.request-context");
const holder = globalThis as typeof globalThis & { [STORE]?: AsyncLocalStorage<RequestContext> };
const storage = (holder[STORE] ??= new AsyncLocalStorage<RequestContext>());

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** A fresh request id: 32 hex characters, like logship's `new_request_id`. */
export function newRequestId(): string {
  return randomUUID().replace(/-/g, "");
}

function newSpanId(): string {
  return randomBytes(8).toString("hex");
}

/**
 * A client's `X-Request-ID` if it is 1-128 of `[A-Za-z0-9._-]` and no personal-data rule would
 * change it (a card number or a JWT fits that alphabet, and request ids are logged unscrubbed),
 * otherwise a fresh id: logship's `context.request_id_from`, shared by every service.
 */
export function requestIdFrom(value: string | null | undefined): string {
  if (value && REQUEST_ID.test(value) && scrubText(value) === value) return value;
  return newRequestId();
}

/** Continue a valid W3C `traceparent` (version 00, non-zero ids) with a new span, or start a trace. */
export function contextFrom(requestIdHeader: string | null | undefined, traceparent: string | null | undefined): RequestContext {
  const requestId = requestIdFrom(requestIdHeader);
  const match = TRACEPARENT.exec((traceparent ?? "").trim().toLowerCase());
  if (match && match[1] !== ZERO_TRACE && match[2] !== ZERO_SPAN) {
    return { requestId, traceId: match[1]!, spanId: newSpanId(), flags: match[3]! };
  }
  return { requestId, traceId: randomBytes(16).toString("hex"), spanId: newSpanId(), flags: "01" };
}

/** This server's own `traceparent` for the request (what a render's code sees as its parent). */
export function serverTraceparent(context: RequestContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.flags}`;
}

/** A `traceparent` for one outgoing call: the same trace, a new span id. */
export function childTraceparent(context: RequestContext): string {
  return `00-${context.traceId}-${newSpanId()}-${context.flags}`;
}

/** Run `fn` with `context` as the current request. */
export function runWithRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The request being handled, if any. */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}
