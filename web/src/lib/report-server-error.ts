import "server-only";

import { bffUrl } from "./env";
import { incidentFromDigest, newIncidentCode } from "./incident";
import { getLogger } from "./log/logger";
import { childTraceparent, contextFrom, currentRequest } from "./log/request-context";
import { RELEASE } from "./release";
import type { ErrorReport } from "./report-error";
import { symbolicateServerStack } from "./server-stack";

/** Server reports give up after this long: a slow BFF must never hold a request's error path. */
export const SERVER_REPORT_TIMEOUT_MS = 2_000;

type RequestInfo = { path: string; method: string; headers: Record<string, string | string[] | undefined> };
type ErrorContext = { routePath?: string; routeType?: string };

function header(headers: RequestInfo["headers"], name: string): string {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

/** A server report: no browser session, breadcrumbs or failed calls. */
export type ServerReport = Omit<ErrorReport, "session">;

/** The report (format v1, kind "server") for an error Next.js caught while serving `request`. */
export function serverReport(error: unknown, request: RequestInfo, context: ErrorContext): ServerReport {
  const e = error instanceof Error ? error : new Error(String(error));
  const digest = (error as { digest?: unknown } | null)?.digest;
  const host = header(request.headers, "x-forwarded-host") || header(request.headers, "host") || "localhost";
  const proto = header(request.headers, "x-forwarded-proto").split(",")[0]?.trim() || "http";
  const report: ServerReport = {
    v: 1,
    incident: typeof digest === "string" && digest ? incidentFromDigest(digest) : newIncidentCode(),
    kind: "server",
    error: { type: e.name || "Error", message: e.message, stack: symbolicateServerStack(e.stack ?? "") },
    url: `${proto}://${host}${request.path}`,
    route: context.routePath ?? "",
    release: RELEASE,
    breadcrumbs: [],
    request_ids: [],
    ts: Date.now(),
  };
  if (typeof digest === "string" && digest) report.digest = digest;
  return report;
}

const log = getLogger("web.render");

/**
 * Log a server error as one `web.render` record (stack inside, in source terms) and post it to
 * the BFF's `/api/client-errors` with the request's id; never throws, gives up after 2 s.
 */
export async function reportServerError(
  error: unknown,
  request: RequestInfo,
  context: ErrorContext,
): Promise<void> {
  try {
    const report = serverReport(error, request, context);
    // The request hook has replaced the headers with the checked id and its own span.
    const current =
      currentRequest() ?? contextFrom(header(request.headers, "x-request-id"), header(request.headers, "traceparent"));
    log.error(`${context.routeType ?? "request"} error in ${report.route || "?"}: ${report.error.message}`, {
      requestId: current.requestId,
      traceId: current.traceId,
      error: { name: report.error.type, message: report.error.message, stack: report.error.stack },
      data: {
        incident: report.incident,
        digest: report.digest ?? null,
        route: report.route,
        route_type: context.routeType ?? null,
        method: request.method,
      },
    });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-request-id": current.requestId,
      traceparent: childTraceparent(current),
    };
    const userAgent = header(request.headers, "user-agent");
    if (userAgent) headers["user-agent"] = userAgent;
    const res = await fetch(`${bffUrl()}/api/client-errors`, {
      method: "POST",
      headers,
      body: JSON.stringify(report),
      cache: "no-store",
      signal: AbortSignal.timeout(SERVER_REPORT_TIMEOUT_MS),
    });
    const answer = (await res.text()).slice(0, 500);
    if (res.status >= 300) {
      log.warning(`error report ${report.incident} refused: ${res.status}`, { data: { status: res.status, answer } });
    }
  } catch (err) {
    log.warning("error report not delivered", { error: err });
  }
}
