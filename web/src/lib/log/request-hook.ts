import "server-only";

import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";

import { callerLocation, getLogger } from "./logger";
import { contextFrom, runWithRequest, serverTraceparent, type RequestContext } from "./request-context";
import { routeOf } from "./route-table";
import { queryShape, scrubPath } from "./scrub";

/**
 * Every request the Next.js server handles (pages, route handlers, the `/api` pass-through,
 * static files) runs inside its request context, and ends with one `web.access` record.
 *
 * The hook sits on `http.Server`'s `request` event, before Next.js sees the request, so request
 * bodies are not touched (a `proxy.ts` would buffer them, up to 10 MB). The request's
 * `x-request-id` and `traceparent` headers are replaced by the checked id and this server's
 * span, so everything downstream (route handlers, `onRequestError`) reads the same values; the
 * response carries `X-Request-ID` and `Server-Timing: rid;desc="<id>"`, which the page's scripts
 * can read for the document (the browser reporter and the error notice use it).
 */

const HOOKED = Symbol.for("web.log.request-hook");
const access = getLogger("web.access");
// Every access record is written from the same place: its location is read from the stack once.
let accessLocation: ReturnType<typeof callerLocation> | undefined;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function splitUrl(url: string | undefined): { pathname: string; search: string } {
  const raw = url ?? "/";
  const mark = raw.indexOf("?");
  return mark < 0 ? { pathname: raw, search: "" } : { pathname: raw.slice(0, mark), search: raw.slice(mark + 1) };
}

/** Set up the request's context and the access record written when the response ends. */
export function beginRequest(req: IncomingMessage, res: ServerResponse): RequestContext {
  const started = performance.now();
  const context = contextFrom(header(req, "x-request-id"), header(req, "traceparent"));
  req.headers["x-request-id"] = context.requestId;
  req.headers["traceparent"] = serverTraceparent(context);
  res.setHeader("x-request-id", context.requestId);
  res.setHeader("server-timing", `rid;desc="${context.requestId}"`);
  const socket = req.socket;
  const bytesBefore = socket?.bytesWritten ?? 0;
  let done = false;
  const finish = (aborted: boolean): void => {
    if (done) return;
    done = true;
    try {
      accessLocation ??= callerLocation(callerLocation);
      const { pathname, search } = splitUrl(req.url);
      const route = routeOf(pathname);
      const status = aborted && !res.headersSent ? 499 : res.statusCode;
      const method = (req.method ?? "").slice(0, 16);
      const level = aborted || status >= 500 ? "WARNING" : "INFO";
      access.log(
        level,
        `${method} ${route} ${status}`,
        {
          requestId: context.requestId,
          traceId: context.traceId,
          data: {
            method,
            route,
            path: scrubPath(pathname.slice(0, 2048)),
            query: queryShape(search.slice(0, 4096)),
            status,
            duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
            bytes_out: Math.max(0, (socket?.bytesWritten ?? 0) - bytesBefore),
            client_ip: socket?.remoteAddress ?? null,
            user_agent: (header(req, "user-agent") ?? "").slice(0, 512) || null,
            aborted,
          },
        },
        accessLocation,
      );
    } catch {
      // an access record must never break the response
    }
  };
  res.once("finish", () => finish(false));
  res.once("close", () => finish(!res.writableFinished));
  return context;
}

type Emit = (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;

/** Install the hook on every `http.Server` of this process; idempotent. */
export function installRequestHook(): void {
  const proto = http.Server.prototype as unknown as { emit: Emit; [HOOKED]?: boolean };
  if (proto[HOOKED]) return;
  proto[HOOKED] = true;
  const original = proto.emit;
  proto.emit = function emit(this: http.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== "request") return original.call(this, event, ...args);
    let context: RequestContext;
    try {
      context = beginRequest(args[0] as IncomingMessage, args[1] as ServerResponse);
    } catch {
      return original.call(this, event, ...args);
    }
    return runWithRequest(context, () => original.call(this, event, ...args));
  };
}
