import type { paths } from "./bff-api";
import { isProblem, isRecord, makeProblem, newRequestId, REQUEST_ID_HEADER, type Problem } from "./problem";

/**
 * Typed calls to the BFF, usable on the server (base = BFF_URL) and in the browser (base = "",
 * the site's own origin). Every type comes from `bff-api.d.ts`, generated from the OpenAPI
 * snapshot: a changed API breaks `tsc`, not the page.
 */

type Method = "get" | "post" | "put" | "delete";

/** Paths of the API that have an operation for `M`. */
export type PathWith<M extends Method> = {
  [P in keyof paths]: paths[P][M] extends { responses: unknown } ? P : never;
}[keyof paths];

type Operation<P extends keyof paths, M extends Method> = Extract<paths[P][M], { responses: unknown }>;

type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Q : never;
type PathParamsOf<O> = O extends { parameters: { path: infer T } } ? T : never;
type BodyOf<O> = O extends { requestBody: { content: { "application/json": infer B } } } ? B : never;
type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : never;

/** The JSON body of the operation's 2xx responses. */
export type SuccessOf<O> = O extends { responses: infer R }
  ? { [S in keyof R]: S extends 200 | 201 ? JsonOf<R[S]> : never }[keyof R]
  : never;

type Options<O> = ([PathParamsOf<O>] extends [never] ? { path?: undefined } : { path: PathParamsOf<O> }) &
  ([QueryOf<O>] extends [never] ? { query?: undefined } : { query?: QueryOf<O> }) &
  ([BodyOf<O>] extends [never] ? { body?: undefined } : { body: BodyOf<O> }) & {
    requestId?: string;
    /** W3C trace context for the call (the server sends a child of its request's span). */
    traceparent?: string;
    /** Credentials such as `authorization`; never overrides the headers set here. */
    headers?: Record<string, string>;
    timeoutMs?: number;
    signal?: AbortSignal;
  };

export type ApiResult<T> =
  | { ok: true; status: number; data: T; requestId: string }
  | { ok: false; status: number; problem: Problem; requestId: string };

type QueryValue = string | number | boolean | null | undefined;

/** `base` + the path template with `{name}` filled in (each value percent-encoded) + the query. */
export function buildUrl(
  base: string,
  template: string,
  pathParams?: Record<string, string | number>,
  query?: Record<string, QueryValue>,
): string {
  const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = pathParams?.[name];
    if (value === undefined) throw new TypeError(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const qs = search.toString();
  return `${base.replace(/\/+$/, "")}${path}${qs ? `?${qs}` : ""}`;
}

const DEFAULT_TIMEOUT_MS = 8_000;

/** Headers `apiRequest` sets itself; a caller's `headers` never replace them. */
const OWN_HEADERS = new Set(["accept", REQUEST_ID_HEADER, "traceparent", "content-type", "content-length"]);

function isJsonMediaType(contentType: string | null): boolean {
  const media = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"));
}

/**
 * Maps a finished exchange to a result. Non-2xx: the body if it is problem+json, else a problem
 * named after the status. 2xx without a JSON object: 502, since the page cannot use it.
 */
export async function readResult<T>(res: Response, sentRequestId: string): Promise<ApiResult<T>> {
  const requestId = res.headers.get(REQUEST_ID_HEADER) || sentRequestId;
  let body: unknown = undefined;
  if (isJsonMediaType(res.headers.get("content-type"))) {
    body = await res.json().catch(() => undefined);
  } else {
    await res.body?.cancel().catch(() => undefined);
  }
  if (!res.ok) {
    const problem = isProblem(body)
      ? body
      : makeProblem(res.status, res.statusText || "Error", `The service answered with status ${res.status}.`);
    return { ok: false, status: res.status, problem, requestId: problem.request_id || requestId };
  }
  if (!isRecord(body)) {
    return {
      ok: false,
      status: 502,
      problem: makeProblem(502, "Bad Gateway", "The service sent a response the site could not read."),
      requestId,
    };
  }
  return { ok: true, status: res.status, data: body as T, requestId };
}

/** One typed call: `apiRequest(base, "get", "/api/catalog/items/{item_id}", { path: { item_id: 3 } })`. */
export async function apiRequest<M extends Method, P extends PathWith<M>>(
  base: string,
  method: M,
  path: P,
  options: Options<Operation<P, M>>,
  fetchImpl: typeof fetch = fetch,
): Promise<ApiResult<SuccessOf<Operation<P, M>>>> {
  const requestId = options.requestId ?? newRequestId();
  const url = buildUrl(
    base,
    path,
    options.path as Record<string, string | number> | undefined,
    options.query as Record<string, QueryValue> | undefined,
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!OWN_HEADERS.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
  }
  headers["accept"] = "application/json";
  headers[REQUEST_ID_HEADER] = requestId;
  if (options.traceparent) headers["traceparent"] = options.traceparent;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: method.toUpperCase(),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
      signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
    });
  } catch {
    const problem = timeout.aborted
      ? makeProblem(504, "Gateway Timeout", "The service did not answer in time.")
      : makeProblem(502, "Bad Gateway", "The service could not be reached.");
    return { ok: false, status: problem.status, problem, requestId };
  }
  try {
    return await readResult(res, requestId);
  } catch {
    const problem = makeProblem(502, "Bad Gateway", "The connection broke while the answer was read.");
    return { ok: false, status: 502, problem, requestId };
  }
}
