import "server-only";

import { createHash, timingSafeEqual } from "node:crypto";

import { apiRequest, type ApiResult } from "./api-client";
import { bffUrl, ConfigError, isProduction, opsToken } from "./env";
import { childTraceparent, currentRequest } from "./log/request-context";
import { isClientErrors, isErrorGroupPage, isIncident, isOpsSummary, isResolution, isTraffic, type GroupStatus } from "./ops";
import { makeProblem, type Problem } from "./problem";

/** Server-side access to the BFF's ops API (through `apiRequest`, the site's one fetch helper), and the /ops sign-in cookie. */

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

type CallOptions = { requestId?: string; traceparent?: string; headers: Record<string, string>; timeoutMs: number };

/**
 * One ops call through the site's fetch helper (`apiRequest`), with the page request's id and a
 * child of its trace, and the ops token. The answer is checked by `guard` before the page uses it:
 * its type is the BFF's model, but the page does not trust the wire.
 */
async function callOps<T>(
  call: (base: string, options: CallOptions) => Promise<ApiResult<unknown>>,
  guard: (v: unknown) => v is T,
): Promise<OpsResult<T>> {
  let base: string;
  let token: string | null;
  try {
    base = bffUrl();
    token = opsToken();
  } catch (err) {
    if (err instanceof ConfigError) console.error(err.message);
    return { ok: false, problem: makeProblem(500, "Misconfigured", "The BFF address or ops token is not configured correctly.") };
  }
  const request = currentRequest();
  const options: CallOptions = {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    timeoutMs: TIMEOUT_MS,
    ...(request ? { requestId: request.requestId, traceparent: childTraceparent(request) } : {}),
  };
  const result = await call(base, options);
  if (!result.ok) return { ok: false, problem: result.problem };
  if (!guard(result.data)) return { ok: false, problem: makeProblem(502, "Bad Gateway", "The BFF answered with an unexpected shape.") };
  return { ok: true, data: result.data, receivedAt: Date.now() };
}

export const getSummary = () => callOps((base, o) => apiRequest(base, "get", "/api/ops/summary", o), isOpsSummary);
export const getClientErrors = (sinceMinutes: number, status: GroupStatus) =>
  callOps((base, o) => apiRequest(base, "get", "/api/ops/client-errors", { ...o, query: { since: sinceMinutes, status } }), isClientErrors);
export const getErrorGroup = (fingerprint: string) =>
  callOps((base, o) => apiRequest(base, "get", "/api/ops/client-errors/{fingerprint}", { ...o, path: { fingerprint } }), isErrorGroupPage);
/** Resolve (`true`) or reopen (`false`) one error group. */
export const setResolution = (fingerprint: string, resolved: boolean) =>
  callOps(
    (base, o) => apiRequest(base, resolved ? "put" : "delete", "/api/ops/client-errors/{fingerprint}/resolution", { ...o, path: { fingerprint } }),
    isResolution,
  );
export const getTraffic = (minutes: number) =>
  callOps((base, o) => apiRequest(base, "get", "/api/ops/traffic", { ...o, query: { minutes } }), isTraffic);
export const getIncident = (code: string) =>
  callOps((base, o) => apiRequest(base, "get", "/api/ops/incidents/{code}", { ...o, path: { code } }), isIncident);
