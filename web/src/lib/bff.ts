import "server-only";

import { cache } from "react";

import { apiRequest, type ApiResult } from "./api-client";
import type { components } from "./bff-api";
import { bffUrl, ConfigError } from "./env";
import { getLogger } from "./log/logger";
import { childTraceparent, currentRequest, newRequestId } from "./log/request-context";
import { makeProblem } from "./problem";

/** The BFF as server components see it: typed calls to `BFF_URL`, read per request. */

type Schemas = components["schemas"];
export type CatalogItem = Schemas["CatalogItem"];
export type ItemPage = Schemas["CatalogItemPage"];
export type Order = Schemas["OrdersOrder"];
export type OrderCreate = Schemas["OrdersOrderCreate"];

export const PAGE_SIZE = 12;

const log = getLogger("web.bff");

/** What a call sends to join the page request's logs: its request id and a child traceparent. */
type CallIds = { requestId?: string; traceparent?: string };

/**
 * Runs `call` against the configured BFF with the page request's id and a child of its trace;
 * a bad BFF_URL becomes a 500 result, not a crash. Failed calls are logged (`web.bff`).
 */
async function withBff<T>(
  operation: string,
  call: (base: string, ids: CallIds) => Promise<ApiResult<T>>,
): Promise<ApiResult<T>> {
  const request = currentRequest();
  let base: string;
  try {
    base = bffUrl();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error(err.message, { data: { operation } });
    const problem = makeProblem(500, "Misconfigured", "The site's address for its services is not configured correctly.");
    return { ok: false, status: 500, problem, requestId: request?.requestId ?? newRequestId() };
  }
  const ids: CallIds = request ? { requestId: request.requestId, traceparent: childTraceparent(request) } : {};
  const started = performance.now();
  const result = await call(base, ids);
  if (!result.ok && result.status >= 500) {
    log.warning(`BFF call failed: ${operation} ${result.status} ${result.problem.title}`, {
      data: {
        operation,
        status: result.status,
        title: result.problem.title,
        bff_request_id: result.requestId,
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      },
    });
  }
  return result;
}

/** One page of the catalog, optionally filtered by a search term. */
export function listItems({ page, q }: { page: number; q: string }): Promise<ApiResult<ItemPage>> {
  return withBff("GET /api/catalog/items", (base, ids) =>
    apiRequest(base, "get", "/api/catalog/items", {
      query: { page, page_size: PAGE_SIZE, q: q || undefined },
      ...ids,
    }),
  );
}

/** One catalog item; deduplicated within a request (metadata and page share it). */
export const getItem = cache(
  (id: number): Promise<ApiResult<CatalogItem>> =>
    withBff("GET /api/catalog/items/{item_id}", (base, ids) =>
      apiRequest(base, "get", "/api/catalog/items/{item_id}", { path: { item_id: id }, ...ids }),
    ),
);

/** One order; deduplicated within a request. */
export const getOrder = cache(
  (id: number): Promise<ApiResult<Order>> =>
    withBff("GET /api/orders/{order_id}", (base, ids) =>
      apiRequest(base, "get", "/api/orders/{order_id}", { path: { order_id: id }, ...ids }),
    ),
);
