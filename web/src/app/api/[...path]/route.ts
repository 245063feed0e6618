import { bffUrl, ConfigError } from "@/lib/env";
import { getLogger } from "@/lib/log/logger";
import { childTraceparent, contextFrom, currentRequest, type RequestContext } from "@/lib/log/request-context";
import { makeProblem, REQUEST_ID_HEADER } from "@/lib/problem";

/**
 * Same-origin `/api/*` pass-through to `${BFF_URL}/api/*`, resolved per request.
 *
 * In production the load balancer sends /api/* straight to the BFF; this
 * handler serves `next dev`, `next start` and the standalone server.
 */

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** Time allowed for the BFF to start answering (response headers). */
const UPSTREAM_TIMEOUT_MS = 30_000;

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/**
 * Codings that fetch (undici) decodes by itself. It then still reports the
 * original content-encoding/content-length, which would be wrong for the
 * decoded bytes we forward. Unknown codings are left untouched by undici.
 */
const DECODED_BY_FETCH = new Set(["gzip", "x-gzip", "deflate", "br"]);

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

/** Node's fetch needs `duplex: "half"` to send a streamed body; the DOM typings lack it. */
type StreamingRequestInit = RequestInit & { duplex: "half" };

function stripHopByHop(headers: Headers): void {
  const named = (headers.get("connection") ?? "").split(",").map((h) => h.trim().toLowerCase());
  for (const name of [...HOP_BY_HOP, ...named]) if (name) headers.delete(name);
}

const log = getLogger("web.api");

function upstreamRequestHeaders(req: Request, url: URL, request: RequestContext): Headers {
  const headers = new Headers(req.headers);
  stripHopByHop(headers);
  headers.delete("host");
  headers.delete("expect");
  // Ask for an uncompressed answer: bytes then pass through unchanged.
  headers.set("accept-encoding", "identity");
  // The checked request id and a child of this request's span; tracestate passes through.
  headers.set(REQUEST_ID_HEADER, request.requestId);
  headers.set("traceparent", childTraceparent(request));
  // The Next server fills x-forwarded-for from the socket when it is absent.
  const forwardedFor = req.headers.get("x-forwarded-for");
  if (forwardedFor) headers.set("x-forwarded-for", forwardedFor);
  headers.set("x-forwarded-proto", req.headers.get("x-forwarded-proto") ?? url.protocol.replace(":", ""));
  headers.set("x-forwarded-host", req.headers.get("x-forwarded-host") ?? req.headers.get("host") ?? url.host);
  return headers;
}

function downstreamResponseHeaders(upstream: Response, base: string): Headers {
  const headers = new Headers();
  upstream.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.set(name, value);
  });
  for (const cookie of upstream.headers.getSetCookie()) headers.append("set-cookie", cookie);
  stripHopByHop(headers);

  const codings = (headers.get("content-encoding") ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== "identity");
  if (codings.length > 0 && codings.every((c) => DECODED_BY_FETCH.has(c))) {
    headers.delete("content-encoding");
    headers.delete("content-length");
  }

  // Keep redirects on this origin when the BFF answers with absolute URLs.
  const location = headers.get("location");
  if (location?.startsWith(`${base}/`)) headers.set("location", location.slice(base.length));
  return headers;
}

function problemResponse(status: number, title: string, detail: string, requestId: string): Response {
  return new Response(JSON.stringify(makeProblem(status, title, detail)), {
    status,
    headers: {
      "content-type": "application/problem+json",
      "cache-control": "no-store",
      [REQUEST_ID_HEADER]: requestId,
    },
  });
}

async function proxy(req: Request): Promise<Response> {
  // The request hook has checked the id already; the fallback applies the same rule.
  const request =
    currentRequest() ?? contextFrom(req.headers.get(REQUEST_ID_HEADER), req.headers.get("traceparent"));
  const requestId = request.requestId;
  const url = new URL(req.url);

  let base: string;
  try {
    base = bffUrl();
  } catch (err) {
    log.error(err instanceof ConfigError ? err.message : "BFF_URL could not be read", { error: err });
    return problemResponse(500, "Internal Server Error", "The API address is misconfigured.", requestId);
  }
  // url.pathname keeps the client's percent-encoding (unlike route params).
  const target = `${base}${url.pathname}${url.search}`;

  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), UPSTREAM_TIMEOUT_MS);
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;

  const init: StreamingRequestInit = {
    method: req.method,
    headers: upstreamRequestHeaders(req, url, request),
    body: hasBody ? req.body : undefined,
    duplex: "half",
    redirect: "manual",
    cache: "no-store",
    signal: AbortSignal.any([timeout.signal, req.signal]),
  };

  let upstream: Response;
  try {
    upstream = await fetch(target, init);
  } catch (err) {
    if (timeout.signal.aborted) {
      return problemResponse(504, "Gateway Timeout", "The API did not answer in time.", requestId);
    }
    if (req.signal.aborted) {
      return problemResponse(502, "Bad Gateway", "The client went away.", requestId);
    }
    log.warning(`proxy ${req.method} /api/[...path] failed: the BFF could not be reached`, {
      error: err,
      data: { method: req.method, status: 502 },
    });
    return problemResponse(502, "Bad Gateway", "The API could not be reached.", requestId);
  } finally {
    clearTimeout(timer);
  }

  return new Response(NULL_BODY_STATUS.has(upstream.status) ? null : upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: downstreamResponseHeaders(upstream, base),
  });
}

export {
  proxy as GET,
  proxy as HEAD,
  proxy as POST,
  proxy as PUT,
  proxy as PATCH,
  proxy as DELETE,
  proxy as OPTIONS,
};
