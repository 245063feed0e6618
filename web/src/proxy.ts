import { NextResponse, type NextRequest } from "next/server";

import { apiRequest } from "@/lib/api-client";
import { bffUrl, ConfigError } from "@/lib/env";
import { parseId } from "@/lib/format";

/**
 * 404s for a product or an order that does not exist, with the not-found page in the server's
 * HTML. A page that calls `notFound()` answers 404 with an empty `<html id="__next_error__">`
 * whose content appears only once client JavaScript runs (vercel/next.js#62228, Next 16 in dev
 * and production alike), while an address no route matches is rendered on the server. So the
 * missing case is settled here, before rendering, and rewritten to such an address; the root
 * not-found page words it by the kind of resource the proxy names in a request header. The pages keep `notFound()`
 * for what changes between this check and their own fetch.
 *
 * Only `GET`s of `/products/<id>` and `/orders/<id>` pass through here (see `config`), so no
 * request body is ever buffered. When the BFF cannot answer, the page renders as usual and
 * shows its own problem notice.
 */

/** An address no route matches: Next renders the root not-found page there, with status 404. */
export const MISSING_PATH = "/_missing";
/** The request header that tells the root not-found page what is missing. */
export const MISSING_HEADER = "x-missing-resource";

const RESOURCE = /^\/(products|orders)\/([^/]+)$/;

/** Which resource a page address names, or null for any other address. */
export function resourceOf(pathname: string): { kind: "products" | "orders"; id: number | null } | null {
  const match = RESOURCE.exec(pathname);
  if (!match) return null;
  let segment: string;
  try {
    segment = decodeURIComponent(match[2] ?? "");
  } catch {
    segment = "";
  }
  return { kind: match[1] === "orders" ? "orders" : "products", id: parseId(segment) };
}

async function exists(kind: "products" | "orders", id: number, request: NextRequest): Promise<boolean> {
  let base: string;
  try {
    base = bffUrl();
  } catch (err) {
    if (err instanceof ConfigError) return true; // the page reports the configuration problem
    throw err;
  }
  const ids = {
    requestId: request.headers.get("x-request-id") ?? undefined,
    traceparent: request.headers.get("traceparent") ?? undefined,
  };
  const result =
    kind === "products"
      ? await apiRequest(base, "get", "/api/catalog/items/{item_id}", { path: { item_id: id }, ...ids })
      : await apiRequest(base, "get", "/api/orders/{order_id}", { path: { order_id: id }, ...ids });
  return result.ok || result.status !== 404;
}

export async function proxy(request: NextRequest): Promise<NextResponse> {
  const resource = request.method === "GET" ? resourceOf(request.nextUrl.pathname) : null;
  if (resource === null) return NextResponse.next();
  if (resource.id !== null && (await exists(resource.kind, resource.id, request))) return NextResponse.next();
  const headers = new Headers(request.headers);
  headers.set(MISSING_HEADER, resource.kind);
  return NextResponse.rewrite(new URL(MISSING_PATH, request.url), { request: { headers } });
}

export const config = { matcher: ["/products/:id", "/orders/:id"] };
