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
 * Only `/products/<id>` and `/orders/<id>` pass through here (see `config`), and only their
 * `GET`s are checked. When the BFF cannot answer, the page renders as usual and shows its own
 * problem notice. What the check costs, and why recently seen ones are not checked again, is in
 * `RecentlySeen`.
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

/** How long a product or order seen to exist is not asked about again, and how many are kept. */
export const KNOWN_TTL_MS = 30_000;
export const KNOWN_MAX = 10_000;

/**
 * Products and orders seen to exist recently, with when they were seen: a page view costs the
 * BFF one call, not two, while an address keeps being visited. One that disappears meanwhile is
 * still a 404 (the page's own `notFound()`), only without its content in the server HTML.
 */
export class RecentlySeen {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly ttlMs: number = KNOWN_TTL_MS,
    private readonly max: number = KNOWN_MAX,
    private readonly now: () => number = Date.now,
  ) {}

  has(key: string): boolean {
    const at = this.seen.get(key);
    if (at === undefined) return false;
    if (this.now() - at < this.ttlMs) return true;
    this.seen.delete(key);
    return false;
  }

  add(key: string): void {
    this.seen.delete(key);
    this.seen.set(key, this.now());
    if (this.seen.size > this.max) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
  }
}

const known = new RecentlySeen();

async function exists(kind: "products" | "orders", id: number, request: NextRequest): Promise<boolean> {
  const key = `${kind}/${id}`;
  if (known.has(key)) return true;
  const answer = await askBff(kind, id, request);
  if (answer === "found") known.add(key);
  return answer !== "missing"; // when the BFF cannot tell, the page renders and says so
}

async function askBff(
  kind: "products" | "orders",
  id: number,
  request: NextRequest,
): Promise<"found" | "missing" | "unknown"> {
  let base: string;
  try {
    base = bffUrl();
  } catch (err) {
    if (err instanceof ConfigError) return "unknown"; // the page reports the configuration problem
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
  if (result.ok) return "found";
  return result.status === 404 ? "missing" : "unknown";
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
