import "server-only";

import { bffUrl, ConfigError } from "./env";
import { isProblem, isRecord, makeProblem, newRequestId, REQUEST_ID_HEADER, type Problem } from "./problem";

/** Typed server-side client for the BFF's catalog API. */

export const PAGE_SIZE = 20;
const TIMEOUT_MS = 5_000;

export type CatalogItem = {
  id: number;
  name: string;
  slug: string;
  description: string;
  /** Decimal string, e.g. "12.50". */
  price: string;
  currency: string;
  stock: number;
  created_at: string;
};

export type ItemPage = {
  items: CatalogItem[];
  page: number;
  page_size: number;
  total: number;
  pages: number;
};

export type BffResult<T> =
  | { ok: true; data: T; requestId: string }
  | { ok: false; problem: Problem; requestId: string };

function isInt(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value);
}

function isCatalogItem(value: unknown): value is CatalogItem {
  return (
    isRecord(value) &&
    isInt(value["id"]) &&
    typeof value["name"] === "string" &&
    typeof value["slug"] === "string" &&
    typeof value["description"] === "string" &&
    typeof value["price"] === "string" &&
    typeof value["currency"] === "string" &&
    isInt(value["stock"]) &&
    typeof value["created_at"] === "string"
  );
}

export function isItemPage(value: unknown): value is ItemPage {
  return (
    isRecord(value) &&
    Array.isArray(value["items"]) &&
    value["items"].every(isCatalogItem) &&
    isInt(value["page"]) &&
    isInt(value["page_size"]) &&
    isInt(value["total"]) &&
    isInt(value["pages"])
  );
}

async function getJson<T>(
  path: string,
  params: URLSearchParams,
  guard: (value: unknown) => value is T,
): Promise<BffResult<T>> {
  const requestId = newRequestId();
  const fail = (problem: Problem): BffResult<T> => ({ ok: false, problem, requestId });

  let url: string;
  try {
    url = `${bffUrl()}${path}?${params.toString()}`;
  } catch (err) {
    if (err instanceof ConfigError) console.error(err.message);
    return fail(makeProblem(500, "Misconfigured", "The catalog service address is not configured correctly."));
  }

  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: "application/json", [REQUEST_ID_HEADER]: requestId },
      cache: "no-store",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = err instanceof Error && err.name === "TimeoutError";
    console.error(`BFF ${path} failed (request ${requestId}):`, err);
    return fail(
      timedOut
        ? makeProblem(504, "Gateway Timeout", "The catalog service took too long to answer.")
        : makeProblem(502, "Bad Gateway", "The catalog service could not be reached."),
    );
  }

  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }

  if (!res.ok) {
    return fail(isProblem(body) ? body : makeProblem(res.status, res.statusText || "Error", `The catalog service answered ${res.status}.`));
  }
  if (!guard(body)) {
    console.error(`BFF ${path} returned an unexpected shape (request ${requestId})`);
    return fail(makeProblem(502, "Bad Gateway", "The catalog service returned an unexpected response."));
  }
  return { ok: true, data: body, requestId };
}

export function listItems({ page, q }: { page: number; q?: string }): Promise<BffResult<ItemPage>> {
  const params = new URLSearchParams({ page: String(page), page_size: String(PAGE_SIZE) });
  if (q) params.set("q", q);
  return getJson("/api/catalog/items", params, isItemPage);
}
