import "server-only";

import { bffUrl } from "./env";
import { incidentFromDigest, newIncidentCode } from "./incident";
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

/** Post a server error to the BFF's `/api/client-errors`; never throws, gives up after 2 s. */
export async function reportServerError(
  error: unknown,
  request: RequestInfo,
  context: ErrorContext,
): Promise<void> {
  try {
    const report = serverReport(error, request, context);
    const headers: Record<string, string> = { "content-type": "application/json" };
    const userAgent = header(request.headers, "user-agent");
    if (userAgent) headers["user-agent"] = userAgent;
    const requestId = header(request.headers, "x-request-id");
    if (/^[A-Za-z0-9._-]{1,128}$/.test(requestId)) headers["x-request-id"] = requestId;
    const res = await fetch(`${bffUrl()}/api/client-errors`, {
      method: "POST",
      headers,
      body: JSON.stringify(report),
      cache: "no-store",
      signal: AbortSignal.timeout(SERVER_REPORT_TIMEOUT_MS),
    });
    const answer = (await res.text()).slice(0, 500);
    if (res.status >= 300) console.error(`error report ${report.incident} refused: ${res.status} ${answer}`);
  } catch (err) {
    console.error(`error report not delivered: ${err instanceof Error ? err.message : String(err)}`);
  }
}
