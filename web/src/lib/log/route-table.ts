import "server-only";

import { readFileSync } from "node:fs";
import path from "node:path";

import { isProduction } from "../env";

/**
 * Route patterns for access records (`/products/7` -> `/products/[id]`), from the routes
 * manifest Next.js writes (`.next/routes-manifest.json`; `.next/dev/...` under `next dev`).
 * Paths no route matches are `unmatched`, so a scan of random URLs cannot grow the set of
 * route values.
 */

type Route = { pattern: string; regex: RegExp };
type Manifest = {
  staticRoutes?: { page?: unknown; regex?: unknown }[];
  dynamicRoutes?: { page?: unknown; regex?: unknown }[];
};

const RELOAD_MS = 5_000;

let routes: Route[] = [];
let loadedAt = -Infinity;
let exact = new Map<string, string>();

/** The routes manifest of this server (production build first, then `next dev`'s), or null. */
function readManifest(): Manifest | null {
  // Run-time reads of the server's own directory, kept out of the build's file tracing.
  for (const dir of [".next", ".next/dev"]) {
    try {
      return JSON.parse(readFileSync(/*turbopackIgnore: true*/ path.join(process.cwd(), dir, "routes-manifest.json"), "utf8")) as Manifest;
    } catch {
      // not built yet, or under next dev: try the next one
    }
  }
  return null;
}

function load(): void {
  const manifest = readManifest();
  if (!manifest) return;
  const next: Route[] = [];
  const statics = new Map<string, string>();
  for (const entry of manifest.staticRoutes ?? []) {
    if (typeof entry.page === "string") statics.set(entry.page, entry.page);
  }
  for (const entry of manifest.dynamicRoutes ?? []) {
    if (typeof entry.page !== "string" || typeof entry.regex !== "string") continue;
    try {
      next.push({ pattern: entry.page, regex: new RegExp(entry.regex) });
    } catch {
      // a pattern this engine cannot compile: that route reads as unmatched
    }
  }
  routes = next;
  exact = statics;
}

/** The route pattern of `pathname`: `/_next/static/[...path]` for assets, `unmatched` when none. */
export function routeOf(pathname: string): string {
  if (pathname.startsWith("/_next/static/")) return "/_next/static/[...path]";
  if (pathname.startsWith("/_next/")) return "/_next/[...path]";
  const now = Date.now();
  // next dev adds routes as it compiles them; a production manifest never changes.
  if (now - loadedAt > RELOAD_MS && (routes.length === 0 || !isProduction())) {
    loadedAt = now;
    load();
  }
  const trimmed = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  const known = exact.get(trimmed);
  if (known) return known;
  for (const route of routes) if (route.regex.test(pathname)) return route.pattern;
  if (pathname === "/api" || pathname.startsWith("/api/")) return "/api/[...path]";
  return "unmatched";
}
