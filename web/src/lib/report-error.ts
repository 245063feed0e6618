/**
 * The browser's error reporter. Global `error` / `unhandledrejection` listeners, React error
 * boundaries and the error pages all feed `reportError`, which posts one report (format v1) per
 * distinct error to the BFF and returns the incident code to show the user.
 *
 * It never throws and never reports its own failures: entry points are guarded, a report raised
 * while one is being built is ignored, and its requests use the fetch captured before the page's
 * fetch is observed. Budget: 2 KiB gzipped (`npm run size`).
 */

import {
  elementSelector,
  keepLast,
  MAX_BREADCRUMBS,
  pathOnly,
  type Breadcrumb,
  type BreadcrumbType,
} from "./breadcrumbs";
import { incidentFromDigest, newIncidentCode } from "./incident";
import { RELEASE } from "./release";

export type ReportKind = "error" | "unhandledrejection" | "boundary" | "server";

export type ErrorReport = {
  v: 1;
  incident: string;
  kind: ReportKind;
  error: { type: string; message: string; stack: string };
  url: string;
  route: string;
  release: string;
  session: string;
  digest?: string;
  breadcrumbs: Breadcrumb[];
  request_ids: string[];
  ts: number;
};

export type ReporterDeps = {
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  sendBeacon?: ((url: string, body: string) => boolean) | undefined;
  /** Per-tab storage; may throw (storage disabled), then state stays in memory. */
  storage?: () => Pick<Storage, "getItem" | "setItem">;
  now?: () => number;
  href?: () => string;
};

export const REPORT_ENDPOINT = "/api/client-errors";
/** Browsers refuse keepalive requests once 64 KiB of their bodies are in flight. */
export const KEEPALIVE_LIMIT = 60_000;
export const MAX_REPORTS_PER_PAGE = 10;
export const MAX_REQUEST_IDS = 10;
export const DEFAULT_BACKOFF_MS = 60_000;
export const BLOCK_KEY = "report-error:until";
const SESSION_KEY = "report-error:session";

const byteLength = (text: string): number => new Blob([text]).size;

function describe(error: unknown): ErrorReport["error"] {
  const e = error as { name?: string; message?: unknown; stack?: string } | null;
  if (typeof e?.message === "string") return { type: e.name || "Error", message: e.message, stack: e.stack || "" };
  let message;
  try {
    message = JSON.stringify(error);
  } catch {
    // circular or BigInt: fall through to the string form
  }
  return { type: "NonError", message: message ?? String(error), stack: "" };
}

/** The first stack line that names a position: errors are the same when it matches. */
export function topFrame(stack: string): string {
  return stack.split("\n").find((line) => /:\d+:\d+/.test(line)) ?? "";
}

/** The report as JSON of at most `limit` UTF-8 bytes: cuts the stack's tail, then old breadcrumbs. */
export function fitReport(report: ErrorReport, limit = KEEPALIVE_LIMIT): string {
  let body = JSON.stringify(report);
  for (let i = 0; i < 64 && byteLength(body) > limit; i++) {
    const { breadcrumbs, error } = report;
    if (error.stack.length > 2000) error.stack = error.stack.slice(0, error.stack.length >> 1);
    else if (breadcrumbs.length) report.breadcrumbs = breadcrumbs.slice((breadcrumbs.length + 1) >> 1);
    else {
      for (const part of [report, error] as unknown as Record<string, unknown>[]) {
        for (const key in part) if (typeof part[key] === "string") part[key] = (part[key] as string).slice(0, 1000);
      }
    }
    body = JSON.stringify(report);
  }
  return body;
}

/** When a 429's `Retry-After` (seconds or HTTP date) lets sending resume, in epoch ms. */
export function retryAt(retryAfter: string | null, now: number): number {
  const value = retryAfter?.trim() ?? "";
  const date = /^\d+$/.test(value) ? now + +value * 1000 : Date.parse(value);
  return date >= now ? date : now + DEFAULT_BACKOFF_MS;
}

