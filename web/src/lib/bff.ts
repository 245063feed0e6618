import "server-only";

import { cache } from "react";

import { apiRequest, type ApiResult } from "./api-client";
import type { components } from "./bff-api";
import { bffUrl, ConfigError } from "./env";
import { makeProblem, newRequestId } from "./problem";

/** The BFF as server components see it: typed calls to `BFF_URL`, read per request. */

type Schemas = components["schemas"];
export type CatalogItem = Schemas["CatalogItem"];
export type ItemPage = Schemas["CatalogItemPage"];
export type Order = Schemas["OrdersOrder"];
export type OrderCreate = Schemas["OrdersOrderCreate"];

export const PAGE_SIZE = 12;

/** Runs `call` against the configured BFF; a bad BFF_URL becomes a 500 result, not a crash. */
async function withBff<T>(call: (base: string) => Promise<ApiResult<T>>): Promise<ApiResult<T>> {
  let base: string;
  try {
    base = bffUrl();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    const problem = makeProblem(500, "Misconfigured", "The site's address for its services is not configured correctly.");
    return { ok: false, status: 500, problem, requestId: newRequestId() };
  }
  const result = await call(base);
  if (!result.ok && result.status >= 500) {
    console.error(`BFF call failed: ${result.status} ${result.problem.title} (request ${result.requestId})`);
  }
  return result;
}

/** One page of the catalog, optionally filtered by a search term. */
export function listItems({ page, q }: { page: number; q: string }): Promise<ApiResult<ItemPage>> {
  return withBff((base) =>
    apiRequest(base, "get", "/api/catalog/items", {
      query: { page, page_size: PAGE_SIZE, q: q || undefined },
    }),
  );
}

/** One catalog item; deduplicated within a request (metadata and page share it). */
export const getItem = cache(
  (id: number): Promise<ApiResult<CatalogItem>> =>
    withBff((base) => apiRequest(base, "get", "/api/catalog/items/{item_id}", { path: { item_id: id } })),
);

/** One order; deduplicated within a request. */
export const getOrder = cache(
  (id: number): Promise<ApiResult<Order>> =>
    withBff((base) => apiRequest(base, "get", "/api/orders/{order_id}", { path: { order_id: id } })),
);
