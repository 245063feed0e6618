import "server-only";

import { createHash, timingSafeEqual } from "node:crypto";

import { bffUrl, ConfigError, isProduction, opsToken } from "./env";
import {
  isClientErrors,
  isErrorGroupPage,
  isIncident,
  isOpsSummary,
  isResolution,
  isTraffic,
  type ClientErrors,
  type ErrorGroupPage,
  type GroupStatus,
  type Incident,
  type OpsSummary,
  type Resolution,
  type Traffic,
} from "./ops";
import { isProblem, makeProblem, newRequestId, REQUEST_ID_HEADER, type Problem } from "./problem";

/** Server-side access to the BFF's ops API, and the /ops sign-in cookie. */

export const OPS_COOKIE = "ops_session";
const TIMEOUT_MS = 12_000; // the BFF gives CloudWatch up to 8 s per query (incidents)

/** `receivedAt`: when the answer arrived (epoch ms), the "now" its relative times are shown against. */
export type OpsResult<T> = { ok: true; data: T; receivedAt: number } | { ok: false; problem: Problem };

export type OpsAccess = "open" | "signed-in" | "sign-in" | "hidden";

/** The cookie value for `token`: a digest, so the cookie never carries the token itself. */
export function sessionValue(token: string): string {
  return createHash("sha256").update(`ops-session:${token}`).digest("hex");
}

/** Constant-time equality of two strings (compared as SHA-256 digests, so lengths may differ). */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * Who may see /ops: open when no token is configured (development), hidden (404) in production
 * without a token, otherwise signed in when the cookie matches.
 */
export function opsAccess(cookieValue: string | undefined): OpsAccess {
  let token: string | null;
  try {
    token = opsToken();
  } catch (err) {
    if (err instanceof ConfigError) console.error(err.message);
    return "hidden";
  }
  if (token === null) return isProduction() ? "hidden" : "open";
  return cookieValue !== undefined && sameSecret(cookieValue, sessionValue(token)) ? "signed-in" : "sign-in";
}

async function getOps<T>(path: string, guard: (v: unknown) => v is T, method: "GET" | "PUT" | "DELETE" = "GET"): Promise<OpsResult<T>> {
  let url: string;
  let token: string | null;
  try {
    url = `${bffUrl()}/api/ops${path}`;
    token = opsToken();
  } catch (err) {
    if (err instanceof ConfigError) console.error(err.message);
    return { ok: false, problem: makeProblem(500, "Misconfigured", "The BFF address or ops token is not configured correctly.") };
  }
  const headers: Record<string, string> = { accept: "application/json", [REQUEST_ID_HEADER]: newRequestId() };
  if (token) headers["authorization"] = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const timedOut = err instanceof Error && err.name === "TimeoutError";
    return {
      ok: false,
      problem: timedOut
        ? makeProblem(504, "Gateway Timeout", "The BFF took too long to answer.")
        : makeProblem(502, "Bad Gateway", "The BFF could not be reached."),
    };
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    return { ok: false, problem: isProblem(body) ? body : makeProblem(res.status, res.statusText || "Error", `The BFF answered ${res.status}.`) };
  }
  if (!guard(body)) return { ok: false, problem: makeProblem(502, "Bad Gateway", "The BFF answered with an unexpected shape.") };
  return { ok: true, data: body, receivedAt: Date.now() };
}

export const getSummary = () => getOps<OpsSummary>("/summary", isOpsSummary);
export const getClientErrors = (sinceMinutes: number, status: GroupStatus) =>
  getOps<ClientErrors>(`/client-errors?since=${sinceMinutes}&status=${status}`, isClientErrors);
export const getErrorGroup = (fingerprint: string) =>
  getOps<ErrorGroupPage>(`/client-errors/${encodeURIComponent(fingerprint)}`, isErrorGroupPage);
/** Resolve (`true`) or reopen (`false`) one error group. */
export const setResolution = (fingerprint: string, resolved: boolean) =>
  getOps<Resolution>(`/client-errors/${encodeURIComponent(fingerprint)}/resolution`, isResolution, resolved ? "PUT" : "DELETE");
export const getTraffic = (minutes: number) => getOps<Traffic>(`/traffic?minutes=${minutes}`, isTraffic);
export const getIncident = (code: string) => getOps<Incident>(`/incidents/${encodeURIComponent(code)}`, isIncident);