/** A reporter with its edges (fetch, sendBeacon, storage, clock) passed in. */
export function createReporter(deps: ReporterDeps) {
  const now = deps.now ?? Date.now;
  const breadcrumbs: Breadcrumb[] = [];
  const requestIds: string[] = [];
  const incidents = new Map<string, string>();
  const context = { release: "", route: "" };
  let queue: string[] = [];
  let inFlight = 0;
  let blockedUntil = 0;
  let busy = false;
  let session = "";

  const store = (key: string, value?: string): string | null => {
    try {
      const storage = deps.storage?.();
      if (value) storage?.setItem(key, value);
      return storage?.getItem(key) ?? null;
    } catch {
      return null;
    }
  };
  const blocked = (): boolean => now() < Math.max(blockedUntil, Number(store(BLOCK_KEY)) || 0);

  function send(body: string, beacon: boolean): void {
    const size = byteLength(body);
    const keepalive = inFlight + size <= KEEPALIVE_LIMIT;
    const done = (): void => {
      if (keepalive) inFlight -= size;
    };
    try {
      if (blocked() || (beacon && deps.sendBeacon?.(REPORT_ENDPOINT, body))) return;
    } catch {
      // a refused beacon falls back to fetch
    }
    try {
      if (keepalive) inFlight += size;
      deps
        .fetch(REPORT_ENDPOINT, { method: "POST", body, keepalive, headers: { "content-type": "application/json" } })
        .then((res) => {
          if (res.status === 429) store(BLOCK_KEY, String((blockedUntil = retryAt(res.headers.get("retry-after"), now()))));
        })
        .then(done, done);
    } catch {
      done();
    }
  }

  /** Send what is queued: fetch with keepalive, or sendBeacon when the page is going away. */
  function flush(beacon = false): void {
    const items = queue;
    queue = [];
    for (const body of items) send(body, beacon);
  }

  /** Queue a report for `error` unless it repeats one or the page's cap is reached; returns its incident code. */
  function report(error: unknown, kind: ReportKind, digest?: string): string {
    let incident = "";
    if (busy) return "";
    busy = true;
    try {
      incident = digest ? incidentFromDigest(digest) : newIncidentCode();
      const detail = describe(error);
      const key = `${detail.type}\n${detail.message}\n${topFrame(detail.stack)}`;
      const known = incidents.get(key);
      if (known) return known;
      if (incidents.size >= MAX_REPORTS_PER_PAGE) return incident;
      incidents.set(key, incident);
      session ||= store(SESSION_KEY) || store(SESSION_KEY, newIncidentCode()) || newIncidentCode();
      const url = deps.href?.() ?? "";
      const body: ErrorReport = {
        v: 1,
        incident,
        kind,
        error: detail,
        url,
        route: context.route || pathOnly(url),
        release: context.release,
        session,
        breadcrumbs: breadcrumbs.slice(),
        request_ids: requestIds.slice(),
        ts: now(),
      };
      if (digest) body.digest = digest;
      if (queue.push(fitReport(body)) === 1) setTimeout(flush);
    } catch {
      // never let reporting break the page
    } finally {
      busy = false;
    }
    return incident || newIncidentCode();
  }

  return {
    report,
    flush,
    context,
    addBreadcrumb: (type: BreadcrumbType, data: Breadcrumb["data"]) =>
      keepLast(breadcrumbs, { t: now(), type, data }, MAX_BREADCRUMBS),
    /** Remember the X-Request-ID of a failed `/api` call (newest 10). */
    noteRequestId: (id?: string | null) => id && keepLast(requestIds, id, MAX_REQUEST_IDS),
  };
}

export type Reporter = ReturnType<typeof createReporter>;

let reporter: Reporter | undefined;
let installed = false;

function pageReporter(): Reporter | undefined {
  if (typeof window === "undefined") return undefined;
  if (!reporter) {
    reporter = createReporter({
      fetch: fetch.bind(window),
      sendBeacon: (url, body) => navigator.sendBeacon(url, body),
      storage: () => sessionStorage,
      href: () => location.href.replace(/#.*/, ""),
    });
    reporter.context.release = RELEASE;
  }
  return reporter;
}

/** Report an error from anywhere in the page; returns the incident code to show the user. */
export function reportError(error: unknown, kind: ReportKind = "boundary", digest?: string): string {
  return pageReporter()?.report(error, kind, digest) ?? "";
}

/** Add a breadcrumb (navigation, click, fetch) to the page's ring. */
export function addBreadcrumb(type: BreadcrumbType, data: Breadcrumb["data"]): void {
  pageReporter()?.addBreadcrumb(type, data);
}

/** Set the route pattern (e.g. `/products/[id]`) that reports carry. */
export function setReportRoute(route: string): void {
  const current = pageReporter();
  if (current) current.context.route = route;
}

/** Breadcrumb and request id for one fetch; never touches the response body. */
function observeFetch(r: Reporter, [input, init]: Parameters<typeof fetch>, result: Promise<Response>): void {
  const request = input instanceof Request ? input : undefined;
  const url = pathOnly(request?.url ?? String(input), location.href);
  if (/^\/api\/(client-errors|vitals)/.test(url)) return;
  const method = (init?.method ?? request?.method ?? "GET").toUpperCase();
  result
    .then(
      (res) => {
        r.addBreadcrumb("fetch", { method, url, status: res.status });
        if (res.status >= 400 && url.startsWith("/api/")) r.noteRequestId(res.headers.get("x-request-id"));
      },
      () => r.addBreadcrumb("fetch", { method, url, status: 0 }),
    )
    .catch(() => undefined);
}

/** Install the page-wide listeners and the fetch observer, once; reports carry `pageRequestId`. */
export function installErrorReporting(pageRequestId?: string): void {
  const r = pageReporter();
  if (!r || installed) return;
  installed = true;
  r.noteRequestId(pageRequestId);
  addEventListener("error", (event) => r.report(event.error ?? event.message, "error"));
  addEventListener("unhandledrejection", (event) => r.report(event.reason, "unhandledrejection"));
  addEventListener("pagehide", () => r.flush(true));
  addEventListener("click", (event) => r.addBreadcrumb("click", { target: elementSelector(event.target) }), true);
  const original = window.fetch;
  window.fetch = function observedFetch(this: unknown, ...args: Parameters<typeof fetch>) {
    const result = original.apply(this, args);
    try {
      observeFetch(r, args, result);
    } catch {
      // observing must never change what the caller gets
    }
    return result;
  };
}
